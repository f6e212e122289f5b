"""Shared fixtures: deterministic seeds. Helpers shared by several test folders live in ``tests.helpers``."""
import gluon_resnest  # noqa: F401  (first, so that it sizes MXNet's CPU threads before MXNet loads)
import mxnet as mx
import numpy as np
import pytest

from tests.helpers.model_server import ModelServer


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def server():
    """A loopback HTTP server for model-store tests (see :class:`tests.helpers.model_server.ModelServer`)."""
    srv = ModelServer()
    yield srv
    srv.close()
