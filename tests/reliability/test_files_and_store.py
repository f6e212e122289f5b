"""Temporary files and the weight store under hostile conditions: the download deadline against servers that send
100 bytes per second or withhold their answer, a cache hit beside a live download of another PID namespace (a
container sharing the cache), and a `serve.py package` killed midway."""
import importlib.util
import os
import subprocess
import sys
import time

import pytest

from gluon_resnest import get_model
from gluon_resnest.models.store import DownloadPolicy, ModelFileError, get_model_file
from tests.helpers.model_server import sha1_of
from tests.helpers.scripts import ROOT
from tests.helpers.staging import invisible_pid, namespace_prefix

FAST = DownloadPolicy(retries=0, backoff=0.01, timeout=5)

#: A child process fetching the published resnest14 (``argv[1]``: its sha1) with the policy of its environment;
#: prints the path, or the seconds it took to fail and the error.
_FETCH = """
import sys, time
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.models.store import get_model_file
from tests.helpers.model_server import published_record
CATALOGUE["resnest14"] = published_record("resnest14", sys.argv[1])
start = time.monotonic()
try:
    print(get_model_file("resnest14"), flush=True)
except OSError as err:
    print("%.3f" % (time.monotonic() - start))
    print(err)
"""


def _staging(folder):
    return sorted(name for name in os.listdir(folder) if ".staging-" in name)


def test_deadline_of_5_s_fires_by_6_s_against_100_bytes_per_second(store_env, server, published):
    server.trickle, server.trickle_bytes = 0.1, 10
    env = dict(os.environ, GLUON_MODEL_DOWNLOAD_DEADLINE="5")
    result = subprocess.run([sys.executable, "-c", _FETCH, published], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert len(lines) >= 2, result.stderr[-2000:]
    url = server.url + "gluon/models/resnest14-%s.zip" % published[:8]
    assert 5 <= float(lines[0]) <= 6, lines
    assert "download of %s passed its deadline of 5 s" % url in "\n".join(lines[1:])
    assert _staging(str(store_env)) == []


def test_deadline_covers_a_server_that_withholds_its_answer(store_env, server, published):
    server.delay = 10
    start = time.monotonic()
    with pytest.raises(ModelFileError, match="passed its deadline of 2 s"):
        get_model_file("resnest14", policy=DownloadPolicy(retries=3, backoff=0.01, timeout=60, deadline=2))
    assert time.monotonic() - start <= 3


def test_policy_reads_its_environment_once_and_names_a_bad_variable(store_env, monkeypatch):
    monkeypatch.setenv("GLUON_MODEL_DOWNLOAD_DEADLINE", "5")
    monkeypatch.setenv("GLUON_MODEL_LOCK_TIMEOUT", "7.5")
    monkeypatch.setenv("GLUON_MODEL_MAX_BYTES", "1000")
    assert DownloadPolicy.from_environment(retries=1) == DownloadPolicy(retries=1, deadline=5, lock_timeout=7.5,
                                                                        max_bytes=1000)
    monkeypatch.setenv("GLUON_MODEL_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(ValueError, match=r"\$GLUON_MODEL_DOWNLOAD_DEADLINE must be a number of seconds, got 'soon'"):
        DownloadPolicy.from_environment()
    monkeypatch.setenv("GLUON_MODEL_DOWNLOAD_DEADLINE", "0")
    with pytest.raises(ValueError, match=r"deadline must be > 0 .*GLUON_MODEL_DOWNLOAD_DEADLINE"):
        get_model_file("resnest14", tag="0123abcd")
    assert not os.path.exists(str(store_env))


def test_cache_hit_leaves_a_live_download_of_another_pid_namespace_alone(store_env, server, published):
    """The downloader runs in a PID namespace of its own as a process id that names no process here (containers
    sharing a cache, same host name); a cache hit of another file here must not take its download for a dead one."""
    prefix = namespace_prefix(invisible_pid())
    if prefix is None:
        pytest.skip("this machine does not allow PID namespaces (unshare)")
    server.trickle = 0.05
    child = subprocess.Popen(prefix + [sys.executable, "-c", _FETCH, published], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (server.requests and any(name.startswith(".resnest14-") for name in os.listdir(str(store_env)))):
            assert time.monotonic() < deadline and child.poll() is None, "the download did not start"
            time.sleep(0.05)
        time.sleep(0.5)
        downloading = [name for name in os.listdir(str(store_env)) if name.startswith(".resnest14-")]
        other = os.urandom(4096)
        cached = store_env / ("resnest14-%s.params" % sha1_of(other)[:8])
        cached.write_bytes(other)
        assert get_model_file("resnest14", tag=sha1_of(other), policy=FAST) == str(cached)
        assert all(os.path.exists(str(store_env / name)) for name in downloading)
        server.trickle = 0.0
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait(timeout=60)
    assert child.returncode == 0 and out.strip() == str(store_env / ("resnest14-%s.params" % published[:8])), \
        out + err[-2000:]
    assert _staging(str(store_env)) == []


_PACKAGE = """
import sys, time
from gluon_resnest.deploy.serving import archive
def archiver_killed_midway(name, model_dir, export_dir):
    print("archiving", flush=True)
    time.sleep(300)
archive._run_archiver = archiver_killed_midway
archive.package_export(sys.argv[1], sys.argv[2])
"""


@pytest.mark.skipif(importlib.util.find_spec("model_archiver") is None, reason="model-archiver is not installed")
def test_killed_package_leaves_nothing_the_next_package_does_not_remove(tmp_path):
    from gluon_resnest.deploy.export import export_model
    from gluon_resnest.deploy.serving.archive import archive_members, package_export

    net = get_model("resnest14", classes=3)
    net.initialize()
    prefix, out = str(tmp_path / "m"), str(tmp_path / "m.mar")
    export_model(net, prefix, 32)
    exported = sorted(os.listdir(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", _PACKAGE, prefix, out], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "archiving"
    finally:
        child.kill()
        child.wait(timeout=60)
    staged = _staging(str(tmp_path))
    assert len(staged) == 1 and "m-0000.params" in os.listdir(os.path.join(str(tmp_path), staged[0], "model"))
    assert package_export(prefix, out) == out
    assert sorted(os.listdir(tmp_path)) == sorted(exported + ["m.mar"])
    assert "m-0000.params" in archive_members(out)
