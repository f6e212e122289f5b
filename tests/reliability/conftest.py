"""Fixtures of the reliability cases: random resnest14 weights, published by the loopback store."""
import pytest

from tests.helpers.model_server import publish, random_weights, sha1_of


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random resnest14 weights: ``(bytes, sha1)``."""
    _, data = random_weights("resnest14", tmp_path_factory.mktemp("w"))
    return data, sha1_of(data)


@pytest.fixture
def published(weights, server, monkeypatch):
    """The random weights as the published resnest14, served by :func:`server`; their sha1."""
    data, sha1 = weights
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], data)
    return sha1
