"""Shared fixtures: deterministic seeds and a tmp model root."""
import os
import sys

import mxnet as mx
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)
    np.random.seed(0)
    yield
