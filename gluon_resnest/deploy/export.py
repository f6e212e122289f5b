"""Export a ResNeSt network to MXNet symbol/params, optionally with the preprocessing baked into the graph."""
import json
import os

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..data.constants import IMAGENET_MEAN, IMAGENET_STD
from ..models.factory import model_data_config
from ..utils.errors import mxnet_reason
from ..utils.fileio import atomic_write, write_error
from ..utils.publish import StagedFiles, check_stale, sha1_file
from .inference_graph import prepare_for_inference
from .meta_check import check_meta

__all__ = ["Preprocess", "WithPreprocess", "ExportMismatchError", "EXPORT_SUFFIXES", "MODEL_SUFFIXES",
           "ONNX_SUFFIXES", "INT8_SUFFIXES", "INT8_ONNX_SUFFIXES", "export_prefix", "export_model", "net_data_config",
           "write_export", "publish_export", "check_export_stale", "load_exported", "symbol_paths", "meta_path",
           "read_meta", "write_meta", "verify_files", "run_without_package"]

#: The files of an export at ``PREFIX`` (``PREFIX`` + suffix): always, with ONNX, with INT8, with INT8 and ONNX.
MODEL_SUFFIXES = ("-symbol.json", "-0000.params", "-meta.json")
ONNX_SUFFIXES = (".onnx",)
INT8_SUFFIXES = ("-int8-symbol.json", "-int8-0000.params", "-int8-meta.json")
INT8_ONNX_SUFFIXES = ("-int8.onnx",)

#: Every file an export may consist of; a new export replaces the whole set.
EXPORT_SUFFIXES = MODEL_SUFFIXES + ONNX_SUFFIXES + INT8_SUFFIXES + INT8_ONNX_SUFFIXES


def export_prefix(path):
    """The export prefix of ``path``: ``PREFIX`` for ``PREFIX.onnx``, and for ``PREFIX-int8.onnx`` when
    ``PREFIX-meta.json`` lists it (else that file is the ``.onnx`` of an export named ``PREFIX-int8``); ``path``
    itself for anything else."""
    if path.endswith(INT8_ONNX_SUFFIXES[0]):
        base = path[:-len(INT8_ONNX_SUFFIXES[0])]
        if os.path.basename(path) in (read_meta(base) or {}).get("files", {}):
            return base
    return path[:-len(ONNX_SUFFIXES[0])] if path.endswith(ONNX_SUFFIXES[0]) else path


class ExportMismatchError(ValueError):
    """The files at an export prefix are not the set its ``-meta.json`` manifest lists."""


class Preprocess(HybridBlock):
    """uint8/float ``(N, H, W, 3)`` RGB in 0..255 -> normalized float32 ``(N, 3, H, W)``."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            scale = [1.0 / (255.0 * s) for s in std]
            shift = [-m / s for m, s in zip(mean, std)]
            self.scale = self.params.get_constant("scale", mx.nd.array(scale).reshape((1, 3, 1, 1)))
            self.shift = self.params.get_constant("shift", mx.nd.array(shift).reshape((1, 3, 1, 1)))

    def hybrid_forward(self, F, x, scale, shift):
        x = F.transpose(F.cast(x, "float32"), axes=(0, 3, 1, 2))
        return F.broadcast_add(F.broadcast_mul(x, scale), shift)


class WithPreprocess(HybridBlock):
    """``net`` preceded by :class:`Preprocess`: input ``(N, H, W, 3)`` 0..255, output as ``net``."""

    def __init__(self, net, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(prefix="", **kwargs)
        self.preprocess = Preprocess(mean, std, prefix="preprocess_")
        self.net = net

    def hybrid_forward(self, F, x):
        return self.net(self.preprocess(x))


def symbol_paths(prefix, epoch=0):
    """``(prefix-symbol.json, prefix-NNNN.params)``."""
    return "%s-symbol.json" % prefix, "%s-%04d.params" % (prefix, epoch)


def meta_path(prefix):
    return "%s-meta.json" % prefix


def _manifest(prefix):
    """``{base name: sha1}`` of the files beside ``prefix`` whose names start with its base name (the meta itself
    excluded): for ``out/r50`` that is ``r50-symbol.json``, ``r50.onnx``, ``r50-int8-0000.params``, ..."""
    directory, base = os.path.split(os.path.abspath(prefix))
    own = os.path.basename(meta_path(prefix))
    return {name: sha1_file(os.path.join(directory, name)) for name in sorted(os.listdir(directory))
            if name.startswith(base) and name != own and os.path.isfile(os.path.join(directory, name))}


def write_meta(prefix, meta):
    """Write ``{prefix}-meta.json`` atomically: the export's description (input layout/shape/dtype, normalization,
    class names) plus ``files``, the manifest of every file of the export written so far with its sha1. Write it
    after the files it lists."""
    atomic_write(meta_path(prefix), dict(meta, files=_manifest(prefix)))


def verify_files(prefix, meta, required=()):
    """Raise :class:`ExportMismatchError` unless every file in ``meta["files"]`` exists beside ``prefix`` with the
    listed sha1 (a set mixed from two exports, or changed since) and every path in ``required`` is listed."""
    listed = meta.get("files")
    if not listed:
        raise ExportMismatchError("%s lists no files (written by an older gluon_resnest); export again"
                                  % meta_path(prefix))
    directory = os.path.dirname(os.path.abspath(prefix))
    for path in required:
        if os.path.basename(path) not in listed:
            raise ExportMismatchError("%s is not part of the export described by %s; export again with the "
                                      "option that writes it" % (path, meta_path(prefix)))
    for name, sha1 in sorted(listed.items()):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise ExportMismatchError("%s is missing but listed in %s; the export is incomplete, export again"
                                      % (path, meta_path(prefix)))
        if sha1_file(path) != sha1:
            raise ExportMismatchError("%s does not match the sha1 listed in %s: the files at %s come from different "
                                      "exports; export again" % (path, meta_path(prefix), prefix))


def check_export_stale(prefix, suffixes, force=False):
    """Before an export that will write ``prefix`` + each of ``suffixes``: :class:`StaleFilesError` naming the files
    of an earlier export it would leave behind, unless ``force`` (then :func:`publish_export` removes them)."""
    check_stale([prefix + s for s in EXPORT_SUFFIXES], [prefix + s for s in suffixes], force)


def publish_export(stage, force=False):
    """Publish the export staged in ``stage`` (:class:`~gluon_resnest.utils.publish.StagedFiles`), its meta last;
    files of an earlier export at the prefix that this one lacks are removed with ``force``, else refused."""
    owned = [stage.final_prefix + suffix for suffix in EXPORT_SUFFIXES]
    return stage.publish(os.path.basename(meta_path(stage.prefix)), owned, force)


def read_meta(prefix):
    """The export's metadata dict, or ``None`` when ``{prefix}-meta.json`` does not exist; ``ValueError`` naming
    the file when it is not valid JSON or a field readers use is missing or unusable
    (:func:`~gluon_resnest.deploy.meta_check.check_meta`)."""
    if not os.path.isfile(meta_path(prefix)):
        return None
    with open(meta_path(prefix)) as handle:
        try:
            meta = json.load(handle)
        except ValueError as err:
            raise ValueError("%s is not valid JSON (%s); export again" % (meta_path(prefix), err)) from None
    return check_meta(meta, meta_path(prefix))


def export_model(net, prefix, input_size=None, batch_size=1, preprocess=False, ctx=mx.cpu(), class_names=None,
                 fuse=False, force=False, data_config=None):
    """Export ``net`` to ``{prefix}-symbol.json``, ``{prefix}-0000.params`` and ``{prefix}-meta.json``, published as
    one unit (:func:`write_export` into a staging folder, then :func:`publish_export` with ``force``).
    ``data_config`` (default: the data config of the net's variant at ``input_size``, see :func:`net_data_config`)
    sets the input size and is recorded in the meta. Returns ``(symbol path, params path, input shape)``.
    """
    data_config = data_config or net_data_config(net, input_size)
    with StagedFiles(prefix) as stage:
        shape, meta = write_export(net, stage.prefix, data_config, batch_size, preprocess, ctx, class_names, fuse)
        write_meta(stage.prefix, meta)
        publish_export(stage, force)
    sym, params = symbol_paths(prefix)
    return sym, params, shape


def net_data_config(net, input_size=None):
    """The evaluation data config of the variant ``net`` was built as (``net.model_name``, set by
    :func:`~gluon_resnest.models.factory.get_model`), at ``input_size`` when given."""
    name = getattr(net, "model_name", None)
    if name is None:
        raise ValueError("the network has no model_name, so its data config is unknown: pass data_config")
    return model_data_config(name, input_size=input_size)


def write_export(net, prefix, data_config, batch_size=1, preprocess=False, ctx=mx.cpu(), class_names=None,
                 fuse=False):
    """Trace ``net`` for inference at ``data_config.input_size`` and write ``{prefix}-symbol.json`` and
    ``{prefix}-0000.params``.

    The network is switched to its inference graph first
    (:func:`~gluon_resnest.deploy.inference_graph.prepare_for_inference`). ``preprocess=True`` bakes
    :class:`Preprocess` (with the config's mean/std) in, so the export takes uint8 NHWC ``(N, S, S, 3)`` images.
    ``fuse=True`` exports the oneDNN-fused CPU graph (see :func:`~gluon_resnest.deploy.inference_graph.fuse_for_cpu`;
    not for ONNX). Returns ``(input shape, meta)``: the description (input layout, shape and dtype, the whole data
    config, class names) that :func:`write_meta` turns into ``{prefix}-meta.json``.
    """
    size = data_config.input_size
    prepare_for_inference(net)
    block = net
    if preprocess:
        block = WithPreprocess(net, data_config.mean, data_config.std)
        block.preprocess.initialize(ctx=ctx)
        shape = (batch_size, size, size, 3)
        data = mx.nd.zeros(shape, ctx=ctx, dtype="uint8")
    else:
        shape = (batch_size, 3, size, size)
        data = mx.nd.zeros(shape, ctx=ctx)
    if fuse:
        block.optimize_for(data, backend="MKLDNN", static_alloc=True, static_shape=True)
    else:
        block.hybridize(static_alloc=True, static_shape=True)
    block(data)
    try:
        block.export(prefix)
    except (OSError, mx.base.MXNetError) as err:
        raise write_error("%s-symbol.json/-0000.params" % prefix, err) from None
    return shape, {"model": getattr(net, "model_name", None), "input_shape": list(shape),
                   "layout": "NHWC" if preprocess else "NCHW", "dtype": "uint8" if preprocess else "float32",
                   "preprocessed": bool(preprocess), "data_config": data_config.as_dict(),
                   "num_classes": getattr(net, "num_classes", None),
                   "class_names": class_names or getattr(net, "classes", None), "fused": bool(fuse)}


def load_exported(prefix, ctx=mx.cpu(), dtype="float32", input_name="data"):
    """Load ``{prefix}-symbol.json``/``-0000.params`` as a ``SymbolBlock`` whose input ``input_name`` has
    ``dtype`` (float32, or uint8 for an export with baked preprocessing), with clear errors for a bad pair."""
    sym_path, params_path = symbol_paths(prefix)
    for path in (sym_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError("exported model file %s is missing (expected %s and %s)"
                                    % (path, sym_path, params_path))
    try:
        block = mx.gluon.SymbolBlock(mx.sym.load(sym_path), [mx.sym.var(input_name, dtype=dtype)])
        block.collect_params().load(params_path, ctx, cast_dtype=True, dtype_source="saved")
        return block
    except (AssertionError, mx.base.MXNetError, ValueError) as err:
        raise ValueError("%s and %s are not a matching symbol/params pair: %s"
                         % (sym_path, params_path, mxnet_reason(err))) from None


def run_without_package(prefix, data, workdir):
    """Outputs of the export on ``data`` from ``SymbolBlock.imports`` and ``mx.mod.Module`` in a fresh Python
    process that never imports gluon_resnest (:mod:`gluon_resnest.deploy.standalone_reload`, run as a script);
    returns ``{"symbolblock": array, "module": array}``."""
    import subprocess
    import sys

    import numpy as np

    from . import standalone_reload

    inp = os.path.join(workdir, "standalone-input.npy")
    out = os.path.join(workdir, "standalone")
    np.save(inp, data)
    env = dict(os.environ, PYTHONPATH="")
    result = subprocess.run([sys.executable, "-P", standalone_reload.__file__, os.path.abspath(prefix), inp, out],
                            cwd=workdir, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError("loading %s without gluon_resnest failed:\n%s" % (prefix, result.stderr[-3000:]))
    return {kind: np.load("%s-%s.npy" % (out, kind)) for kind in ("symbolblock", "module")}
