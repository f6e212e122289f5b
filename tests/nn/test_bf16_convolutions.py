"""oneDNN 2.4's bf16 convolution kernels (AMX where the process runs it) against fp32, forward, data gradient and
weight gradient, on every distinct convolution configuration of the 13 variants (classification and dilated plans,
grouped included), collected from the traced networks. Tolerance: bf16's unit roundoff on each element plus the fp32
accumulation bound for the direction's reduction length (derived in ``tests/helpers/bf16_convolutions.py``)."""
import json
import os
import subprocess
import sys

import pytest

import gluon_resnest
from tests.helpers.bf16_convolutions import DIRECTIONS
from tests.helpers.scripts import ROOT

RUNTIME = gluon_resnest.cpu_runtime()
PROP_KINDS = dict(zip(("forward_training", "backward_data", "backward_weights"), DIRECTIONS))


@pytest.fixture(scope="module")
def bf16_run():
    """``(results, kernels)``: the helper's JSON results, and for each configuration index the ``(direction,
    implementation)`` of every bf16 convolution oneDNN reported for it."""
    env = dict(os.environ, DNNL_VERBOSE="1")
    result = subprocess.run([sys.executable, "-m", "tests.helpers.bf16_convolutions"], capture_output=True,
                            text=True, timeout=1800, env=env, cwd=ROOT)
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    lines = result.stdout.splitlines()
    kernels, current = {}, None
    for line in lines:
        if line.startswith("CONFIG "):
            current = int(line.split()[1])
            kernels[current] = []
        elif line == "END":
            current = None
        elif current is not None and line.startswith("dnnl_verbose,exec,cpu,convolution,"):
            fields = line.split(",")
            if "bf16" in fields[6]:
                kernels[current].append((PROP_KINDS.get(fields[5], fields[5]), fields[4]))
    return json.loads(lines[-1]), kernels


@pytest.mark.skipif(not RUNTIME.native_bf16,
                    reason="needs bf16 units (AMX or AVX512_BF16); this process runs oneDNN ISA %s" % RUNTIME.isa)
def test_bf16_convolutions_match_fp32(bf16_run):
    results, kernels = bf16_run
    assert len(results) > 100 and any(r["config"][6] > 1 for r in results) and any(r["config"][5] != [1, 1]
                                                                                  for r in results)
    outside = ["%s %s: %.3g x the bound" % (r["config"], direction, ratio) for r in results
               for direction, ratio in zip(DIRECTIONS, r["ratios"]) if not ratio <= 1]
    assert not outside, "bf16 outside the tolerance:\n" + "\n".join(outside)
    missing = ["%s: no bf16 kernel for %s" % (r["config"], sorted(set(DIRECTIONS) - {d for d, _ in kernels[i]}))
               for i, r in enumerate(results) if set(DIRECTIONS) - {d for d, _ in kernels[i]}]
    assert not missing, "\n".join(missing)


@pytest.mark.skipif(not RUNTIME.amx, reason="oneDNN runs no AMX kernels in this process: %s" % RUNTIME.amx_reason)
def test_bf16_convolutions_run_on_amx_kernels(bf16_run):
    """Each direction runs AMX kernels; the configurations oneDNN 2.4 runs elsewhere are listed on failure."""
    results, kernels = bf16_run
    elsewhere = {d: ["%s: %s" % (results[i]["config"], impl) for i, found in kernels.items() for d2, impl in found
                     if d2 == d and "avx512_core_amx" not in impl] for d in DIRECTIONS}
    on_amx = {d: sum(1 for found in kernels.values() for d2, impl in found if d2 == d and "avx512_core_amx" in impl)
              for d in DIRECTIONS}
    assert all(on_amx.values()), "AMX kernels per direction: %s; elsewhere:\n%s" % (
        on_amx, "\n".join("%s %s" % (d, line) for d, lines in elsewhere.items() for line in lines))
