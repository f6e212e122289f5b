"""Packaging: one version string, the Python it needs, and a core that works without the optional extras."""
import email.parser
import glob
import os
import subprocess
import sys
import textwrap

import gluon_resnest
from tests.helpers.scripts import ROOT

#: Imported only by the optional extras' features; the core must build, load and export networks without them.
EXTRAS_ONLY = ("gluoncv", "horovod", "onnx", "onnxruntime", "openvino", "torch", "timm")

_CORE_RUN = textwrap.dedent("""
    import importlib.abc, sys
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in %r:
                raise ModuleNotFoundError("No module named %%r (blocked)" %% name)
    sys.meta_path.insert(0, Missing())
    import gluon_resnest, mxnet as mx
    from gluon_resnest.deploy.classifier import ExportedClassifier
    from gluon_resnest.deploy.export import export_model
    assert gluon_resnest.__file__.startswith(sys.argv[1]), gluon_resnest.__file__
    net = gluon_resnest.get_model("resnest14")
    net.initialize()
    export_model(net, sys.argv[2], 32)
    logits = ExportedClassifier(sys.argv[2]).logits([mx.nd.zeros((40, 50, 3), dtype="uint8")])
    print("core ok", gluon_resnest.__version__, logits.shape)
""") % (EXTRAS_ONLY,)


def test_plain_pip_install_gives_a_working_core_without_the_extras(tmp_path):
    site = str(tmp_path / "site")
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--no-compile", "--target", site, ROOT], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    metadata, = glob.glob(os.path.join(site, "gluon_resnest-*.dist-info", "METADATA"))
    with open(metadata, encoding="utf-8") as handle:
        meta = email.parser.Parser().parse(handle)
    assert meta["Version"] == gluon_resnest.__version__
    assert meta["Requires-Python"] == ">=3.11"
    core = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in core if r.split("<")[0].split("=")[0].strip().lower() in EXTRAS_ONLY + ("mxnet",)], core
    run = subprocess.run([sys.executable, "-P", "-c", _CORE_RUN, site, str(tmp_path / "m")], capture_output=True,
                         text=True, timeout=600, env=dict(os.environ, PYTHONPATH=site), cwd=str(tmp_path))
    assert run.returncode == 0 and "core ok %s (1, 1000)" % gluon_resnest.__version__ in run.stdout, run.stderr[-3000:]


def test_the_version_is_written_once():
    holders = []
    for path in [os.path.join(ROOT, "setup.py")] + glob.glob(os.path.join(ROOT, "gluon_resnest", "**", "*.py"),
                                                              recursive=True):
        with open(path, encoding="utf-8") as handle:
            if gluon_resnest.__version__ in handle.read():
                holders.append(os.path.relpath(path, ROOT))
    assert holders == [os.path.join("gluon_resnest", "__init__.py")], holders
