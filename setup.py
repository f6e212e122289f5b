"""Packaging for gluon_resnest. Install through scripts/setup_env.sh, which applies constraints.txt."""
from setuptools import find_packages, setup

setup(
    name="gluon_resnest",
    version="0.2.0",
    description="ResNeSt (Split-Attention Networks) for MXNet Gluon: models, pretrained weights, training, export",
    packages=find_packages(include=["gluon_resnest", "gluon_resnest.*"]),
    package_data={"gluon_resnest.data": ["imagenet1k_classes.json"]},
    python_requires=">=3.8",
    install_requires=["numpy<1.24", "gluoncv==0.10.5.post0", "opencv-python", "tqdm", "portalocker", "matplotlib",
                      "Pillow", "safetensors"],
    extras_require={
        "cpu": ["mxnet==1.9.1"],
        "gpu": ["mxnet-cu112==1.9.1"],
        "onnx": ["onnx", "onnxruntime", "protobuf"],
        "openvino": ["onnx", "protobuf", "openvino"],
        "test": ["pytest"],
        "torch": ["torch==2.13.0", "safetensors"],
    },
)
