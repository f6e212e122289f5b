"""MXNet's native notices dropped from a script's stderr: the notice MXNet really prints matches, the filter drops
only whole notice lines, and every other byte (C-level writes, Python warnings, child processes, progress bars, what
a crashing process writes last) still reaches stderr, in order."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from gluon_resnest.utils.native_notices import MXNET_NOTICES
from gluon_resnest.utils.threads import available_cpus
from tests.helpers.scripts import ROOT

NOTICE = b"[08:14:27] ../src/operator/nn/mkldnn/mkldnn_pooling.cc:58: MKLDNN Pooling: training with prop_kind " \
         b"is forward_scoring\n"


def _run(code, env=None):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          timeout=300, env=dict(os.environ, **(env or {})))


TRAINING_STEP = """
    import sys
    import gluon_resnest, mxnet as mx
    from mxnet import autograd
    from gluon_resnest.utils.native_notices import notices_filtered

    def step():
        net = gluon_resnest.get_model("resnest14")
        net.initialize()
        net.hybridize(static_alloc=True, static_shape=True)
        with autograd.record():
            out = net(mx.nd.random.uniform(shape=(2, 3, 32, 32)))
        out.backward()
        mx.nd.waitall()

    if sys.argv[-1] == "filtered":
        with notices_filtered():
            step()
    else:
        step()
    print("stepped", flush=True)
"""


@pytest.mark.parametrize("filtered", [False, True])
def test_the_pooling_notice_of_a_training_step_is_what_the_filter_drops(filtered):
    """A hybridized training step of resnest14 makes MXNet print its pooling notice once per avg-down shortcut
    (the pattern matches MXNet's own text); inside :func:`notices_filtered` none is left."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(TRAINING_STEP)] + (["filtered"] if filtered else []),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout == "stepped\n", result.stderr[-2000:]
    notices = [line for line in result.stderr.splitlines() if re.search(MXNET_NOTICES[0], line)]
    assert len(notices) == (0 if filtered else 4), result.stderr


FILTERED_WRITES = r"""
    import os, subprocess, sys, warnings
    from gluon_resnest.utils.native_notices import notices_filtered

    NOTICE = bytes.fromhex(os.environ["NOTICE"])
    CHILD = "import os; os.write(2, bytes.fromhex(os.environ['NOTICE']) + b'child line\n')"
    with notices_filtered():
        os.write(2, NOTICE[:40])
        os.write(2, NOTICE[40:])
        os.write(2, b"[12:00:00] ../src/ndarray/ndarray.cc:1: a real MXNet warning\n")
        warnings.warn("a real Python warning", RuntimeWarning)
        os.write(2, b"download 10%\r")
        os.write(2, NOTICE)
        subprocess.run([sys.executable, "-c", CHILD])
        os.write(2, b"last words without a newline")
        if sys.argv[-1] == "crash":
            os.abort()
    os.write(2, b"\nafter the block\n")
"""


def _filtered_writes(*args):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(FILTERED_WRITES)] + list(args), cwd=ROOT,
                          capture_output=True, timeout=300, env=dict(os.environ, NOTICE=NOTICE.hex()))


def test_the_filter_drops_whole_notice_lines_and_passes_everything_else_in_order():
    result = _filtered_writes()
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert b"forward_scoring" not in err
    expected = [b"[12:00:00] ../src/ndarray/ndarray.cc:1: a real MXNet warning\n", b"RuntimeWarning: a real Python "
                b"warning", b"download 10%\r", b"child line\n", b"last words without a newline\nafter the block\n"]
    positions = [err.find(part) for part in expected]
    assert -1 not in positions and positions == sorted(positions), err


def test_what_a_crashing_process_writes_last_still_arrives():
    result = _filtered_writes("crash")
    assert result.returncode != 0
    assert b"child line\n" in result.stderr and result.stderr.rstrip().endswith(b"last words without a newline")
    assert b"forward_scoring" not in result.stderr


@pytest.mark.skipif(available_cpus() < 2, reason="the warning needs more CPUs than MXNet's one thread")
def test_the_import_order_warning_still_reaches_stderr_and_names_its_page():
    result = _run("""
        import mxnet
        from gluon_resnest.utils.native_notices import notices_filtered
        with notices_filtered():
            import gluon_resnest
    """, env={"OMP_NUM_THREADS": "1", "GLUON_RESNEST_KEEP_THREADS": "0"})
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert "RuntimeWarning: mxnet was imported before gluon_resnest" in err
    assert "(docs/gluoncv.md#import-order)" in err and os.path.isfile(os.path.join(ROOT, "docs", "gluoncv.md"))
