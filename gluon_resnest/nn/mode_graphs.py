"""One cached graph per autograd mode for hybridized blocks whose layers differ between training and inference.

A hybridized Gluon block traces ``hybrid_forward`` once and replays that graph in both modes, so a layer that
should vanish in inference (DropBlock) must either stay in the graph behind a runtime switch, or the block must
keep a separate graph per mode. :class:`ModeGraphs` does the latter: when it builds its cache it announces the
mode being traced (:func:`traced_mode`), layers read it through :func:`is_training` and report whether they used
it (:func:`mark_mode_dependent`; :func:`training_graph` does both); a graph that no layer made mode-dependent is shared by both modes. Layers use
the mode to leave out what inference does not compute (DropBlock) and to pick, for the same function, operators
with a fast backward pass in training graphs and operators that exporters and oneDNN fusion read in inference
graphs.
"""
import contextlib
import threading

from mxnet import autograd
from mxnet.gluon import HybridBlock

__all__ = ["ModeGraphs", "traced_mode", "is_training", "mark_mode_dependent", "training_graph"]

_local = threading.local()


class _Trace:
    """The mode a :class:`ModeGraphs` block is tracing its graph for, and whether a layer depended on it."""

    def __init__(self, training):
        self.training = training
        self.mode_dependent = False


def traced_mode():
    """The trace being built by the innermost enclosing :class:`ModeGraphs` block, or ``None``.

    ``None`` means the caller runs imperatively, or inside a graph that some other block traces once for both
    modes (e.g. GluonCV's detection and segmentation networks, ``export_block``'s wrapper): there the graph
    decides at run time or follows the autograd mode of the trace.
    """
    return getattr(_local, "trace", None)


def is_training():
    """The training mode the current call computes for: the traced mode inside a :class:`ModeGraphs` trace,
    else ``autograd.is_training()`` (the call's mode when imperative, the trace-time mode in a foreign graph)."""
    trace = traced_mode()
    return autograd.is_training() if trace is None else trace.training


def mark_mode_dependent():
    """Record that the graph being traced differs between training and inference (no-op outside a trace)."""
    trace = traced_mode()
    if trace is not None:
        trace.mode_dependent = True


def training_graph():
    """:func:`is_training`, for a layer whose graph depends on the answer: also :func:`mark_mode_dependent`."""
    mark_mode_dependent()
    return is_training()


@contextlib.contextmanager
def _tracing(training):
    previous = traced_mode()
    _local.trace = _Trace(training)
    try:
        yield _local.trace
    finally:
        _local.trace = previous


class ModeGraphs(HybridBlock):
    """A ``HybridBlock`` that, once hybridized, keeps one cached graph per ``autograd.is_training()`` state.

    Each graph is traced in its own mode and built on first use in that mode; a graph in which no layer called
    :func:`mark_mode_dependent` serves both modes. ``export()`` (also used by ``quantize_net`` and GluonCV's
    ``export_block``) writes the inference graph, so it needs one forward call after ``hybridize()``, as for any
    Gluon block; after training calls only, it traces the inference graph itself. Changes that clear the cached
    graph (``hybridize()``, ``cast``, :func:`~gluon_resnest.nn.set_drop_prob`, a replaced child) clear both. With
    ``static_alloc`` each mode's graph holds its own buffers.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mode_graphs = {}

    def _clear_cached_op(self):
        super()._clear_cached_op()
        self._mode_graphs = {}

    def _use_mode_graph(self, training):
        """Make the cached graph and op those built for ``training`` (empty when there is none yet)."""
        self._cached_graph, self._cached_op, self._cached_op_args = self._mode_graphs.get(training, ((), None, []))

    def _call_cached_op(self, *args):
        self._use_mode_graph(autograd.is_training())
        return super()._call_cached_op(*args)

    def _build_cache(self, *args):
        training = autograd.is_training()
        graphs = self._mode_graphs
        reused = graphs.get(training, ((),))[0]
        self._cached_graph = reused
        with _tracing(training) as trace:
            super()._build_cache(*args)
        state = (self._cached_graph, self._cached_op, self._cached_op_args)
        if reused:
            shared = graphs.get(not training, ((),))[0] is reused
        else:
            shared = not trace.mode_dependent
        graphs[training] = state
        if shared:
            graphs[not training] = state

    def _trace_inference_graph(self):
        """Trace the inference graph on the training graph's inputs. It reads the same parameters; its cached op
        is built by the next inference call."""
        (inputs, _), _, op_args = self._mode_graphs[True]
        self._cached_graph = ()
        with autograd.predict_mode(), _tracing(False):
            graph = self._get_graph(*inputs)
        self._mode_graphs[False] = (graph, None, op_args)

    def export(self, path, epoch=0, remove_amp_cast=True):
        """Write the inference graph and the parameters (``path-symbol.json``, ``path-%04d.params``); after
        training calls only, the inference graph is traced first."""
        if self._mode_graphs:
            if False not in self._mode_graphs:
                self._trace_inference_graph()
            self._use_mode_graph(False)
        return super().export(path, epoch, remove_amp_cast)
