"""Training outputs written by rank 0: a JSON-lines metrics file and a loss/accuracy curve PNG (both atomic)."""
import json

from ..utils.fileio import atomic_write

__all__ = ["write_metrics", "plot_curves"]


def write_metrics(path, history):
    """Rewrite ``path`` with one JSON object per :class:`~gluon_resnest.train.records.EpochRecord` in
    ``history``."""
    atomic_write(path, "".join(json.dumps(record.as_dict(), sort_keys=True) + "\n" for record in history))


def plot_curves(path, history, title=""):
    """Training loss and train/val top-1 per epoch (``history``: epoch records) as a two-panel PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch + 1 for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r.train_loss for r in history], "o-", label="train loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [r.train_top1 for r in history], "o-", label="train top-1")
    val = [(r.epoch + 1, r.val_top1) for r in history if r.validated]
    if val:
        ax_acc.plot(*zip(*val), "s-", label="val top-1")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("top-1 (%)")
    ax_acc.legend()
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
