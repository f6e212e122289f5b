"""An export's file set: the paths that name it and its members, the manifest's records and checks, staging and
publishing, and manifests written by gluon_resnest 0.2."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.export import export_description, export_model, write_symbol
from gluon_resnest.deploy.export_files import (MEMBER_KINDS, Export, ExportMismatchError, ExportMissing,
                                               ExportWriter, export_file_paths, meta_path)
from gluon_resnest.deploy.export_meta import ExportMeta, read_meta
from gluon_resnest.models.factory import model_data_config
from gluon_resnest.utils.publish import StaleFilesError


def _net(classes=1000):
    net = get_model("resnest14", classes=classes)
    net.initialize(mx.init.Xavier())
    return net


def test_member_file_names_come_from_tag_and_format():
    assert {name: kind.suffixes for name, kind in MEMBER_KINDS.items()} == {
        "symbol": ("-symbol.json", "-0000.params"), "onnx": (".onnx",),
        "int8": ("-int8-symbol.json", "-int8-0000.params"), "int8_onnx": ("-int8.onnx",),
        "bf16": ("-bf16-symbol.json", "-bf16-0000.params")}
    assert {name: kind.path_suffix for name, kind in MEMBER_KINDS.items()} == {
        "symbol": "", "onnx": ".onnx", "int8": "-int8", "int8_onnx": "-int8.onnx", "bf16": "-bf16"}


def test_paths_name_the_export_or_one_member(tmp_path):
    prefix = str(tmp_path / "a")
    export_model(_net(), prefix, 32)
    assert Export.open(prefix).designated is None
    with pytest.raises(ExportMismatchError, match=r"a.onnx is not part of the export described by .*a-meta.json"):
        Export.open(prefix + ".onnx")  # no ONNX member, and no export named a.onnx
    with pytest.raises(ExportMissing, match=r"b-meta.json is missing"):
        Export.open(str(tmp_path / "b-int8.onnx"))
    own = str(tmp_path / "c-int8")  # an export whose own name ends like a member
    export_model(_net(), own, 32)
    assert Export.open(own).prefix == own and Export.open(own).designated is None


def test_the_manifest_holds_members_checks_and_class_names(tmp_path):
    prefix = str(tmp_path / "m")
    export_model(_net(3), prefix, 32, class_names=["cat", "dog", "owl"])
    data = json.load(open(meta_path(prefix)))
    assert data["version"] == 2 and data["class_names"] == ["cat", "dog", "owl"] and data["num_classes"] == 3
    assert sorted(data["members"]["symbol"]["files"]) == ["m-0000.params", "m-symbol.json"]
    meta = read_meta(meta_path(prefix))
    assert meta == ExportMeta.from_dict(data) and meta.input_shape("symbol") == (1, 3, 32, 32)
    assert Export.open(prefix).file_names() == ["m-0000.params", "m-symbol.json", "m-meta.json"]


@pytest.mark.parametrize("names, message", [(["a", "b", "c", "d", "e"], "class_names has 5 names for 3 classes"),
                                            (["a", "b", "a"], "class_names repeats a")])
def test_class_names_must_name_each_class_once(tmp_path, names, message):
    prefix = str(tmp_path / "m")
    with pytest.raises(ValueError, match=message):
        export_model(_net(3), prefix, 32, class_names=names)
    assert os.listdir(tmp_path) == []
    export_model(_net(3), prefix, 32, class_names=["a", "b", "c"])
    data = json.load(open(meta_path(prefix)))
    json.dump(dict(data, class_names=names), open(meta_path(prefix), "w"))
    with pytest.raises(ValueError, match="m-meta.json: %s" % message):
        ExportedClassifier(prefix)


def test_writer_refuses_stale_files_before_any_work_and_checks_its_members(tmp_path):
    prefix = str(tmp_path / "w")
    open(prefix + ".onnx", "wb").close()
    with pytest.raises(StaleFilesError, match=r"w\.onnx"):
        ExportWriter(prefix, ("symbol",))
    with pytest.raises(ValueError, match="symbol member"):
        ExportWriter(prefix, ("onnx",), force=True)
    net, config = _net(), model_data_config("resnest14", input_size=32)
    with ExportWriter(prefix, ("symbol", "onnx"), force=True) as writer:
        write_symbol(net, writer.staged_prefix("symbol"), config)
        writer.add("symbol", 1)
        with pytest.raises(ValueError, match="not announced"):
            writer.add("int8", 8)
        with pytest.raises(FileNotFoundError, match="lacks its file w.onnx"):
            writer.add("onnx", None)
        with pytest.raises(ValueError, match="lacks the members onnx"):
            writer.publish(**export_description(net, config))
    assert os.listdir(tmp_path) == ["w.onnx"]
    with ExportWriter(prefix, ("symbol",), force=True) as writer:
        write_symbol(net, writer.staged_prefix("symbol"), config)
        writer.add("symbol", 1)
        published = writer.publish(**export_description(net, config))
    assert sorted(os.listdir(tmp_path)) == ["w-0000.params", "w-meta.json", "w-symbol.json"]
    assert published.verify().meta.members["symbol"].batch_size == 1
    assert set(export_file_paths(prefix)) >= {prefix + "-int8-meta.json", prefix + "-int8.onnx"}


def test_verify_names_a_changed_or_missing_member_file(tmp_path):
    prefix = str(tmp_path / "v")
    export_model(_net(), prefix, 32)
    with open(prefix + "-symbol.json", "a") as handle:
        handle.write(" ")
    with pytest.raises(ExportMismatchError, match="v-symbol.json does not match the sha1"):
        Export.open(prefix)
    os.remove(prefix + "-symbol.json")
    with pytest.raises(ExportMismatchError, match="v-symbol.json is missing but listed"):
        Export.open(prefix)
    assert Export.open(prefix, verify=False).prefix == prefix


def _as_version_1(prefix, int8_mode=None, int8_batch=8, checks=None):
    """Rewrite the version 2 manifest at ``prefix`` the way gluon_resnest 0.2 wrote it: the description fields at
    the top level, ``files`` listing every file beside the prefix whose name starts with its base name, the
    checks as ``int8_onnx``/``bf16`` entries, and an INT8 member's own ``PREFIX-int8-meta.json``."""
    data = json.load(open(meta_path(prefix)))
    base = os.path.basename(prefix)
    size = data["data_config"]["input_size"]
    old = {"model": data["model"], "num_classes": data["num_classes"], "class_names": data["class_names"],
           "data_config": data["data_config"], "layout": data["layout"], "dtype": data["dtype"],
           "preprocessed": data["layout"] == "NHWC", "fused": data["members"]["symbol"]["fused"],
           "input_shape": [data["members"]["symbol"]["batch_size"], 3, size, size]}
    old.update(checks or {})
    directory = os.path.dirname(prefix)
    if int8_mode:
        int8 = dict(old, input_shape=[int8_batch, 3, size, size], int8=int8_mode)
        int8["files"] = {n: d for n, d in _sha1s(directory, base + "-int8").items() if not n.endswith(".onnx")}
        json.dump(int8, open(prefix + "-int8-meta.json", "w"))
    old["files"] = {n: d for n, d in _sha1s(directory, base).items() if n != base + "-meta.json"}
    json.dump(old, open(meta_path(prefix), "w"))


def _sha1s(directory, base):
    from gluon_resnest.utils.publish import sha1_file

    return {name: sha1_file(os.path.join(directory, name)) for name in sorted(os.listdir(directory))
            if name.startswith(base)}


def test_exports_of_version_1_keep_loading(tmp_path):
    """A 0.2 manifest of a full export (symbol/params, ONNX, INT8, INT8 ONNX checked in onnxruntime) reads as
    the same members and runs every member as before; ImageNet's repeated short names it recorded give way to
    the ImageNet names readers use."""
    from gluon_resnest.data.imagenet import imagenet1k_names
    from gluon_resnest.data.toy import ensure_toy_dataset
    from gluon_resnest.deploy.deployment import ExportOptions, export_deployment

    train_rec, _ = ensure_toy_dataset(str(tmp_path / "toy"))
    out = str(tmp_path / "exp" / "r")
    os.makedirs(os.path.dirname(out))
    report = export_deployment("resnest14", None, out, ExportOptions(size=32, onnx=True, int8="naive",
                                                                     calib_data=train_rec, calib_batches=1))
    x = np.random.RandomState(0).uniform(-1, 1, (3, 3, 32, 32)).astype("float32")
    paths = (out, out + ".onnx", out + "-int8", out + "-int8.onnx")
    runtime = {path: "onnxruntime" if path.endswith(".onnx") else "mxnet" for path in paths}
    before = {path: ExportedClassifier(path, runtime=runtime[path]).batch_logits(x) for path in paths}
    checked = report.members["int8_onnx"].checks[0]
    data = json.load(open(meta_path(out)))
    data["class_names"] = list(imagenet1k_names()["classes"])
    json.dump(data, open(meta_path(out), "w"))
    _as_version_1(out, "naive", checks={"int8_onnx": dict(checked.figures, runtime="onnxruntime", precision="int8",
                                                          summary=checked.summary)})
    export = Export.open(out)
    assert set(export.meta.members) == {"symbol", "onnx", "int8", "int8_onnx"}
    assert export.meta.members["int8"].batch_size == 8 and export.meta.members["int8"].calibration == "naive"
    assert "r-int8-meta.json" in export.file_names() and export.meta.class_names is None
    assert export.meta.members["int8_onnx"].checked("onnxruntime", "int8")
    for path in paths:
        clf = ExportedClassifier(path, runtime=runtime[path])
        assert np.allclose(clf.batch_logits(x), before[path], rtol=1e-5, atol=1e-6), path
    assert ExportedClassifier(out + "-int8.onnx").runtime == "onnxruntime"
