"""The optimizer of the ResNeSt recipe: NAG or SGD with a schedule, optionally no weight decay on BN and biases;
its state as plain arrays plus JSON for checkpoints."""
import mxnet as mx

__all__ = ["NO_WD_PATTERN", "apply_no_wd", "make_optimizer", "optimizer_state", "load_optimizer_state"]

#: Parameters exempt from weight decay with ``--no-wd``: BN gamma/beta and every bias.
NO_WD_PATTERN = ".*beta|.*gamma|.*bias"


def apply_no_wd(net):
    """Set ``wd_mult = 0`` on BN gamma/beta and biases; return the names affected."""
    params = net.collect_params(NO_WD_PATTERN)
    params.setattr("wd_mult", 0.0)
    return sorted(params.keys())


def make_optimizer(name, lr, momentum, wd, schedule, multi_precision=False):
    """``mx.optimizer`` ``name`` ("nag" or "sgd") at base rate ``lr`` driven by ``schedule``."""
    return mx.optimizer.create(name, learning_rate=lr, momentum=momentum, wd=wd, lr_scheduler=schedule,
                               multi_precision=multi_precision)


def _updater(trainer):
    """The trainer's local updater, with the trainer's lazy set-up done (as ``Trainer.save_states`` does)."""
    if not trainer._kv_initialized:
        trainer._init_kvstore()
    if trainer._params_to_init:
        trainer._init_params()
    if trainer._update_on_kvstore:
        raise ValueError("optimizer states held in a kvstore cannot be checkpointed; train without a kvstore")
    return trainer._updaters[0]


def _encode(state, key, arrays):
    if state is None:
        return None
    if isinstance(state, mx.nd.NDArray):
        arrays[key] = state
        return key
    if isinstance(state, (tuple, list)):
        return [_encode(item, "%s.%d" % (key, j), arrays) for j, item in enumerate(state)]
    raise TypeError("optimizer state of type %s cannot be checkpointed" % type(state).__name__)


def _decode(layout, arrays, ctx):
    if layout is None:
        return None
    if isinstance(layout, str):
        value = arrays[layout]
        return mx.nd.array(value, ctx=ctx, dtype=value.dtype)
    return tuple(_decode(item, arrays, ctx) for item in layout)


def _arrays_of(state):
    if state is None:
        return []
    if isinstance(state, tuple):
        return [array for item in state for array in _arrays_of(item)]
    return [state]


def optimizer_state(trainer):
    """``(arrays, layout)``: the optimizer's per-parameter states (momentum, float32 master weights) as a flat
    ``{name: NDArray}`` for ``mx.nd.save``, and a JSON-serialisable ``layout`` holding their structure and the
    update counters. Nothing in either is code: restoring them (:func:`load_optimizer_state`) unpickles nothing."""
    updater = _updater(trainer)
    arrays = {}
    states = {str(index): _encode(state, "state%d" % index, arrays) for index, state in updater.states.items()}
    optimizer = trainer._optimizer
    counts = {str(index): int(count) for index, count in optimizer._index_update_count.items()}
    return arrays, {"states": states, "num_update": int(optimizer.num_update), "index_update_count": counts}


def load_optimizer_state(trainer, arrays, layout):
    """Put states saved by :func:`optimizer_state` back into ``trainer`` (``arrays``: ``{name: numpy array}``, put
    on each parameter's context);
    ``ValueError`` when ``arrays`` and ``layout`` do not match."""
    updater = _updater(trainer)
    try:
        states = {int(index): _decode(item, arrays, trainer._params[int(index)].list_ctx()[0])
                  for index, item in layout["states"].items()}
        counts = {int(index): int(count) for index, count in layout["index_update_count"].items()}
        num_update = int(layout["num_update"])
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ValueError("optimizer states do not match their description (%s: %s)"
                         % (type(err).__name__, err)) from None
    for index, state in states.items():
        param = trainer._params[index]
        for array in _arrays_of(state):
            if tuple(array.shape) != tuple(param.shape):
                raise ValueError("optimizer state of %s has shape %s, the parameter %s"
                                 % (param.name, tuple(array.shape), tuple(param.shape)))
    updater.states = states
    updater.states_synced = dict.fromkeys(states, False)
    optimizer = trainer._optimizer
    optimizer._index_update_count.clear()
    optimizer._index_update_count.update(counts)
    optimizer.num_update = num_update
