"""The optimizer of the ResNeSt recipe: NAG or SGD with a schedule, optionally no weight decay on BN and biases."""
import mxnet as mx

__all__ = ["NO_WD_PATTERN", "apply_no_wd", "make_optimizer"]

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
