"""Write-then-rename (:mod:`gluon_resnest.utils.fileio`): a staging folder per write, owned by a lock; the folders of
killed writers are removed by the next write beside them, those of live writers never, whatever PID namespace they
run in."""
import fcntl
import os

import pytest

from gluon_resnest.utils.fileio import Staging, atomic_write, remove_orphans
from gluon_resnest.utils.processes import host_tag, kernel_tag
from tests.helpers.files import umask, wrong_modes
from tests.helpers.staging import StagingChild, invisible_pid, namespace_prefix


def test_atomic_write_stages_under_the_targets_name_and_leaves_the_target_on_failure(tmp_path):
    target = str(tmp_path / "plot.png")
    seen = []
    with umask(0o022):
        atomic_write(target, lambda staged: (seen.append(staged), open(staged, "w").write("v1")))
    assert os.path.basename(seen[0]) == "plot.png" and os.path.dirname(seen[0]) != str(tmp_path)
    assert wrong_modes(target) == {} and os.listdir(tmp_path) == ["plot.png"]

    def fails(staged):
        open(staged, "w").write("half")
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match="cannot write %s: No space left on device" % target):
        atomic_write(target, fails)
    assert open(target).read() == "v1" and os.listdir(tmp_path) == ["plot.png"]


def test_killed_writers_folder_is_removed_and_a_live_writers_left_alone(tmp_path):
    live = StagingChild(tmp_path / "a.json", ["a.json"])
    killed = StagingChild(tmp_path / "b.json", ["b.json"])
    killed.kill()
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in (live.folder, killed.folder))
    atomic_write(str(tmp_path / "c.json"), {"c": 1})
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(live.folder), "c.json"])
    assert live.publish() == "done"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "c.json"]
    assert open(tmp_path / "a.json").read() == "staged a.json"


def test_a_held_lock_protects_a_folder_whatever_its_writers_pid(tmp_path):
    """A live writer whose process this one cannot see (no pid is part of the folder's name): its lock is held, so
    its folder stays; a folder whose writer died before creating its owner file is removed."""
    stem = ".t.staging-%s-%s-" % (host_tag(), kernel_tag())
    held, ownerless = tmp_path / (stem + "0" * 16), tmp_path / (stem + "1" * 16)
    held.mkdir()
    ownerless.mkdir()
    (ownerless / "t").write_text("half")
    with open(held / ".staging-owner", "w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX)
        (held / "t").write_text("being written")
        assert remove_orphans(str(tmp_path)) == [str(ownerless)]
        assert sorted(os.listdir(tmp_path)) == [held.name]
    assert remove_orphans(str(tmp_path)) == [str(held)] and os.listdir(tmp_path) == []


def test_writer_in_another_pid_namespace_is_left_alone_until_it_dies(tmp_path):
    """Writers in a PID namespace of their own (containers sharing a folder) whose pid names no process here."""
    prefix = namespace_prefix(invisible_pid())
    if prefix is None:
        pytest.skip("this machine does not allow PID namespaces (unshare)")
    live = StagingChild(tmp_path / "m.params", ["m.params"], prefix)
    with Staging(str(tmp_path / "other")) as stage:
        assert os.path.isdir(live.folder) and stage.folder != live.folder
    assert remove_orphans(str(tmp_path)) == [] and os.path.isdir(live.folder)
    assert live.publish() == "done" and os.listdir(tmp_path) == ["m.params"]
    killed = StagingChild(tmp_path / "k.params", ["k.params"], prefix)
    killed.kill()
    assert remove_orphans(str(tmp_path)) == [killed.folder] and os.listdir(tmp_path) == ["m.params"]
