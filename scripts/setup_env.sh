#!/usr/bin/env bash
# Idempotent environment setup.
#   bash scripts/setup_env.sh                    .venv: the user's environment (MXNet, GluonCV, Horovod with MXNet +
#                                                Gloo, ONNX, pytest), the one the README's commands run in
#   bash scripts/setup_env.sh --with-references  also .venv-ref: MXNet with the PyTorch references (torch, timm,
#                                                the official resnest package) for the parity tests; no GluonCV
#   bash scripts/setup_env.sh --with-nncf        also .venv-nncf: OpenVINO with NNCF (numpy >= 1.24, every other pin
#                                                of constraints.txt) for the benchmark's OpenVINO INT8 baseline
#   bash scripts/setup_env.sh --with-serving     also Multi Model Server and model-archiver in .venv, for
#                                                scripts/serve.py (needs Java: openjdk-17-jre-headless)
# The flags combine. .venv and .venv-ref also see the checkout itself (tools/link_checkout.py), for the developer
# tooling in tools/ that scripts/benchmark.py and its child interpreters import.
# A stamp file per environment, keyed on setup.py/constraints.txt/this script, makes a second run take a second.
set -euo pipefail
WITH_REFERENCES=0
WITH_NNCF=0
WITH_SERVING=0
for arg in "$@"; do
  case "$arg" in
    --with-references) WITH_REFERENCES=1 ;;
    --with-nncf) WITH_NNCF=1 ;;
    --with-serving) WITH_SERVING=1 ;;
    *) echo "usage: bash scripts/setup_env.sh [--with-references] [--with-nncf] [--with-serving]" >&2; exit 2 ;;
  esac
done
if [ "$WITH_SERVING" = 1 ]; then
  # Before anything is installed: MMS's frontend needs Java.
  if ! command -v java >/dev/null 2>&1 && [ ! -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
    echo "error: --with-serving needs Java for Multi Model Server and none is installed: apt-get install" \
      "openjdk-17-jre-headless (or set JAVA_HOME)" >&2
    exit 2
  fi
fi
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
WANT=$(cat setup.py constraints.txt scripts/setup_env.sh | sha1sum | cut -c1-40)
C=(-c "$ROOT/constraints.txt")
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then FLAVOR=gpu; else FLAVOR=cpu; fi

fresh() {  # fresh VENV: true when VENV must be (re)built
  [ ! -f "$1/.setup-stamp" ] || [ "$(cat "$1/.setup-stamp")" != "$WANT" ]
}

base() {  # base VENV: the venv with pip tooling
  [ -x "$1/bin/python" ] || "$PY" -m venv "$1"
  "$1/bin/python" -m pip install -q --upgrade pip "setuptools<70" wheel "${C[@]}"
}

VENV="$ROOT/.venv"
if fresh "$VENV"; then
  base "$VENV"
  PIP=("$VENV/bin/python" -m pip)
  # torch is a test reference only: it lives in .venv-ref (gluoncv 0.10.5 refuses to import next to torch >= 2)
  if "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    "${PIP[@]}" uninstall -q -y torch torchvision timm resnest
  fi
  "${PIP[@]}" install -q "${C[@]}" -e ".[$FLAVOR,gluoncv,onnx,test]"
  # Optional: OpenVINO as a runtime for the ONNX export (bf16 on AVX512_BF16/AMX CPUs). Skipped, with a note, when it
  # does not install cleanly next to the pins above.
  "${PIP[@]}" install -q "${C[@]}" -e ".[openvino]" || echo "note: OpenVINO did not install; --runtime openvino and --bf16 are unavailable"
  # Horovod compiles against the installed MXNet; pip caches the built wheel so a second setup takes seconds.
  if ! "$VENV/bin/python" -c "import horovod.mxnet" >/dev/null 2>&1; then
    "${PIP[@]}" install -q "${C[@]}" packaging psutil cloudpickle pyyaml cffi
    HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_TENSORFLOW=1 \
    HOROVOD_WITHOUT_PYTORCH=1 "${PIP[@]}" install -q "${C[@]}" --no-build-isolation -e ".[horovod]"
  fi
  "$VENV/bin/python" -c "import gluon_resnest, gluoncv, horovod.mxnet, mxnet; print('setup ok: .venv, mxnet', mxnet.__version__, 'gluoncv', gluoncv.__version__)"
  echo "$WANT" > "$VENV/.setup-stamp"
fi
"$VENV/bin/python" "$ROOT/tools/link_checkout.py" >/dev/null

if [ "$WITH_SERVING" = 1 ]; then
  # MMS's frontend is Java; its workers run .venv's Python (scripts/serve.py starts it from there).
  if [ ! -f "$VENV/.serving-stamp" ] || [ "$(cat "$VENV/.serving-stamp")" != "$WANT" ]; then
    "$VENV/bin/python" -m pip install -q "${C[@]}" multi-model-server model-archiver
    "$VENV/bin/python" -c "import mms.version, model_archiver.version; print('setup ok: serving, multi-model-server', mms.version.__version__, 'model-archiver', model_archiver.version.__version__)"
    echo "$WANT" > "$VENV/.serving-stamp"
  fi
fi

if [ "$WITH_REFERENCES" = 1 ]; then
  REF="$ROOT/.venv-ref"
  if fresh "$REF"; then
    base "$REF"
    "$REF/bin/python" -m pip install -q "${C[@]}" "mxnet==1.9.1" "numpy<1.24" opencv-python simplejpeg tqdm portalocker \
      Pillow matplotlib pytest \
      torch torchvision timm safetensors
    # The official ResNeSt package: only its torch models are used, which need nothing but torch.
    "$REF/bin/python" -m pip install -q "${C[@]}" --no-deps resnest
    "$REF/bin/python" -m pip install -q --no-deps -e .
    "$REF/bin/python" -c "import gluon_resnest, torch, mxnet; print('setup ok: .venv-ref, torch', torch.__version__)"
    echo "$WANT" > "$REF/.setup-stamp"
  fi
  "$REF/bin/python" "$ROOT/tools/link_checkout.py" >/dev/null
fi

if [ "$WITH_NNCF" = 1 ]; then
  NNCF="$ROOT/.venv-nncf"
  if fresh "$NNCF"; then
    base "$NNCF"
    # Runs nothing of this project (tools/benchmark/nncf_quantize.py imports numpy, openvino and nncf only).
    "$NNCF/bin/python" -m pip install -q -c <(grep -v '^numpy' "$ROOT/constraints.txt") openvino openvino-telemetry nncf
    "$NNCF/bin/python" -c "import nncf, numpy, openvino; print('setup ok: .venv-nncf, nncf', nncf.__version__, 'numpy', numpy.__version__)"
    echo "$WANT" > "$NNCF/.setup-stamp"
  fi
fi
