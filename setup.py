"""Packaging for gluon_resnest. Install through scripts/setup_env.sh, which applies constraints.txt and builds Horovod
against the installed MXNet; ``pip install .`` alone gives the core (models, store, data, training on one process,
symbol/params export), with MXNet from the ``cpu`` or ``gpu`` extra."""
import ast
import os

from setuptools import find_packages, setup


def _version():
    """``__version__`` of gluon_resnest/__init__.py, read without importing the package (that would load MXNet)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gluon_resnest", "__init__.py")
    with open(path, encoding="utf-8") as handle:
        for node in ast.parse(handle.read()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
                return ast.literal_eval(node.value)
    raise RuntimeError("no __version__ in %s" % path)


setup(
    name="gluon_resnest",
    version=_version(),
    description="ResNeSt (Split-Attention Networks) for MXNet Gluon: models, pretrained weights, training, export",
    packages=find_packages(include=["gluon_resnest", "gluon_resnest.*"]),
    package_data={"gluon_resnest.data": ["imagenet1k_classes.json"]},
    python_requires=">=3.11",
    install_requires=["numpy<1.24", "opencv-python", "simplejpeg", "tqdm", "portalocker", "matplotlib", "Pillow", "safetensors"],
    extras_require={
        "cpu": ["mxnet==1.9.1"],
        "gpu": ["mxnet-cu112==1.9.1"],
        "gluoncv": ["gluoncv==0.10.5.post0"],
        # Built by scripts/setup_env.sh with HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 and --no-build-isolation.
        "horovod": ["horovod==0.28.1"],
        "onnx": ["onnx", "onnxruntime", "protobuf"],
        "openvino": ["onnx", "protobuf", "openvino"],
        "test": ["pytest"],
        "torch": ["torch==2.13.0", "safetensors"],
    },
)
