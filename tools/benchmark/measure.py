"""Throughput, latency and memory of ResNeSt implementations, measured the same way in one run.

Candidates: ours (hybridized with static memory), ours oneDNN-fused, GluonCV's implementation with the same weights
(in this process, so with the same MXNet runtime settings), and in child processes the PyTorch reference (timm,
else the official package) in each of its configurations (:mod:`.torch_peers`, one process each), GluonCV as a
user gets it (MXNet's default thread count), ours INT8 (MXNet oneDNN, one
process per batch size, in which no other network ran, as in a deployment) and the :data:`RUNTIME_KINDS` on our
ONNX export (when installed): onnxruntime, OpenVINO float32 and bf16, our INT8 ONNX export run by OpenVINO, and
OpenVINO's own INT8 (NNCF) of our float32 export, and that export as ``scripts/predict.py`` runs it by default.
Each figure is the median of ``repeat`` timed runs after ``warmup`` untimed ones. Every row states its
``precision`` (:mod:`.precisions`); rows measured in MXNet also the ``units`` that ran them (:func:`mxnet_units`).
"""
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import mxnet as mx
import numpy as np

from gluon_resnest.deploy.inference_graph import fuse_for_cpu, prepare_for_inference
from gluon_resnest.interop.gluoncv import GLUONCV_NAMES, gluoncv_original
from gluon_resnest.models.factory import get_model
from gluon_resnest.nn import copy_parameters
from gluon_resnest.utils.cpu_runtime import cpu_runtime

from ..interpreters import reference_python, side_python, tools_env
from .precisions import impl_precision
from .torch_peers import TORCH_CONFIGS, failed_row, reference_source

__all__ = ["RUNTIME_KINDS", "OPENVINO_PRECISIONS", "NNCF_PYTHON_ENV", "runtime_kinds", "runtime_rows", "runtime_files",
           "openvino_layer_profile", "int8_profiles",
           "calibration_batches", "nncf_python", "nncf_ir", "median_seconds", "inference_row", "training_row",
           "mxnet_units", "run_child", "measure_in_child", "torch_rows", "benchmark", "int8_net", "operator_profile",
           "training_profile", "import_order_rows", "result_row", "random_net", "gluoncv_twin", "hybrid"]

#: Runtimes measured on our float32 ONNX export, each in a child process (see :func:`runtime_kinds`):
#: onnxruntime, OpenVINO at float32 and bf16; ``ours-int8-openvino`` is our INT8 ONNX export
#: (:func:`~gluon_resnest.deploy.int8_onnx.quantize_onnx`) run by OpenVINO, as ``scripts/predict.py --runtime
#: openvino`` runs it; ``openvino-int8`` is OpenVINO's own post-training quantization (NNCF, in the
#: :func:`nncf_python` interpreter) as an OpenVINO IR.
#: ``predict-default`` is what ``scripts/predict.py`` and ``ExportedClassifier`` run by default on an export with
#: that ONNX file (the row names the runtime they chose).
RUNTIME_KINDS = ("onnxruntime", "openvino-f32", "openvino-bf16", "ours-int8-openvino", "openvino-int8",
                 "predict-default")

#: OpenVINO's inference precision per OpenVINO kind (float32 for the non-quantized parts of our INT8 export);
#: ``openvino-int8``, absent, keeps OpenVINO's default.
OPENVINO_PRECISIONS = {"openvino-f32": "f32", "openvino-bf16": "bf16", "ours-int8-openvino": "f32"}

#: An interpreter with OpenVINO and NNCF, which needs numpy >= 1.24 and so cannot share MXNet's environment.
NNCF_PYTHON_ENV = "GLUON_RESNEST_NNCF_PYTHON"


def median_seconds(fn, warmup=2, repeat=5):
    """Median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def _peak_rss_mb():
    """Peak resident memory of this process (VmHWM, which, unlike ru_maxrss, restarts at exec)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def result_row(impl, mode, batch, size, seconds, precision=None):
    """A measured row; ``precision`` defaults to the one the ``impl`` name says
    (:func:`~tools.benchmark.precisions.impl_precision`)."""
    return {"impl": impl, "mode": mode, "batch": batch, "size": size, "img_per_s": batch / seconds,
            "latency_ms": 1000 * seconds, "peak_rss_mb": _peak_rss_mb(),
            "precision": precision or impl_precision(impl)}


def mxnet_units(precision):
    """What runs MXNet's oneDNN kernels of ``precision`` in this process (:func:`gluon_resnest.cpu_runtime`): for
    fp32 the vector extension of the ISA oneDNN dispatches to (``AVX512``, ``AVX2``: AMX has no fp32), for bf16
    and int8 the units it names (``AMX``, ``AVX512_BF16``, ``AVX512_VNNI``, ...)."""
    runtime = cpu_runtime()
    fp32 = "AVX512" if runtime.isa.startswith("avx512") else runtime.isa.upper()
    return {"fp32": fp32, "bf16": runtime.bf16, "int8": runtime.int8}[precision]


def _mxnet_row(row):
    row.update(framework="mxnet", units=mxnet_units(row["precision"]))
    return row


def inference_row(impl, block, batch, size, warmup, repeat):
    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    seconds = median_seconds(lambda: block(x).wait_to_read(), warmup, repeat)
    return _mxnet_row(result_row(impl, "inference", batch, size, seconds))


def training_row(impl, net, batch, size, warmup, repeat):
    """Forward + backward + NAG update of a hybridized network on a random batch."""
    return _mxnet_row(result_row(impl, "train", batch, size, median_seconds(_training_step(net, batch, size), warmup,
                                                                             repeat)))


def _training_step(net, batch, size):
    """One training step of ``net`` on a fixed random batch: softmax cross-entropy, backward, NAG (momentum 0.9)."""
    from mxnet import autograd

    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    y = mx.nd.array(np.arange(batch) % 1000)
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), "nag", {"learning_rate": 1e-4, "momentum": 0.9})

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
        mx.nd.waitall()

    return step


def operator_profile(name, batch=8, size=224, runs=3, int8=False):
    """MXNet profiler's per-operator totals (ms) for ``runs`` forwards of the oneDNN-fused inference graph (with
    ``int8``, of our INT8 model, :func:`int8_net`).

    Operators are timed one by one (inference bulking off while the graph is built), so the totals add up to
    slightly more than a normal forward. Returns the profiler's aggregate table as text.
    """
    with _unbulked("MXNET_EXEC_BULK_EXEC_INFERENCE"):
        shape = (batch, 3, size, size)
        net = int8_net(name, random_net(name), batch, size) if int8 else fuse_for_cpu(random_net(name), shape)
        x = mx.nd.random.uniform(-1, 1, shape=shape)
        for _ in range(2):
            net(x).wait_to_read()
    return _profile(lambda: net(x).wait_to_read(), runs)


def training_profile(name, batch=8, size=224, runs=3):
    """MXNet profiler's per-operator totals (ms) for ``runs`` of :func:`training_row`'s step (forward, backward
    and NAG update of the hybridized network), operators timed one by one (training bulking off)."""
    with _unbulked("MXNET_EXEC_BULK_EXEC_TRAIN"):
        step = _training_step(hybrid(random_net(name)), batch, size)
        for _ in range(2):
            step()
    return _profile(step, runs)


@contextlib.contextmanager
def _unbulked(variable):
    """Graphs built inside run one engine operation per operator (MXNet's ``variable`` set to 0)."""
    previous = os.environ.get(variable)
    os.environ[variable] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[variable]
        else:
            os.environ[variable] = previous


def _profile(fn, runs):
    """The MXNet profiler's aggregate table (text) for ``runs`` calls of ``fn``."""
    trace_dir = tempfile.mkdtemp(prefix="resnest-profile-")
    try:
        mx.profiler.set_config(profile_imperative=True, profile_symbolic=True, aggregate_stats=True,
                               filename=os.path.join(trace_dir, "trace.json"))
        mx.profiler.set_state("run")
        for _ in range(runs):
            fn()
        mx.profiler.set_state("stop")
        return mx.profiler.dumps(reset=True)
    finally:
        shutil.rmtree(trace_dir, ignore_errors=True)


def gluoncv_twin(name, source):
    model = gluoncv_original(name)()
    model.initialize()
    return copy_parameters(source, model)


def random_net(name):
    net = get_model(name)
    net.initialize(mx.init.Xavier())
    return net


def int8_net(name, net, batch, size):
    """``net`` quantized for ``(batch, 3, size, size)`` input, calibrated on two random batches."""
    from gluon_resnest.deploy.int8 import quantize_model

    calib = [(mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size)), None) for _ in range(2)]
    return quantize_model(net, calib, (batch, 3, size, size), "naive", 2)


def nncf_python():
    """The interpreter that runs NNCF: ``$GLUON_RESNEST_NNCF_PYTHON``, else the checkout's ``.venv-nncf``
    (``scripts/setup_env.sh --with-nncf``); None when neither exists."""
    return side_python(NNCF_PYTHON_ENV, ".venv-nncf")


def runtime_kinds():
    """The :data:`RUNTIME_KINDS` this machine can run, in that order: OpenVINO's only when installed, its bf16 only
    on a CPU with native bf16 support, ``openvino-int8`` only with an NNCF interpreter (:func:`nncf_python`). One
    line on stderr per reason a kind is missing."""
    from gluon_resnest.deploy.openvino_runtime import OpenVinoUnavailable, check_bf16_support, import_openvino

    kinds = {"onnxruntime", "predict-default"}
    reasons = {}
    try:
        import_openvino()
        kinds |= {"openvino-f32", "ours-int8-openvino"}
        if nncf_python() is None:
            reasons["openvino-int8"] = "no NNCF interpreter: set %s or run scripts/setup_env.sh --with-nncf" \
                % NNCF_PYTHON_ENV
        else:
            kinds.add("openvino-int8")
        check_bf16_support()
        kinds.add("openvino-bf16")
    except OpenVinoUnavailable as err:
        reasons.update((kind, str(err)) for kind in RUNTIME_KINDS if kind not in kinds and kind not in reasons)
    for reason in dict.fromkeys(reasons.values()):
        sys.stderr.write("benchmark: skipping %s: %s\n" % (
            ", ".join(kind for kind in RUNTIME_KINDS if reasons.get(kind) == reason), reason))
    return [kind for kind in RUNTIME_KINDS if kind in kinds]


def runtime_rows(name, batches, size, warmup, repeat):
    """Our export of a random ``name`` as ONNX (dynamic batch), run by each of :func:`runtime_kinds` in a child
    process, on the files of :func:`runtime_files`."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="resnest-bench-") as work:
        for kind, path in runtime_files(name, size, work, runtime_kinds()).items():
            rows += measure_in_child(kind, name, batches, size, warmup, repeat, extra=["--model-file", path])
    return rows


def runtime_files(name, size, work, kinds):
    """``{kind: model file}`` in folder ``work`` for each of ``kinds`` (:data:`RUNTIME_KINDS`) that could be made:
    ``ours-int8-openvino`` runs our INT8 ONNX export of a random ``name``, ``openvino-int8`` NNCF's INT8 IR of it
    (both calibrated on :func:`calibration_batches`), ``predict-default`` the export prefix (symbol/params and that
    ONNX file, as ``scripts/export.py --onnx`` writes), the others its float32 ONNX export."""
    from gluon_resnest.deploy.export import export_description, net_data_config, symbol_paths, write_symbol
    from gluon_resnest.deploy.export_files import Export, ExportWriter
    from gluon_resnest.deploy.int8_onnx import quantize_onnx
    from gluon_resnest.deploy.onnx_export import export_onnx

    prefix = os.path.join(work, name)
    net = random_net(name)
    data_config = net_data_config(net, size)
    with ExportWriter(prefix, ("symbol", "onnx")) as writer:
        shape = write_symbol(net, writer.staged_prefix("symbol"), data_config)
        writer.add("symbol", shape[0])
        export_onnx(*symbol_paths(writer.staged_prefix("symbol")), writer.staged_path("onnx"), shape)
        writer.add("onnx", None)
        writer.publish(**export_description(net, data_config))
    onnx_path = Export.open(prefix).files("onnx")[0]
    calib = calibration_batches(size)
    files = {}
    for kind in kinds:
        if kind == "predict-default":
            files[kind] = prefix
        elif kind == "ours-int8-openvino":
            files[kind] = quantize_onnx(onnx_path, os.path.join(work, name + "-int8.onnx"), calib)
        elif kind == "openvino-int8":
            files[kind] = nncf_ir(onnx_path, os.path.join(work, name + "-nncf.xml"), calib)
        else:
            files[kind] = onnx_path
    return {kind: path for kind, path in files.items() if path}


def openvino_layer_profile(model_file, precision, batch=8, size=224, runs=3):
    """OpenVINO's per-layer counters for ``model_file`` at ``precision`` and ``(batch, 3, size, size)`` input:
    text lines ``ms per forward, layers, node type, implementation``, grouped by node type and implementation,
    largest first (averaged over ``runs`` forwards after two untimed ones)."""
    from gluon_resnest.deploy.openvino_runtime import compile_onnx
    from gluon_resnest.utils.threads import available_cpus

    compiled = compile_onnx(model_file, precision, batch, available_cpus(), layer_counters=True)
    request = compiled.create_infer_request()
    x = np.random.RandomState(0).uniform(-1, 1, (batch, 3, size, size)).astype("float32")
    for _ in range(2):
        request.infer([x])
    totals, counts = {}, {}
    for _ in range(runs):
        request.infer([x])
        for layer in request.profiling_info:
            key = (layer.node_type, layer.exec_type)
            totals[key] = totals.get(key, 0.0) + layer.real_time.total_seconds() * 1e3 / runs
            counts[key] = counts.get(key, 0) + 1
    lines = ["%9s  %6s  %s" % ("ms/forward", "layers", "node type / implementation")]
    for key, total in sorted(totals.items(), key=lambda item: -item[1]):
        if total >= 0.05:
            lines.append("%9.2f  %6d  %s / %s" % (total, counts[key] // runs, key[0], key[1]))
    lines.append("%9.2f  %6s  total" % (sum(totals.values()), ""))
    return "\n".join(lines)


def int8_profiles(name, batch=8, size=224, runs=3):
    """Where INT8 inference time goes for a random ``name``: OpenVINO's per-layer counters on our INT8 ONNX export
    and on OpenVINO's own INT8 (NNCF, when its interpreter exists) of our float32 export, then MXNet's profiler on
    our oneDNN INT8 model; returns ``[(title, text)]``."""
    available = runtime_kinds()
    kinds = [kind for kind in ("ours-int8-openvino", "openvino-int8") if kind in available]
    profiles = []
    with tempfile.TemporaryDirectory(prefix="resnest-profile-") as work:
        for kind, path in runtime_files(name, size, work, kinds).items():
            profiles.append((kind, openvino_layer_profile(path, OPENVINO_PRECISIONS.get(kind), batch, size, runs)))
    profiles.append(("ours-int8", operator_profile(name, batch, size, runs, int8=True)))
    return profiles


def calibration_batches(size, count=4):
    """The INT8 runtimes' calibration inputs: ``count`` seeded random float32 ``(1, 3, size, size)`` arrays."""
    rng = np.random.RandomState(0)
    return [rng.uniform(-1, 1, (1, 3, size, size)).astype("float32") for _ in range(count)]


def nncf_ir(onnx_path, out_path, batches):
    """``onnx_path`` quantized to INT8 by NNCF (:mod:`tools.benchmark.nncf_quantize` run by
    :func:`nncf_python`), calibrated on ``batches`` (equal-shape float32 arrays); returns ``out_path``, an OpenVINO
    IR ``.xml`` next to its ``.bin``, or None with a note on stderr when the quantization failed."""
    from . import nncf_quantize

    calib = os.path.splitext(out_path)[0] + "-calib.npy"
    np.save(calib, np.stack(batches))
    result = subprocess.run([nncf_python(), "-P", nncf_quantize.__file__, onnx_path, calib, out_path],
                            capture_output=True, text=True)
    if result.returncode == 0 and os.path.isfile(out_path):
        return out_path
    sys.stderr.write("benchmark: NNCF quantization failed:\n%s\n" % result.stderr[-2000:])
    return None


def run_child(args, env=None, timeout=None):
    """Run ``args`` (a :mod:`tools.benchmark.child` command line) in its own process group with :func:`tools_env`
    of ``env``: ``(rows, None)`` with the rows it printed as ``ROWS <json>``, or ``(None, reason)`` (one line) when
    it printed none, died or outlived ``timeout`` seconds. Whatever of its process group outlives it (compiler
    workers) is killed, and so is the group when this process is interrupted."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tools_env(env),
                             start_new_session=True)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child.pid)
        child.communicate()
        return None, "timed out after %d s" % timeout
    except BaseException:
        _kill_group(child.pid)
        child.communicate()
        raise
    _kill_group(child.pid)
    for line in stdout.splitlines():
        if line.startswith("ROWS "):
            return json.loads(line[5:]), None
    if child.returncode < 0:
        return None, "killed by %s" % signal.Signals(-child.returncode).name
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return None, "exit %d: %s" % (child.returncode, lines[-1] if lines else "no output")


def _kill_group(group):
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _child_args(kind, name, batches, size, warmup, repeat, train_batch, extra):
    python = reference_python() if kind == "torch" else sys.executable
    return [python, "-m", "tools.benchmark.child", kind, name, "--batches"] + \
        [str(b) for b in batches] + ["--size", str(size), "--warmup", str(warmup), "--repeat", str(repeat),
                                     "--train-batch", str(train_batch)] + list(extra)


def measure_in_child(kind, name, batches, size, warmup, repeat, env=None, train_batch=0, extra=()):
    """Run :mod:`tools.benchmark.child` in a fresh interpreter (for ``torch``, the one with the PyTorch
    references, :func:`~tools.interpreters.reference_python`); returns its rows (empty with a
    note on failure)."""
    args = _child_args(kind, name, batches, size, warmup, repeat, train_batch, extra)
    result = subprocess.run(args, capture_output=True, text=True, env=tools_env(env))
    return _rows_from_output(result, kind)


def torch_rows(name, configs, batches, size, warmup, repeat, train_batch=0, compile_cache="", timeout=None):
    """The PyTorch reference's rows (:mod:`tools.benchmark.torch_peers`) in each of ``configs`` (names of
    :data:`~tools.benchmark.torch_peers.TORCH_CONFIGS`), each configuration in its own child interpreter. When one
    of them compiles, the children keep inductor's files in ``compile_cache`` (created if missing; empty: a
    temporary folder removed afterwards) as ``TORCHINDUCTOR_CACHE_DIR`` and ``TMPDIR`` (where inductor puts its
    precompiled headers). A configuration whose child fails or outlives ``timeout`` seconds gives rows saying
    why."""
    source = reference_source(name)
    runs = [("inference", batch) for batch in batches] + ([("train", train_batch)] if train_batch else [])
    rows = []
    compiles = any(TORCH_CONFIGS[config].compile for config in configs)
    with (_compile_cache_dir(compile_cache) if compiles else contextlib.nullcontext()) as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache, TMPDIR=cache) if cache else None
        for config in configs:
            args = _child_args("torch", name, batches, size, warmup, repeat, train_batch,
                               ["--torch-config", config])
            got, reason = run_child(args, env, timeout)
            rows += got if got is not None else [
                failed_row(TORCH_CONFIGS[config].impl(source), mode, batch, size, reason, framework="pytorch",
                           source=source, config=config, precision=TORCH_CONFIGS[config].precision)
                for mode, batch in runs]
    return rows


@contextlib.contextmanager
def _compile_cache_dir(path):
    """``path`` (made if missing) as an absolute path, or with ``path`` empty a temporary folder removed on exit."""
    if path:
        os.makedirs(path, exist_ok=True)
        yield os.path.abspath(path)
        return
    with tempfile.TemporaryDirectory(prefix="resnest-torch-compile-") as work:
        yield work


def _rows_from_output(result, what):
    """The rows a child printed as ``ROWS <json>``; an empty list with a note on stderr if it printed none."""
    for line in result.stdout.splitlines():
        if line.startswith("ROWS "):
            return json.loads(line[5:])
    sys.stderr.write("benchmark child %s failed:\n%s\n" % (what, result.stderr[-2000:]))
    return []


def import_order_rows(name, batch=8, size=224, repeat=5, warmup=2):
    """Inference rows of ``name`` with ``mxnet`` imported before and after gluon_resnest, each in a fresh
    interpreter without ``OMP_NUM_THREADS`` (:mod:`tools.benchmark.import_order`)."""
    from . import import_order

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GLUON_RESNEST_KEEP_THREADS")}
    rows = []
    for order in ("mxnet-first", "ours-first"):
        result = subprocess.run([sys.executable, "-P", import_order.__file__, order, name, str(batch), str(size),
                                 str(repeat), str(warmup)], capture_output=True, text=True, env=tools_env(env))
        rows += _rows_from_output(result, "import order " + order)
    return rows


def benchmark(name, size=224, batches=(1, 8), train_batch=8, warmup=2, repeat=5, gluoncv=True, torch=True,
              int8=True, train=True, runtimes=True, torch_configs=tuple(TORCH_CONFIGS), torch_compile_cache="",
              torch_timeout=None, bf16=True):
    """All measurements for one variant; returns a list of row dicts (see the module docstring). The PyTorch
    rows: :func:`torch_rows` of ``torch_configs``, ``torch_compile_cache`` and ``torch_timeout``. ``bf16``: our
    bfloat16 rows (:func:`bf16_net` inference, the ``--dtype bfloat16`` training step), where oneDNN has bf16
    units."""
    rows = []
    net = random_net(name)
    twin = gluoncv_twin(name, net) if gluoncv and name in GLUONCV_NAMES else None
    hybrid(net)
    for batch in batches:
        rows.append(inference_row("ours", net, batch, size, warmup, repeat))
    if twin is not None:
        hybrid(twin)
        for batch in batches:
            rows.append(inference_row("gluoncv", twin, batch, size, warmup, repeat))
    for batch in batches:
        fused = random_net(name)
        rows.append(inference_row("ours-fused", fuse_for_cpu(fused, (batch, 3, size, size)), batch, size, warmup,
                                  repeat))
    if bf16:
        for batch in batches:
            rows.append(inference_row("ours-bf16", bf16_net(random_net(name), batch, size), batch, size, warmup,
                                      repeat))
    if int8:
        for batch in batches:
            rows += measure_in_child("ours-int8", name, [batch], size, warmup, repeat)
    if train:
        rows.append(training_row("ours", hybrid(random_net(name)), train_batch, size, warmup, repeat))
        if bf16:
            rows += measure_in_child("ours-bf16", name, [1], size, warmup, repeat, train_batch=train_batch)
        if twin is not None:
            rows.append(training_row("gluoncv", hybrid(gluoncv_twin(name, random_net(name))), train_batch, size,
                                     warmup, repeat))
    if runtimes:
        rows += runtime_rows(name, batches, size, warmup, repeat)
    if torch:
        rows += torch_rows(name, torch_configs, batches, size, warmup, repeat, train_batch if train else 0,
                           torch_compile_cache, torch_timeout)
    if gluoncv and twin is not None:
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        env["GLUON_RESNEST_KEEP_THREADS"] = "1"
        rows += measure_in_child("gluoncv-default", name, batches, size, warmup, repeat, env,
                                 train_batch if train else 0)
    for row in rows:
        row["model"] = name
    return rows


def bf16_net(net, batch, size):
    """``net``'s inference graph converted to bfloat16 by MXNet's AMP, as the export's bf16 member holds it."""
    from gluon_resnest.deploy.export import to_bfloat16

    data = mx.nd.zeros((batch, 3, size, size))
    hybrid(prepare_for_inference(net))(data)
    return to_bfloat16(net, data)


def hybrid(net):
    net.hybridize(static_alloc=True, static_shape=True)
    return net
