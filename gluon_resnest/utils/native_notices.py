"""MXNet's native notices kept off a script's stderr: lines its C++ runtime logs about behaviour that is correct and
that MXNet offers no switch to silence.

MXNet 1.9 writes ``LOG(INFO)`` lines straight to file descriptor 2. :data:`MXNET_NOTICES` lists the ones a script
drops, each with the reason it is harmless:

- ``mkldnn_pooling.cc:58: MKLDNN Pooling: training with prop_kind is forward_scoring``, once per pooling layer and
  input shape in every training process: the avg-down shortcut averages over the in-bounds pixels only
  (``count_include_pad=False``, as GluonCV's), and oneDNN runs that pooling with its inference kernel in training
  too. The backward pass is computed the same either way (an average pooling keeps no workspace), so training is
  unaffected. Counting the padding instead would avoid the notice at even sizes but give wrong gradients at the
  clipped windows of odd sizes, where MXNet's own kernel divides the forward and the backward pass differently.

:func:`notices_filtered` sends everything written to file descriptor 2 (by Python, MXNet's C++ code, and child
processes started meanwhile) through a small filter process that drops whole lines matching the notices and passes
every other byte on as it arrives (progress bars included). The filter is a separate process so that what a
crashing process writes last still reaches the terminal; it ignores SIGINT, SIGTERM and SIGHUP and ends when every
writer has closed the pipe.
"""
import contextlib
import os
import subprocess
import sys

__all__ = ["MXNET_NOTICES", "notices_filtered"]

#: Regular expressions of the notices :func:`notices_filtered` drops by default (see the module docstring).
MXNET_NOTICES = (r"(?:mkldnn|dnnl)_pooling\.cc:\d+: (?:MKLDNN|oneDNN) Pooling: training with prop_kind is "
                 r"forward_scoring",)

#: The filter process: reads its stdin, writes to its stdout. A partial line is held back only while it may still
#: become a notice (MXNet's log lines start with ``[``); ``\r`` ends a line too.
_FILTER = r"""
import os, re, signal, sys
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
drop = re.compile("|".join("(?:%s)" % p for p in sys.argv[1:]).encode())
end = re.compile(rb"[\r\n]")
held = b""
while True:
    chunk = os.read(0, 65536)
    held += chunk
    out = []
    while True:
        m = end.search(held)
        if m is None:
            break
        line, held = held[:m.end()], held[m.end():]
        if not drop.search(line):
            out.append(line)
    if held and (not chunk or not held.startswith(b"[")):
        out.append(held)
        held = b""
    data = b"".join(out)
    while data:
        data = data[os.write(1, data):]
    if not chunk:
        break
"""


@contextlib.contextmanager
def notices_filtered(notices=MXNET_NOTICES, wait=5.0):
    """Within the block, lines written to file descriptor 2 that match one of ``notices`` (regular expressions) are
    dropped; everything else reaches the process's stderr unchanged. On leaving, file descriptor 2 is restored and
    the filter is given ``wait`` seconds to pass on what is left (child processes that still hold the pipe keep
    their output filtered until they end). Where the filter cannot be started the block runs unfiltered."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER] + list(notices), stdin=read_end,
                                   stdout=saved, stderr=subprocess.DEVNULL)
    except OSError:
        for fd in (read_end, write_end, saved):
            os.close(fd)
        yield
        return
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            pass
