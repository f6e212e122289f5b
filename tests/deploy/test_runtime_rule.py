"""The runtime rule as a table: every choice and every refusal of
:func:`~gluon_resnest.deploy.runtime_rule.choose_runtime`, and the entry points that execute it."""
import importlib.util

import numpy as np
import pytest

from gluon_resnest.deploy.export_meta import Check, Member
from gluon_resnest.deploy.runtime_rule import PREFERENCE, RuntimeChoice, RuntimeRequest, choose_runtime
from gluon_resnest.utils.errors import OptionError, RuntimeUnavailable

SYMBOL = Member("symbol", {}, 1)
FUSED = Member("symbol", {}, 1, fused=True)
ONNX = Member("onnx", {}, None, (Check("onnxruntime", "f32", "parity"),))
ONNX_BF16 = Member("onnx", {}, None, (Check("onnxruntime", "f32", "parity"), Check("openvino", "bf16", "agreement")))
INT8 = Member("int8", {}, 8, (Check("mxnet", "int8", "agreement"),))
INT8_ONNX_OV = Member("int8_onnx", {}, None, (Check("openvino", "int8", "agreement"),))
INT8_ONNX_ORT = Member("int8_onnx", {}, None, (Check("onnxruntime", "int8", "agreement"),))
BF16 = Member("bf16", {}, 1, (Check("mxnet", "bf16", "agreement"),))

#: Export kinds the tests make (scripts/export.py with: nothing; --fuse; --onnx; --onnx --bf16; --bf16; --int8;
#: --int8 --onnx, its INT8 ONNX file checked in OpenVINO or, without it, in onnxruntime).
EXPORTS = {
    "plain": {"symbol": SYMBOL},
    "fused": {"symbol": FUSED},
    "onnx": {"symbol": SYMBOL, "onnx": ONNX},
    "bf16": {"symbol": SYMBOL, "onnx": ONNX_BF16, "bf16": BF16},
    "mxnet_bf16": {"symbol": SYMBOL, "bf16": BF16},
    "int8": {"symbol": SYMBOL, "int8": INT8},
    "int8_onnx_ov": {"symbol": SYMBOL, "onnx": ONNX, "int8": INT8, "int8_onnx": INT8_ONNX_OV},
    "int8_onnx_ort": {"symbol": SYMBOL, "onnx": ONNX, "int8": INT8, "int8_onnx": INT8_ONNX_ORT},
}

ALL = frozenset({("mxnet", "f32"), ("mxnet", "bf16"), ("onnxruntime", "f32"), ("openvino", "f32"),
                 ("openvino", "bf16")})
NO_BF16 = ALL - {("openvino", "bf16"), ("mxnet", "bf16")}
NO_OPENVINO = frozenset({("mxnet", "f32"), ("mxnet", "bf16"), ("onnxruntime", "f32")})
MXNET_ONLY = frozenset({("mxnet", "f32")})

#: (export, designated member, runtime, precision, available) -> (member, runtime, precision)
CHOICES = [
    # the export as a whole: its fastest member
    ("plain", None, None, None, ALL, ("symbol", "mxnet", "f32")),
    ("fused", None, None, None, ALL, ("symbol", "mxnet", "f32")),
    ("onnx", None, None, None, ALL, ("onnx", "openvino", "f32")),
    ("onnx", None, None, None, NO_OPENVINO, ("onnx", "onnxruntime", "f32")),
    ("onnx", None, None, None, MXNET_ONLY, ("symbol", "mxnet", "f32")),
    ("bf16", None, None, None, ALL, ("onnx", "openvino", "bf16")),
    ("bf16", None, None, None, NO_BF16, ("onnx", "openvino", "f32")),
    ("bf16", None, None, None, NO_OPENVINO, ("bf16", "mxnet", "bf16")),
    ("mxnet_bf16", None, None, None, ALL, ("bf16", "mxnet", "bf16")),
    ("mxnet_bf16", None, None, None, NO_BF16, ("symbol", "mxnet", "f32")),
    ("mxnet_bf16", None, "mxnet", None, ALL, ("bf16", "mxnet", "bf16")),
    ("mxnet_bf16", None, "mxnet", "f32", ALL, ("symbol", "mxnet", "f32")),
    ("mxnet_bf16", None, None, "f32", ALL, ("symbol", "mxnet", "f32")),
    ("bf16", None, "mxnet", "bf16", ALL, ("bf16", "mxnet", "bf16")),
    ("bf16", None, None, "bf16", NO_OPENVINO, ("bf16", "mxnet", "bf16")),
    ("mxnet_bf16", "bf16", None, None, ALL, ("bf16", "mxnet", "bf16")),
    ("mxnet_bf16", "bf16", "mxnet", None, ALL, ("bf16", "mxnet", "bf16")),
    ("int8", None, None, None, ALL, ("symbol", "mxnet", "f32")),
    ("int8_onnx_ov", None, None, None, ALL, ("onnx", "openvino", "f32")),
    # forced runtimes and precisions
    ("onnx", None, "mxnet", None, ALL, ("symbol", "mxnet", "f32")),
    ("onnx", None, "onnxruntime", None, ALL, ("onnx", "onnxruntime", "f32")),
    ("bf16", None, "openvino", None, ALL, ("onnx", "openvino", "bf16")),
    ("bf16", None, "openvino", None, NO_BF16, ("onnx", "openvino", "f32")),
    ("bf16", None, None, "f32", ALL, ("onnx", "openvino", "f32")),
    ("onnx", None, None, "bf16", ALL, ("onnx", "openvino", "bf16")),
    ("onnx", None, "mxnet", None, ALL, ("symbol", "mxnet", "f32")),
    # PREFIX.onnx
    ("onnx", "onnx", None, None, ALL, ("onnx", "openvino", "f32")),
    ("onnx", "onnx", None, None, NO_OPENVINO, ("onnx", "onnxruntime", "f32")),
    ("bf16", "onnx", None, None, ALL, ("onnx", "openvino", "bf16")),
    ("bf16", "onnx", "onnxruntime", None, ALL, ("onnx", "onnxruntime", "f32")),
    ("bf16", "onnx", "openvino", "f32", ALL, ("onnx", "openvino", "f32")),
    ("onnx", "onnx", "openvino", None, ALL, ("onnx", "openvino", "f32")),
    ("onnx", None, "openvino", None, ALL, ("onnx", "openvino", "f32")),
    # PREFIX-int8
    ("int8", "int8", None, None, ALL, ("int8", "mxnet", "f32")),
    ("int8", "int8", "mxnet", None, ALL, ("int8", "mxnet", "f32")),
    # PREFIX-int8.onnx: the runtime it was checked in, else onnxruntime
    ("int8_onnx_ov", "int8_onnx", None, None, ALL, ("int8_onnx", "openvino", "f32")),
    ("int8_onnx_ov", "int8_onnx", None, None, NO_OPENVINO, ("int8_onnx", "onnxruntime", "f32")),
    ("int8_onnx_ort", "int8_onnx", None, None, ALL, ("int8_onnx", "onnxruntime", "f32")),
    ("int8_onnx_ort", "int8_onnx", "openvino", None, ALL, ("int8_onnx", "openvino", "f32")),
    ("int8_onnx_ov", "int8_onnx", "onnxruntime", None, ALL, ("int8_onnx", "onnxruntime", "f32")),
    ("int8_onnx_ov", "int8_onnx", None, "bf16", ALL, ("int8_onnx", "openvino", "bf16")),
]

#: (export, designated member, runtime, precision, available) -> (error type, message fragment)
REFUSALS = [
    ("plain", None, "onnxruntime", None, ALL, (OptionError, "onnxruntime runs an ONNX file and P has none")),
    ("plain", None, "openvino", None, ALL, (OptionError, "openvino runs an ONNX file and P has none")),
    ("plain", None, None, "bf16", ALL, (OptionError, "precision bf16: P has no member that runs in bf16; export it")),
    ("mxnet_bf16", "bf16", "onnxruntime", None, ALL, (OptionError, "P-bf16 is MXNet's bf16 symbol/params; give P.onnx")),
    ("mxnet_bf16", "bf16", None, "f32", ALL, (OptionError, "precision f32: P-bf16 runs at bf16 only; give P")),
    ("mxnet_bf16", None, "mxnet", "bf16", NO_BF16, (RuntimeUnavailable, "mxnet cannot run at bf16")),
    ("mxnet_bf16", "bf16", None, None, NO_BF16, (RuntimeUnavailable, "mxnet cannot run at bf16")),
    ("onnx", "onnx", "mxnet", None, ALL, (OptionError, "runtime mxnet runs the symbol/params files")),
    ("int8_onnx_ov", "int8_onnx", "mxnet", None, ALL, (OptionError, "runtime mxnet runs the symbol/params files")),
    ("int8", "int8", "onnxruntime", None, ALL, (OptionError, "P-int8 is MXNet's int8 symbol/params; give P-int8.onnx")),
    ("int8", "int8", None, "bf16", ALL, (OptionError, "MXNet's INT8 member P-int8 runs its other operators at f32")),
    ("onnx", "onnx", "onnxruntime", "bf16", ALL, (OptionError, "precision bf16: runtime onnxruntime runs f32 only")),
    ("onnx", "onnx", None, "bf16", NO_OPENVINO, (OptionError, "precision applies to OpenVINO, which is not inst")),
    ("onnx", "onnx", "openvino", None, NO_OPENVINO, (RuntimeUnavailable, "openvino cannot run at f32")),
    ("onnx", "onnx", None, "bf16", NO_BF16, (RuntimeUnavailable, "openvino cannot run at bf16")),
    ("bf16", None, "openvino", "bf16", NO_BF16, (RuntimeUnavailable, "openvino cannot run at bf16")),
    ("onnx", "onnx", None, None, MXNET_ONLY, (RuntimeUnavailable, "onnxruntime cannot run at f32")),
]


def _ids(cases):
    return ["%s %s %s %s #%d" % (c[0], c[1] or "prefix", c[2] or "-", c[3] or "-", i) for i, c in enumerate(cases)]


@pytest.mark.parametrize("export, member, runtime, precision, available, expected", CHOICES, ids=_ids(CHOICES))
def test_choice(export, member, runtime, precision, available, expected):
    got = choose_runtime(EXPORTS[export], RuntimeRequest(runtime, precision, member=member), available, "P")
    assert got == RuntimeChoice(*expected)


@pytest.mark.parametrize("export, member, runtime, precision, available, expected", REFUSALS, ids=_ids(REFUSALS))
def test_refusal(export, member, runtime, precision, available, expected):
    error, fragment = expected
    with pytest.raises(error) as info:
        choose_runtime(EXPORTS[export], RuntimeRequest(runtime, precision, member=member), available, "P")
    assert fragment in str(info.value)


def test_every_preference_row_is_exercised():
    chosen = {(c[5][0], c[5][1], c[5][2]) for c in CHOICES}
    rows = {(row.member, row.runtime, row.precision) for rows in PREFERENCE.values() for row in rows}
    assert rows <= chosen, rows - chosen


def test_reasons_come_from_the_availability_probe():
    class Unavailable(frozenset):
        def reason(self, runtime, precision):
            return "%s at %s: the CPU lacks it" % (runtime, precision)

    with pytest.raises(RuntimeUnavailable, match="openvino at bf16: the CPU lacks it"):
        choose_runtime(EXPORTS["onnx"], RuntimeRequest(None, "bf16", member="onnx"), Unavailable(NO_BF16), "P")


def test_requests_are_validated_as_options():
    with pytest.raises(OptionError, match="runtime must be one of"):
        RuntimeRequest("tensorrt")
    with pytest.raises(OptionError, match="precision must be one of"):
        RuntimeRequest(None, "fp8")


def _exports(tmp_path):
    """Real exports of every kind the CPU here can check: {kind: (path a user gives, designated member)}."""
    from gluon_resnest.data.toy import ensure_toy_dataset
    from gluon_resnest.deploy.deployment import ExportOptions, export_deployment

    train_rec, val_rec = ensure_toy_dataset(str(tmp_path / "toy"))
    out = str(tmp_path / "r")
    export_deployment("resnest14", None, out, ExportOptions(size=32, onnx=True, int8="naive", calib_data=train_rec,
                                                            calib_batches=1, val_data=val_rec))
    return {"prefix": (out, None), "onnx": (out + ".onnx", "onnx"), "int8": (out + "-int8", "int8"),
            "int8_onnx": (out + "-int8.onnx", "int8_onnx")}


def test_entry_points_execute_the_rule(tmp_path):
    """ExportedClassifier (hence predict.py, verify.py --export and the serving handler) and the benchmark's
    default row run what the rule's table says for every member path of a real export."""
    from gluon_resnest.deploy.classifier import ExportedClassifier
    from gluon_resnest.deploy.export_files import Export
    from gluon_resnest.deploy.runtimes import InstalledRuntimes

    available = InstalledRuntimes()
    for kind, (path, member) in _exports(tmp_path).items():
        export = Export.open(path)
        assert export.designated == member
        for runtime in (None, "mxnet", "onnxruntime", "openvino"):
            request = RuntimeRequest(runtime, member=member)
            try:
                expected = choose_runtime(export.meta.members, request, available, export.prefix)
            except (OptionError, RuntimeUnavailable) as err:
                with pytest.raises(type(err)):
                    ExportedClassifier(path, runtime=runtime)
                continue
            clf = ExportedClassifier(path, runtime=runtime)
            assert clf.choice == expected, (kind, runtime)
            x = np.zeros((2,) + clf.shape[1:], "float32")
            assert clf.batch_logits(x).shape == (2, 1000)
    if importlib.util.find_spec("openvino"):
        assert ExportedClassifier(str(tmp_path / "r-int8.onnx")).runtime == "openvino"
