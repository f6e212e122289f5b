#!/usr/bin/env bash
# Idempotent environment setup: .venv in the repo root with MXNet, GluonCV, Horovod (MXNet + Gloo) and the test references.
# Usage: bash scripts/setup_env.sh            (everything, including the PyTorch references used by the tests)
# A stamp file keyed on setup.py/constraints.txt/this script makes a second run take a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
STAMP="$VENV/.setup-stamp"
WANT=$(cat setup.py constraints.txt scripts/setup_env.sh | sha1sum | cut -c1-40)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
C=(-c "$ROOT/constraints.txt")
"${PIP[@]}" install -q --upgrade pip "setuptools<70" wheel "${C[@]}"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then FLAVOR=gpu; else FLAVOR=cpu; fi
"${PIP[@]}" install -q "${C[@]}" -e ".[$FLAVOR,test,onnx]"
# Optional: OpenVINO as a runtime for the ONNX export (bf16 on AVX512_BF16/AMX CPUs). Skipped, with a note, when it
# does not install cleanly next to the pins above.
"${PIP[@]}" install -q "${C[@]}" -e ".[openvino]" || echo "note: OpenVINO did not install; --runtime openvino and --bf16 are unavailable"
# The official ResNeSt package: only its torch models are used, which need nothing but torch.
"${PIP[@]}" install -q "${C[@]}" --no-deps resnest
# Horovod compiles against the installed MXNet; pip caches the built wheel so a second setup takes seconds.
if ! "$VENV/bin/python" -c "import horovod.mxnet" >/dev/null 2>&1; then
  "${PIP[@]}" install -q "${C[@]}" packaging psutil cloudpickle pyyaml cffi
  HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_TENSORFLOW=1 \
  HOROVOD_WITHOUT_PYTORCH=1 "${PIP[@]}" install -q "${C[@]}" --no-build-isolation horovod
fi
"$VENV/bin/python" -c "import mxnet, torch, horovod.mxnet; from gluon_resnest.interop.gluoncv import import_gluoncv; import_gluoncv(); print('setup ok: mxnet', mxnet.__version__, 'torch', torch.__version__)"
echo "$WANT" > "$STAMP"
