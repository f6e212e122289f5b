"""StagedFiles: a set of files published as a unit, stale files, staging folders of killed publishers, relative
prefixes, two publishers of one set at once."""
import os

import pytest

from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.publish import StagedFiles, StaleFilesError, sha1_file
from tests.helpers.files import umask, wrong_modes
from tests.helpers.staging import killed_while_staging


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


def test_staging_of_a_killed_publisher_is_removed_and_nothing_published_on_error(tmp_path):
    killed = killed_while_staging(str(tmp_path / "m"), ["m-a", "m-meta"])
    assert os.listdir(tmp_path) == [os.path.basename(killed)]
    with pytest.raises(RuntimeError):
        with StagedFiles(str(tmp_path / "m")) as stage:
            atomic_write(stage.prefix + "-a", "new")
            raise RuntimeError("export failed")
    assert os.listdir(tmp_path) == []


def _publish_repeatedly(prefix, names, times, start):
    start.wait(60)
    for _ in range(times):
        _publish(prefix, names, force=True)


def test_two_processes_publishing_at_once_both_succeed(tmp_path):
    """The manifest and stale files may vanish under a publisher (the other one removed them): not an error."""
    import multiprocessing

    prefix, ctx = str(tmp_path / "m"), multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    workers = [ctx.Process(target=_publish_repeatedly, args=(prefix, names, 300, start))
               for names in (["-a", "-b", "-meta"], ["-a", "-meta"])]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [w.exitcode for w in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.kill()
    assert sorted(os.listdir(tmp_path)) in (["m-a", "m-b", "m-meta"], ["m-a", "m-meta"])


def test_other_machines_staging_folders_are_left_alone(tmp_path):
    """A folder of another host and another kernel (a machine sharing the filesystem, whose locks may not be seen
    here) is not judged, even with its owner file unlocked."""
    other = tmp_path / ".m.staging-otherhost-0badf00d-0123456789abcdef"
    other.mkdir()
    (other / ".staging-owner").write_text("")
    with StagedFiles(str(tmp_path / "m")) as stage:
        atomic_write(stage.prefix + "-meta", "x")
        assert stage.staged_names() == ["m-meta"]
        stage.publish("m-meta")
    assert sorted(os.listdir(tmp_path)) == [other.name, "m-meta"]
