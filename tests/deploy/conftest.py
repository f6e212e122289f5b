"""Fixtures shared by the deployment tests (export and serving)."""
import pytest

from tests.helpers.files import umask


@pytest.fixture(scope="session")
def trained_toy(tmp_path_factory):
    """A resnest14 trained briefly on the toy set at 48 px (so INT8 agreement is meaningful); its save dir, with
    the toy set under ``toy_data``."""
    from gluon_resnest.train import TrainConfig, train
    root = tmp_path_factory.mktemp("int8")
    cfg = TrainConfig.from_flat(model="resnest14", toy=True, save_dir=str(root / "run"), epochs=2, batch_size=32, lr=0.02,
                      input_size=48, min_random_area=0.3, log_interval=0, workers=0, warmup_epochs=1,
                      last_gamma=True, export=True)
    with umask(0o022):
        train(cfg)
    return root / "run"
