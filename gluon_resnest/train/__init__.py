"""Training: grouped config, the loop, schedules and optimizer, checkpoints, typed run records, metrics log, Horovod
wrapper."""
from .config import TrainConfig
from .distributed import Distributed
from .loop import TrainingRun, train
from .records import TrainingResult

__all__ = ["TrainConfig", "TrainingRun", "TrainingResult", "train", "Distributed"]
