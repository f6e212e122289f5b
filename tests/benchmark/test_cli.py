"""scripts/benchmark.py's command line: subcommands whose parsers are generated from the option declarations of
tools/benchmark/settings.py, and one line ``error: ...`` with exit code 2 for a command line or value it refuses."""
import dataclasses
import json
import os
import subprocess
import sys
import sysconfig

import pytest

from gluon_resnest.utils.options import check_settings, declared
from tests.helpers.scripts import ROOT, load_script, run_script, script_path
from tools import link_checkout
from tools.benchmark import settings

SUBCOMMANDS = ["run", "report", "ceiling", "profile", "import-order", "gluoncv-named", "input-pipeline", "serving"]


@pytest.fixture(scope="module")
def script():
    return load_script("benchmark.py")


def _subparsers(parser):
    return next(action for action in parser._actions if action.choices and action.dest == "command").choices


def test_help_lists_the_subcommands():
    result = run_script("benchmark.py", "--help", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    usage = result.stdout.split("\n\n", 1)[0]
    assert "{%s}" % ",".join(SUBCOMMANDS) in usage
    assert all("\n    %s " % name in result.stdout for name in SUBCOMMANDS)


def test_each_subcommand_parser_is_generated_from_the_declarations(script):
    """Every option of a subcommand is a declared option of one of its groups, with the declared default; shared
    options (``--models``, ``--size``, ``--repeat``, ...) have one declaration."""
    parsers = _subparsers(script.parser())
    assert list(parsers) == SUBCOMMANDS == list(script.COMMANDS)
    for name, parser in parsers.items():
        groups = script.COMMANDS[name][2]
        options = {action.dest: action.default for action in parser._actions if action.dest != "help"}
        assert options == {field.name: field.default for field, _ in declared(groups)}, name
    declarations = [(cls, field.name) for cls in vars(settings).values() if dataclasses.is_dataclass(cls)
                    for field, _ in declared([cls])]
    owners = {}
    for cls, field in declarations:
        owners.setdefault(field, []).append(cls.__name__)
    shared = {field: classes for field, classes in owners.items() if len(classes) > 1}
    assert shared == {"batch": ["Batch", "InputPipeline", "Serving"]}, shared


def test_smoke_replaces_declared_fields_with_values_that_pass_the_checks():
    for group, values in settings.SMOKE.items():
        check_settings(dataclasses.replace(group(), **values))


@pytest.mark.parametrize("argv,message", [
    ([], "the following arguments are required"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "--size", "16"], "--size must be in [32, 1024], got 16"),
    (["run", "--size", "x"], "argument --size: invalid int value: 'x'"),
    (["run", "--batches", "1", "0"], "--batches must be >= 1, got 0"),
    (["run", "--train-batch", "0"], "--train-batch must be >= 1"),
    (["run", "--repeat", "0"], "--repeat must be >= 1"),
    (["run", "--warmup", "-1"], "--warmup must be >= 0"),
    (["run", "--models", "resnest15"], "argument --models: invalid choice: 'resnest15'"),
    (["run", "--torch-configs", "eager", "fast"], "argument --torch-configs: invalid choice: 'fast'"),
    (["run", "--torch-timeout", "0"], "--torch-timeout must be >= 1"),
    (["profile", "--graph", "fast"], "argument --graph: invalid choice: 'fast'"),
    (["profile", "--runs", "0"], "--runs must be >= 1"),
    (["gluoncv-named", "--batch", "0"], "--batch must be >= 1"),
    (["input-pipeline", "--workers", "0"], "--workers must be >= 1"),
    (["serving", "--requests", "0"], "--requests must be >= 1"),
    (["report"], "the following arguments are required: --from-json"),
])
def test_bad_command_lines_end_with_one_line(script, capsys, argv, message):
    assert script.run_main(script.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_report_of_unreadable_files_ends_with_one_line(script, capsys, tmp_path):
    missing, broken = str(tmp_path / "missing.json"), tmp_path / "broken.json"
    broken.write_text("[{")
    for path, message in ((missing, "missing.json"), (str(broken), "broken.json is not a JSON file")):
        assert script.run_main(script.main, ["report", "--from-json", path]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_a_bad_value_exits_2_with_one_line_from_the_command_line():
    result = run_script("benchmark.py", "profile", "--size", "31", timeout=300)
    assert result.returncode == 2
    assert result.stderr == "error: --size must be in [32, 1024], got 31\n"


def test_report_reprints_the_tables_of_run_rows(script, capsys, tmp_path):
    rows = [{"model": "resnest14", "mode": "inference", "batch": 1, "size": 64, "impl": impl, "img_per_s": rate,
             "latency_ms": 1000.0 / rate, "peak_rss_mb": 100.0} for impl, rate in (("ours", 10.0), ("gluoncv", 5.0))]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    png = tmp_path / "rows.png"
    assert script.main(["report", "--from-json", str(path), str(path), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.count("| resnest14 | 64 | inference | 1 | ours |") == 2
    assert "best fp32 / GluonCV" in out and png.stat().st_size > 1000


def test_ceiling_prints_the_runtime_the_kernels_and_the_limits(script, capsys, tmp_path):
    import gluon_resnest

    out = tmp_path / "ceiling.json"
    assert script.main(["ceiling", "--smoke", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(str(gluon_resnest.cpu_runtime()) + "; 1-minute load average")
    assert "| precision | kernel | oneDNN kernels | graph GFLOP/s | kernel GFLOP/s |" in lines
    assert any(line.startswith("| int8 | conv 3x3 16->32 groups 2, 8x8, batch 1 | ") for line in lines)
    assert any(line.startswith("| resnest14 | 64 | fp32 | ") for line in lines)
    assert [row["precision"] for row in json.loads(out.read_text())] == ["fp32"] * 2 + ["bf16"] * 2 + ["int8"] * 2


def test_profile_and_import_order_subcommands_measure(script, capsys):
    assert script.main(["profile", "--models", "resnest14", "--size", "32", "--batch", "1", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("resnest14, batch 1, 32 px, fused graph, 1 forwards:") and "_sg_mkldnn_conv" in out
    assert script.main(["import-order", "--models", "resnest14", "--size", "32", "--batch", "1", "--warmup", "0",
                        "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["resnest14 batch 1", "resnest14 batch 1"]
    assert "mxnet-first" in lines[0] and "ours-first" in lines[1]


def test_without_the_checkout_on_the_path_it_says_how_to_get_it(monkeypatch, capsys):
    for name in [name for name in sys.modules if name == "tools" or name.startswith("tools.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if os.path.abspath(p or ".") != ROOT])
    with pytest.raises(SystemExit) as exit_info:
        load_script("benchmark.py")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the checkout's tools package is not importable") and err.count("\n") == 1
    assert "scripts/setup_env.sh" in err and "PYTHONPATH" in err


def test_a_linked_environment_runs_the_benchmark_from_anywhere(tmp_path):
    """What scripts/setup_env.sh does for .venv: after tools/link_checkout.py, the environment's interpreter runs
    scripts/benchmark.py from another folder and without PYTHONPATH (a fresh environment that sees this one's
    packages, not its .pth files)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "packages.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def benchmark_help():
        return subprocess.run([python, script_path("benchmark.py"), "--help"], cwd=str(tmp_path), env=env,
                              capture_output=True, text=True, timeout=300)

    assert benchmark_help().returncode != 0
    linked = subprocess.run([python, os.path.join(ROOT, "tools", "link_checkout.py")], capture_output=True,
                            text=True, timeout=60)
    assert linked.returncode == 0, linked.stderr
    pth = os.path.join(site, link_checkout.PTH_NAME)
    assert open(pth).read() == ROOT + "\n"
    result = benchmark_help()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "{%s}" % ",".join(SUBCOMMANDS) in result.stdout
    where = subprocess.run([python, "-c", "import tools, gluon_resnest; print(tools.__file__, gluon_resnest.__file__)"],
                           cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.split() == [os.path.join(ROOT, "tools", "__init__.py"),
                                    os.path.join(ROOT, "gluon_resnest", "__init__.py")], where.stderr
    before = os.stat(pth).st_mtime_ns
    assert link_checkout.link(site) == pth and os.stat(pth).st_mtime_ns == before
