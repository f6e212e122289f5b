"""The small toy set shared by the training tests of this folder."""
import pytest

from tests.helpers.training import write_small_toy


@pytest.fixture(scope="module")
def small_toy(tmp_path_factory):
    return write_small_toy(tmp_path_factory.mktemp("toyrun"))
