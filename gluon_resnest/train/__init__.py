"""Training: grouped config, the loop, schedules and optimizer, checkpoints, metrics log, Horovod wrapper."""
from .config import TrainConfig
from .distributed import Distributed
from .loop import TrainingRun, train

__all__ = ["TrainConfig", "TrainingRun", "train", "Distributed"]
