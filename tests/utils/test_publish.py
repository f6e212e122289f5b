"""StagedFiles: a set of files published as a unit, stale files, crashed staging folders, relative prefixes."""
import os

import pytest

from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.publish import StagedFiles, StaleFilesError, sha1_file
from tests.helpers.files import umask, wrong_modes


def _publish(prefix, names, force=False):
    with StagedFiles(prefix) as stage:
        for name in names:
            atomic_write(stage.prefix + name, name)
        return stage.publish(os.path.basename(prefix) + "-meta", [prefix + s for s in ("-a", "-b", "-meta")], force)


def test_publish_relative_prefix_replaces_the_set_and_refuses_stale_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with umask(0o022):
        _publish("out/m", ["-a", "-b", "-meta"])
    assert sorted(os.listdir("out")) == ["m-a", "m-b", "m-meta"] and wrong_modes("out") == {}
    with pytest.raises(StaleFilesError, match="m-b"):
        _publish("out/m", ["-a", "-meta"])
    assert sorted(os.listdir("out")) == ["m-a", "m-b", "m-meta"]
    _publish("out/m", ["-a", "-meta"], force=True)
    assert sorted(os.listdir("out")) == ["m-a", "m-meta"]
    assert sha1_file("out/m-a") == __import__("hashlib").sha1(b"-a").hexdigest()


def test_staging_of_a_dead_process_is_removed_and_nothing_published_on_error(tmp_path):
    dead = tmp_path / (".m.staging-%d" % 2 ** 22)
    dead.mkdir()
    (dead / "m-a").write_text("left by a crash")
    with pytest.raises(RuntimeError):
        with StagedFiles(str(tmp_path / "m")) as stage:
            atomic_write(stage.prefix + "-a", "new")
            raise RuntimeError("export failed")
    assert os.listdir(tmp_path) == []
