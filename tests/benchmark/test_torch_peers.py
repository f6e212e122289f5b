"""The PyTorch configurations of the benchmark (tools/benchmark/torch_peers.py): every configuration's rows from the
reference interpreter, with ``torch.compile`` replaced by a recorder (a real compilation takes minutes on 2 CPUs),
failures as rows, and the parent's handling of a child that dies or hangs."""
import json
import os
import subprocess
import sys
import time

import pytest

from tests.helpers.scripts import ROOT
from tools.benchmark import measure
from tools.benchmark.torch_peers import TORCH_CONFIGS
from tools.interpreters import reference_python, tools_env

#: Runs every configuration on resnest14 at 32 px in the reference interpreter, with ``torch.compile`` recording
#: what it was given (failing for ``compile-cl``) and torch's oneDNN claiming no bf16 kernels for ``cl-bf16``.
CHILD = """
import json, sys
from tools.benchmark import child  # noqa: F401  (gluon_resnest first, as in the benchmark's child)
import torch
from tools.benchmark.torch_peers import TORCH_CONFIGS, config_rows

compiled, state = [], {}
supported = torch.ops.mkldnn._is_mkldnn_bf16_supported


def fake_compile(model, **kwargs):
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    compiled.append(dict(config=state["config"], training=model.training, kwargs=kwargs,
                         channels_last=conv.weight.is_contiguous(memory_format=torch.channels_last)
                         and not conv.weight.is_contiguous()))
    if state["config"] == "compile-cl":
        def broken(*args):
            raise RuntimeError("C++ compile error\\nlong compiler output")
        return broken
    return model


torch.compile = fake_compile
rows = []
for name, config in TORCH_CONFIGS.items():
    state["config"] = name
    torch.ops.mkldnn._is_mkldnn_bf16_supported = (lambda: False) if name == "cl-bf16" else supported
    rows += config_rows("resnest14", config, [1], 32, 0, 1, 2)
print("RESULT " + json.dumps({"rows": rows, "compiled": compiled, "threads": torch.get_num_threads()}))
"""


@pytest.fixture(scope="module")
def configured():
    python = reference_python()
    if python is None:
        pytest.skip("no interpreter with torch (scripts/setup_env.sh --with-references)")
    env = tools_env(dict(os.environ, OMP_NUM_THREADS="1"))
    result = subprocess.run([python, "-c", CHILD], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[7:])


def test_every_configuration_gives_its_rows(configured):
    rows = {(r["config"], r["mode"]): r for r in configured["rows"]}
    assert set(rows) == {(name, mode) for name in TORCH_CONFIGS for mode in ("inference", "train")}
    for (name, mode), row in rows.items():
        config = TORCH_CONFIGS[name]
        assert row["impl"] == "timm-" + name and row["precision"] == ("bf16" if config.bf16 else "fp32")
        assert (row["framework"], row["source"], row["batch"], row["size"]) == (
            "pytorch", "timm", 1 if mode == "inference" else 2, 32)
        assert row["threads"] == 1 and row["units"] and row["torch_version"]
        if name in ("compile-cl", "cl-bf16"):
            continue
        assert row["img_per_s"] > 0 and row["latency_ms"] > 0 and "error" not in row
        assert ("compile_s" in row) == config.compile
        if config.compile:
            assert row["compile_s"] > 0 and row["compile_cache"] == "none"
    assert configured["threads"] == 1


def test_compile_gets_each_graph_in_its_configuration(configured):
    """One static-shape compilation per configuration and mode, of the model in the configuration's memory
    format."""
    got = sorted((c["config"], c["training"], c["channels_last"], c["kwargs"]["dynamic"])
                 for c in configured["compiled"])
    assert got == sorted((name, training, config.channels_last, False) for name, config in TORCH_CONFIGS.items()
                         if config.compile for training in (False, True))


def test_a_configuration_that_fails_is_reported_as_rows(configured):
    rows = {(r["config"], r["mode"]): r for r in configured["rows"]}
    for mode in ("inference", "train"):
        broken, no_bf16 = rows[("compile-cl", mode)], rows[("cl-bf16", mode)]
        assert broken["error"] == "RuntimeError: C++ compile error" and broken["img_per_s"] is None
        assert no_bf16["error"].startswith("torch's oneDNN has no bf16 kernels") and no_bf16["img_per_s"] is None


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_child_that_dies_or_hangs_is_named(tmp_path):
    died = measure.run_child([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"])
    assert died == (None, "killed by SIGILL")
    failed = measure.run_child([sys.executable, "-c", "import sys; sys.exit('no timm model for this name')"])
    assert failed == (None, "exit 1: no timm model for this name")
    pid_file = tmp_path / "grandchild.pid"
    hang = ("import subprocess, sys, time\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            "open(%r, 'w').write(str(p.pid))\n"
            "time.sleep(120)\n" % str(pid_file))
    tic = time.monotonic()
    assert measure.run_child([sys.executable, "-c", hang], timeout=3) == (None, "timed out after 3 s")
    assert time.monotonic() - tic < 60
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_torch_rows_name_a_failed_child_per_configuration(monkeypatch):
    seen = []

    def fake_run_child(args, env=None, timeout=None):
        cache = env["TORCHINDUCTOR_CACHE_DIR"]
        seen.append((args[args.index("--torch-config") + 1], os.path.isdir(cache), cache, timeout))
        return None, "killed by SIGILL"

    monkeypatch.setattr(measure, "run_child", fake_run_child)
    rows = measure.torch_rows("resnest50", ["eager", "compile-cl-bf16"], [1, 8], 224, 2, 5, train_batch=8,
                              compile_cache="", timeout=99)
    assert [(config, exists, timeout) for config, exists, _, timeout in seen] == [
        ("eager", True, 99), ("compile-cl-bf16", True, 99)]
    assert not os.path.exists(seen[0][2]) and seen[0][2] == seen[1][2]
    assert [(r["impl"], r["mode"], r["batch"], r["precision"], r["error"], r["img_per_s"]) for r in rows] == [
        (impl, mode, batch, precision, "killed by SIGILL", None)
        for impl, precision in (("timm-eager", "fp32"), ("timm-compile-cl-bf16", "bf16"))
        for mode, batch in (("inference", 1), ("inference", 8), ("train", 8))]


def test_the_compile_cache_folder_is_made_and_kept_only_for_compiled_configurations(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(measure, "run_child", lambda args, env=None, timeout=None: (
        seen.append(env and (env["TORCHINDUCTOR_CACHE_DIR"], env["TMPDIR"])) or [], None))
    folder = tmp_path / "cache"
    assert measure.torch_rows("resnest14", ["eager", "cl-bf16"], [1], 32, 0, 1, compile_cache=str(folder)) == []
    assert seen == [None, None] and not folder.exists()
    assert measure.torch_rows("resnest14", ["compile"], [1], 32, 0, 1, compile_cache=str(folder)) == []
    assert seen[2:] == [(str(folder), str(folder))] and folder.is_dir()
