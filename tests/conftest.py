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


@pytest.fixture
def store_env(tmp_path, server, monkeypatch):
    """A model cache under ``tmp_path`` (``$MXNET_HOME``) whose GluonCV store is :func:`server`; returns the cache
    folder (``$MXNET_HOME/models``, not created)."""
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    monkeypatch.setenv("MXNET_GLUON_REPO", server.url)
    return tmp_path / "mxhome" / "models"
