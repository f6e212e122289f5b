"""README.md and docs/*.md: a short front page, links that resolve, Python examples that run, and reference
text without project history (issue numbers, commit hashes, test counts, "now"/"no longer" wording)."""
import glob
import os
import re
import subprocess
import sys

import pytest

from tests.helpers.scripts import ROOT

README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
README_MAX_LINES = 160

#: docs pages that other branches add; links to them are allowed to dangle until those branches are merged, then
#: this set is emptied.
EXPECTED_LATER = set()

#: the pages a reader looks for by name (the docs index links every page).
DOC_PAGES = ["models", "pretrained", "gluoncv", "training", "deployment", "performance", "contributing",
             "changelog"]


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _markdown_files():
    return [README] + sorted(glob.glob(os.path.join(DOCS, "*.md")))


def _rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def _code_files():
    """The Python files of the package, the scripts and the tools."""
    for top in ("gluon_resnest", "scripts", "tools"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def test_readme_is_a_front_page():
    lines = _read(README).count("\n")
    assert lines <= README_MAX_LINES, "README.md has %d lines; move detail to docs/" % lines


def test_docs_pages_exist_and_the_index_links_them():
    index = _read(os.path.join(DOCS, "README.md"))
    pages = {os.path.basename(p) for p in glob.glob(os.path.join(DOCS, "*.md"))} - {"README.md"}
    assert {p + ".md" for p in DOC_PAGES} <= pages
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    assert pages | {os.path.basename(p) for p in EXPECTED_LATER} <= linked | {"README.md"}, pages - linked


_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(path):
    """Targets of the Markdown links and images in ``path`` that are not web addresses or in-page anchors."""
    text = re.sub(r"```.*?```", "", _read(path), flags=re.S)
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        yield target.split("#", 1)[0]


@pytest.mark.parametrize("path", _markdown_files(), ids=_rel)
def test_relative_links_point_to_files(path):
    missing = []
    for target in _relative_links(path):
        resolved = _rel(os.path.normpath(os.path.join(os.path.dirname(path), target)))
        if not os.path.exists(os.path.join(ROOT, resolved)) and resolved not in EXPECTED_LATER:
            missing.append(target)
    assert not missing, "%s links to missing files: %s" % (_rel(path), missing)


#: history phrasing that does not belong in reference text (the README and docs describe what is, not what
#: changed); word boundaries keep "know", "renew", "knowledge", "newer" and "news" out.
HISTORY_WORDING = re.compile(
    r"\bissue\s*#?\d|\bcommit\s+[0-9a-f]{7}|"   # issue numbers and commit hashes
    r"\bnow\b|\bno longer\b|\bany ?more\b|\bNew:|\(new\)|\bnew (?:flag|option)s?\b|"
    r"\bscripts? not kept\b|\bcommitted after\b|"
    r"\b\d+\s*(?:\+\s*\d+\s*)?tests\b",           # test counts
    re.I)

#: what the package, scripts and tools must not quote: issue numbers and commit hashes (changes between versions
#: are described in docs/changelog.md).
PACKAGE_HISTORY = re.compile(r"\bissue\s*#?\d|\bcommit\s+[0-9a-f]{7}", re.I)


def test_history_wording_pattern():
    for text in ["see issue 6", "issue #13 note", "commit 80850dd", "is now 2", "Now the loader", "no longer",
                 "New: --data-dir", "--pretrained (new)", "23 + 235 tests", "runs 258 tests", "scripts not kept",
                 "committed after the measurement"]:
        assert HISTORY_WORDING.search(text), text
    for text in ["renew the lease", "knowledge", "I know", "a new classifier", "newer MXNet", "snow", "nowhere",
                 "the tests check", "issue a warning", "commit the staged files", "resnest50-bcfefe1d.params"]:
        assert not HISTORY_WORDING.search(text), text


@pytest.mark.parametrize("path", _markdown_files(), ids=_rel)
def test_docs_hold_no_history(path):
    found = ["line %d: %r" % (_read(path).count("\n", 0, m.start()) + 1, m.group(0))
             for m in HISTORY_WORDING.finditer(_read(path))]
    assert not found, "%s: %s" % (_rel(path), found)


def test_code_quotes_no_issue_or_commit():
    found = ["%s: %r" % (_rel(p), m.group(0)) for p in _code_files() for m in PACKAGE_HISTORY.finditer(_read(p))]
    assert not found, found


def test_code_comments_and_docstrings_hold_no_history_wording():
    from tests.test_layout import _comments_and_docstrings

    found = ["%s: %r" % (_rel(p), m.group(0)) for p in _code_files()
             for text in _comments_and_docstrings(_read(p)) for m in HISTORY_WORDING.finditer(text)]
    assert not found, found


_SNIPPET_DRIVER = r"""
import os, re, sys
import gluon_resnest
import mxnet as mx
import numpy as np
from PIL import Image
from gluon_resnest.models.catalogue import CATALOGUE
from tests.helpers.model_server import ModelServer, published_record, random_weights, sha1_of

with open(sys.argv[1], encoding="utf-8") as handle:
    blocks = re.findall(r"```python\n(.*?)```", handle.read(), re.S)
names = set(re.findall(r"get_model\(\s*[\"'](\w+)[\"']", "".join(blocks)))
server = ModelServer()
for name in names:  # random weights published under each name's store path, sha1 and all
    _, data = random_weights(name, ".")
    CATALOGUE[name] = published_record(name, sha1_of(data))
    server.add("%s-%s" % (name, sha1_of(data)[:8]), data)
os.environ["MXNET_HOME"] = os.path.abspath("mxhome")
os.environ["MXNET_GLUON_REPO"] = server.url
Image.fromarray(np.random.RandomState(0).randint(0, 256, (375, 500, 3), dtype=np.uint8)).save("cat.jpg")
for block in blocks:
    scope = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert isinstance(scope["net"], gluon_resnest.ResNeSt), type(scope["net"])
print("ran %d blocks" % len(blocks))
"""


def test_readme_python_examples_run(tmp_path):
    """Every ```python block of the README runs as written, against random weights served on a loopback address
    under the published weights' names (nothing is downloaded)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", _SNIPPET_DRIVER, README], cwd=str(tmp_path), env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = [line for line in result.stdout.splitlines() if re.match(r"\d\.\d{3}  \S", line)]
    assert len(printed) == 5, result.stdout
    assert "ran 2 blocks" in result.stdout


def test_training_options_table_is_generated_from_the_declarations():
    """docs/training.md's options table is what ``tools/options_table.py`` writes from the option declarations."""
    from tools.options_table import PAGE, generated_table, split_page

    _, table, _ = split_page(_read(PAGE))
    assert table == generated_table(), "the options table is out of date: run python tools/options_table.py"


def _half_up(value, places="0.01"):
    import decimal

    return str(decimal.Decimal(str(value)).quantize(decimal.Decimal(places), decimal.ROUND_HALF_UP))


def test_readme_variant_table_matches_the_catalogue():
    from gluon_resnest.models.catalogue import CATALOGUE

    rows = {}
    for line in _read(README).splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in CATALOGUE:
            rows[cells[0]] = cells
    assert list(rows) == list(CATALOGUE)
    for name, cells in rows.items():
        rec = CATALOGUE[name]
        data = rec.pretrained.data_config
        top = "%.2f" % rec.pretrained.top1 + (" (%.2f)" % rec.pretrained.top5 if rec.pretrained.top5 else "")
        assert cells[1:] == ["-".join(map(str, rec.arch.layers)), str(rec.arch.radix),
                             "%dx%d" % (rec.arch.cardinality, rec.arch.bottleneck_width),
                             "%.1f M" % (rec.params / 1e6), _half_up(rec.gmacs_224),
                             "%d / %.3g / %s" % (data.input_size, data.crop_pct, data.interpolation), top], name
