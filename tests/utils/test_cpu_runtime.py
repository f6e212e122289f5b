"""MXNet's CPU runtime as ``import gluon_resnest`` sets it up: the AMX rule as a pure function, the ISA model against
oneDNN's own report, and fresh interpreters for each path (opt-out, user cap, mxnet first, permission refused by a
seccomp filter, AMX granted). Paths a CPU lacks are skipped with the reason."""
import errno
import itertools
import json
import os
import subprocess
import sys

import pytest

import gluon_resnest
from gluon_resnest.utils import onednn_isa
from gluon_resnest.utils.onednn_isa import AMX_CAP, AMX_FLAGS, decide_tiles
from tests.helpers.scripts import ROOT

HAS_AMX = AMX_FLAGS <= onednn_isa.cpu_flags()
NO_AMX = "needs AMX: %s" % gluon_resnest.cpu_runtime().amx_reason
OURS = ("DNNL_MAX_CPU_ISA", "MKLDNN_MAX_CPU_ISA", "GLUON_RESNEST_AMX", "DNNL_VERBOSE", "OMP_NUM_THREADS",
        "GLUON_RESNEST_KEEP_THREADS")

#: oneDNN 2.4's names for its ISAs in the ``DNNL_VERBOSE`` info line (``cpu_isa_traits.cpp``).
ONEDNN_ISA_NAMES = {
    "Intel AVX-512 with Intel DL Boost and bfloat16 support and Intel AMX with bfloat16 and 8-bit integer support":
        "avx512_core_amx",
    "Intel AVX-512 with Intel DL Boost and bfloat16 support": "avx512_core_bf16",
    "Intel AVX-512 with Intel DL Boost": "avx512_core_vnni",
    "Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions": "avx512_core",
    "Intel AVX-512 with AVX512_4FMAPS and AVX512_4VNNIW extensions": "avx512_mic_4ops",
    "Intel AVX-512 with AVX512CD, AVX512ER, and AVX512PF extensions": "avx512_mic",
    "Intel AVX-512": "avx512_common",
    "Intel AVX2 with Intel DL Boost": "avx2_vnni",
    "Intel AVX2": "avx2",
    "Intel AVX": "avx",
    "Intel SSE4.1": "sse41",
}

#: a bf16 convolution (the first use of AMX kernels where oneDNN may use them); prints its kernel's verbose line
#: when DNNL_VERBOSE=1.
BF16_CONVOLUTION = """
import mxnet as mx
from mxnet.contrib.amp.amp import bfloat16
x = mx.nd.amp_cast(mx.nd.ones((2, 32, 8, 8)), dtype=bfloat16)
w = mx.nd.amp_cast(mx.nd.ones((32, 32, 3, 3)), dtype=bfloat16)
y = mx.nd.Convolution(x, w, kernel=(3, 3), pad=(1, 1), num_filter=32, no_bias=True)
assert float(mx.nd.amp_cast(y, dtype="float32")[0, 0, 4, 4].asscalar()) == 32 * 9
"""

REPORT = """
import json, os
from gluon_resnest.utils.onednn_isa import tile_permission_granted
print(json.dumps(dict(vars(gluon_resnest.cpu_runtime()), env=os.environ.get("DNNL_MAX_CPU_ISA"),
                      permission=tile_permission_granted())))
"""


def _python(code, timeout=300, **env):
    """``code`` in a fresh interpreter (repository root, this environment without the runtime variables, plus
    ``env``)."""
    environ = {k: v for k, v in os.environ.items() if k not in OURS}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=environ, cwd=ROOT)


def _report(result):
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- the rule, as a pure function -----------------------------------------------------------------------------

class _Permission:
    """A stand-in for the permission request that answers ``code`` and counts its calls."""

    def __init__(self, code=0, held=False):
        self.code, self.held, self.calls = code, held, 0

    def __call__(self):
        self.calls += 1
        return self.code


def _decide(flags=AMX_FLAGS, environ=None, mxnet_loaded=False, code=0, held=False):
    request = _Permission(code, held)
    return decide_tiles(frozenset(flags), environ or {}, mxnet_loaded, request, lambda: request.held), request


def test_amx_granted_sets_the_amx_cap():
    decision, request = _decide()
    assert (decision.cause, decision.set_cap, decision.cap, decision.warning) == ("enabled", AMX_CAP, AMX_CAP, None)
    assert request.calls == 1


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOSPC, errno.EOPNOTSUPP, errno.EINVAL])
def test_refused_permission_sets_nothing(code):
    decision, request = _decide(code=code)
    assert (decision.cause, decision.set_cap, decision.cap, decision.errno) == ("refused", None, "ALL", code)
    assert errno.errorcode[code] in decision.reason and request.calls == 1


def test_cpu_without_amx_asks_nothing():
    decision, request = _decide(flags={"avx512f", "avx512_bf16", "amx_tile"})
    assert (decision.cause, decision.set_cap, request.calls) == ("no-amx-cpu", None, 0)


def test_opt_out_asks_nothing():
    decision, request = _decide(environ={"GLUON_RESNEST_AMX": "0"})
    assert (decision.cause, decision.set_cap, decision.warning, request.calls) == ("opted-out", None, None, 0)
    assert _decide(environ={"GLUON_RESNEST_AMX": "1"})[0].cause == "enabled"


def test_mxnet_loaded_first_changes_nothing_and_says_so():
    decision, request = _decide(mxnet_loaded=True)
    assert (decision.cause, decision.set_cap, request.calls) == ("mxnet-first", None, 0)
    assert "import gluon_resnest before mxnet" in decision.warning.lower()


@pytest.mark.parametrize("name,value,cap", [("DNNL_MAX_CPU_ISA", "AVX512_CORE", "AVX512_CORE"),
                                            ("DNNL_MAX_CPU_ISA", "avx2", "ALL"),
                                            ("MKLDNN_MAX_CPU_ISA", "AVX2", "ALL")])
def test_user_cap_is_left_alone(name, value, cap):
    decision, request = _decide(environ={name: value})
    assert (decision.cause, decision.set_cap, decision.cap, request.calls) == ("user-cap", None, cap, 0)
    assert ("not a cap oneDNN 2.4 reads" in decision.reason) == (cap != value)


@pytest.mark.parametrize("mxnet_loaded", [False, True])
def test_user_amx_cap_gets_the_permission_or_a_sigill_warning(mxnet_loaded):
    environ = {"DNNL_MAX_CPU_ISA": AMX_CAP}
    granted, request = _decide(environ=environ, mxnet_loaded=mxnet_loaded)
    assert (granted.cause, granted.set_cap, granted.cap, granted.warning, request.calls) == (
        "user-cap", None, AMX_CAP, None, 1)
    refused, _ = _decide(environ=environ, mxnet_loaded=mxnet_loaded, code=errno.EPERM)
    assert refused.errno == errno.EPERM and "SIGILL" in refused.warning and "EPERM" in refused.warning
    opted_out, request = _decide(environ=dict(environ, GLUON_RESNEST_AMX="0"))
    assert opted_out.cause == "opted-out" and "SIGILL" in opted_out.warning and request.calls == 0
    assert _decide(environ=dict(environ, GLUON_RESNEST_AMX="0"), held=True)[0].warning is None


def test_the_cap_is_set_only_with_the_permission_granted():
    """Every combination of inputs: the AMX cap is set only after a granted request, never over a user's
    variable, an opt-out or an mxnet loaded first."""
    environs = [{}, {"GLUON_RESNEST_AMX": "0"}, {"DNNL_MAX_CPU_ISA": AMX_CAP}, {"DNNL_MAX_CPU_ISA": "AVX2"},
                {"MKLDNN_MAX_CPU_ISA": AMX_CAP}]
    for flags, environ, loaded, code in itertools.product([AMX_FLAGS, {"avx512f"}], environs, [False, True],
                                                          [0, errno.EPERM, errno.ENOSPC]):
        decision, request = _decide(flags, environ, loaded, code)
        if decision.set_cap is not None:
            assert request.calls == 1 and code == 0 and not environ and not loaded, (flags, environ, loaded, code)


# -- the ISA model against oneDNN ------------------------------------------------------------------------------

CAP_CASES = [None, "AVX2", "AVX512_CORE", "AVX512_CORE_VNNI", AMX_CAP, "avx2"]


def test_reported_isa_is_the_one_onednn_names():
    """For each cap (unset, oneDNN 2.4 names below and above the CPU's ISA, one it does not take), the ISA ``cpu_runtime()`` reports is the
    one oneDNN's ``DNNL_VERBOSE`` info line names in the same process."""
    code = ("import gluon_resnest, mxnet as mx\n"
            "x = mx.nd.zeros((1, 1, 1, 1))\n"
            "mx.nd.Convolution(x, x, kernel=(1, 1), num_filter=1, no_bias=True).wait_to_read()\n"
            "print('REPORTED', gluon_resnest.cpu_runtime().isa)\n")
    children = {}
    for cap in CAP_CASES:
        env = {k: v for k, v in os.environ.items() if k not in OURS}
        env.update(DNNL_VERBOSE="1", **({"DNNL_MAX_CPU_ISA": cap} if cap else {}))
        children[cap] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    for cap, child in children.items():
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, (cap, err[-2000:])
        named = [line.split("isa:", 1)[1] for line in out.splitlines()
                 if line.startswith("dnnl_verbose,info,cpu,isa:")]
        reported = [line.split()[1] for line in out.splitlines() if line.startswith("REPORTED")]
        assert [ONEDNN_ISA_NAMES[n] for n in named] == reported, (cap, named, reported)


def test_bf16_and_int8_units_follow_the_isa():
    assert [onednn_isa.bf16_units(i) for i in ("avx512_core_amx", "avx512_core_bf16", "avx512_core_vnni", "avx2")] \
        == ["AMX", "AVX512_BF16", "AVX-512 (emulated)", "none"]
    assert [onednn_isa.int8_units(i) for i in ("avx512_core_amx", "avx512_core_bf16", "avx2_vnni", "avx512_core")] \
        == ["AMX", "AVX512_VNNI", "AVX2_VNNI", "no VNNI"]


def test_runtime_report_record_and_line():
    report = gluon_resnest.cpu_runtime()
    assert "OMP_NUM_THREADS" not in os.environ or report.omp_threads == int(os.environ["OMP_NUM_THREADS"])
    assert report.isa == onednn_isa.effective_isa(onednn_isa.cpu_flags(), report.isa_cap)
    line = str(report)
    assert "\n" not in line and report.isa in line and report.amx_reason in line and report.bf16 in line
    if report.amx:
        assert report.isa == "avx512_core_amx" and report.amx_cause in ("enabled", "user-cap"), report
    assert report.amx or report.amx_cause != "enabled", report


# -- fresh interpreters ----------------------------------------------------------------------------------------

def test_opt_out_leaves_the_isa_alone():
    report = _report(_python("import gluon_resnest" + REPORT, GLUON_RESNEST_AMX="0"))
    assert (report["env"], report["permission"], report["amx"], report["isa_cap"]) == (None, False, False, "ALL")
    assert report["amx_cause"] == ("opted-out" if HAS_AMX else "no-amx-cpu")


def test_user_cap_is_kept_and_reported():
    report = _report(_python("import gluon_resnest" + REPORT, DNNL_MAX_CPU_ISA="AVX512_CORE"))
    assert (report["env"], report["isa_cap"], report["permission"], report["amx"]) == (
        "AVX512_CORE", "AVX512_CORE", False, False)
    assert report["amx_cause"] == ("user-cap" if HAS_AMX else "no-amx-cpu")
    legacy = _report(_python("import gluon_resnest" + REPORT, MKLDNN_MAX_CPU_ISA="AVX2"))
    assert (legacy["env"], legacy["isa_cap"]) == (None, "ALL")


def test_mxnet_imported_first_keeps_the_isa_and_says_so_once():
    result = _python("import mxnet, gluon_resnest" + REPORT)
    report = _report(result)
    assert (report["env"], report["permission"], report["amx"]) == (None, False, False)
    assert report["amx_cause"] == ("mxnet-first" if HAS_AMX else "no-amx-cpu")
    assert result.stderr.count("oneDNN's AMX kernels stay off") == (1 if HAS_AMX else 0)


def test_refused_permission_sets_nothing_and_bf16_convolutions_run():
    """Under a seccomp filter that refuses the tile permission: the request fails with EPERM, the cap is never
    set, and a bf16 convolution runs (no SIGILL). On a CPU without AMX the import never asks; the rule is then
    run with AMX's flags against the real, refused request."""
    code = ("from tests.helpers.seccomp import refuse_tile_permission\n"
            "refuse_tile_permission()\n"
            "import gluon_resnest\n"
            "from gluon_resnest.utils import onednn_isa as isa\n"
            "assert isa.request_tile_permission() == 1, isa.request_tile_permission()\n"
            "d = isa.decide_tiles(isa.AMX_FLAGS, {}, False)\n"
            "assert (d.cause, d.errno, d.set_cap) == ('refused', 1, None), d\n"
            + BF16_CONVOLUTION + REPORT)
    report = _report(_python(code))
    assert (report["env"], report["permission"], report["amx"], report["isa_cap"]) == (None, False, False, "ALL")
    if HAS_AMX:
        assert report["amx_cause"] == "refused" and "EPERM" in report["amx_reason"]


def test_fixed_cap_is_not_inherited():
    """The cap is read by oneDNN while set and removed from the environment afterwards: this process keeps it,
    a program it starts does not (shown with AVX2, which every x86-64 CPU here runs)."""
    code = ("import os, subprocess, sys\n"
            "import gluon_resnest\n"
            "from gluon_resnest.utils import cpu_runtime\n"
            "cpu_runtime._fix_isa_cap('AVX2')\n"
            "assert 'DNNL_MAX_CPU_ISA' not in os.environ\n"
            "print('CHILD', subprocess.run([sys.executable, '-c', 'import mxnet as mx; x = mx.nd.zeros((1, 1, 1, 1)); "
            "mx.nd.Convolution(x, x, kernel=(1, 1), num_filter=1, no_bias=True).wait_to_read()'], "
            "capture_output=True, text=True).stdout.replace(chr(10), ' '))\n")
    result = _python(code, GLUON_RESNEST_AMX="0", DNNL_VERBOSE="1")
    assert result.returncode == 0, result.stderr[-3000:]
    ours, child = result.stdout.split("CHILD", 1)
    assert "isa:Intel AVX2\n" in ours
    assert "isa:" in child and "isa:Intel AVX2 " not in child


@pytest.mark.skipif(not HAS_AMX, reason=NO_AMX)
def test_amx_granted_runs_bf16_on_amx_kernels_and_children_stay_safe():
    code = ("import os, subprocess, sys\n"
            "import gluon_resnest\n"
            "r = gluon_resnest.cpu_runtime()\n"
            "assert r.amx and r.amx_cause == 'enabled' and 'DNNL_MAX_CPU_ISA' not in os.environ, r\n"
            + BF16_CONVOLUTION +
            "child = subprocess.run([sys.executable, '-c', %r], capture_output=True, text=True)\n"
            "assert child.returncode == 0, child.returncode\n"
            "print('CHILD', child.stdout.replace(chr(10), ' '))\n" % BF16_CONVOLUTION)
    result = _python(code, DNNL_VERBOSE="1")
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    ours, child = result.stdout.split("CHILD", 1)
    assert any("convolution" in line and "avx512_core_amx" in line and "bf16" in line for line in ours.splitlines())
    assert "avx512_core_amx" not in child


def test_bf16_speed_tool_measures_every_path_with_its_runtime():
    """``tools/bf16_speed.py`` (fp32 against AMP bf16 and the bf16 member, docs/performance.md) runs each path in fresh processes and
    prints each measurement with that process's CPU runtime line."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "bf16_speed.py"), "--model", "resnest14", "--size", "32",
         "--rounds", "1", "--seconds", "0.1", "--warmup", "1", "--train-batch", "2", "--infer-batches", "1"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("round 1")]
    paths = [" ".join(line.split()[2:5]) for line in rows]
    assert paths == ["train fp32 b2", "train bf16 b2", "infer fp32 b1", "infer bf16 b1", "infer bf16-member b1"], \
        result.stdout
    assert all("CPU runtime: OpenMP threads 2;" in line and float(line.split()[5]) > 0 for line in rows), rows
