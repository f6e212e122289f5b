"""StagedFiles: a set of files published as a unit, stale files, crashed staging folders (this host's only),
relative prefixes, two publishers of one set at once."""
import os

import pytest

from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.publish import StagedFiles, StaleFilesError, _host_tag, sha1_file
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
    dead = tmp_path / (".m.staging-%s-%d" % (_host_tag(), 2 ** 22))
    dead.mkdir()
    (dead / "m-a").write_text("left by a crash")
    with pytest.raises(RuntimeError):
        with StagedFiles(str(tmp_path / "m")) as stage:
            atomic_write(stage.prefix + "-a", "new")
            raise RuntimeError("export failed")
    assert os.listdir(tmp_path) == []


def _publish_repeatedly(prefix, times, errors):
    try:
        for _ in range(times):
            _publish(prefix, ["-a", "-b", "-meta"], force=True)
    except Exception as err:  # reported to the parent through the queue
        errors.put(repr(err))


def test_two_processes_publishing_the_same_set_at_once_both_succeed(tmp_path):
    import multiprocessing

    prefix, ctx = str(tmp_path / "m"), multiprocessing.get_context("fork")
    errors = ctx.Queue()
    workers = [ctx.Process(target=_publish_repeatedly, args=(prefix, 300, errors)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert errors.empty(), errors.get()
    assert sorted(os.listdir(tmp_path)) == ["m-a", "m-b", "m-meta"]


def test_other_hosts_staging_folders_are_left_alone(tmp_path):
    other = tmp_path / (".m.staging-otherhost-%d" % 2 ** 22)
    other.mkdir()
    with StagedFiles(str(tmp_path / "m")) as stage:
        atomic_write(stage.prefix + "-meta", "x")
        stage.publish("m-meta")
    assert sorted(os.listdir(tmp_path)) == [other.name, "m-meta"]
