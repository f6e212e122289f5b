"""README.md and docs/*.md: a short front page, links that resolve, Python examples that run, and reference
text without project history (issue numbers, commit hashes, test counts, "now"/"no longer" wording)."""
import ast
import glob
import io
import os
import re
import subprocess
import sys
import tokenize

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


def _slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(path):
    """The headings of a Markdown file (outside code blocks)."""
    text = re.sub(r"```.*?```", "", _read(path), flags=re.S)
    return re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)


def _anchors(path):
    """The anchors of a Markdown file's headings (a repeated heading's get ``-1``, ``-2``, ...)."""
    seen, anchors = {}, set()
    for heading in _headings(path):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else "%s-%d" % (slug, seen[slug]))
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_slug_follows_github():
    assert _slug("Where the speed comes from") == "where-the-speed-comes-from"
    assert _slug("`package MODEL`") == "package-model"
    assert _slug("Reliability: what is never lost and never silent") == \
        "reliability-what-is-never-lost-and-never-silent"
    assert _slug("GluonCV-named networks: no DropBlock in inference graphs") == \
        "gluoncv-named-networks-no-dropblock-in-inference-graphs"


@pytest.mark.parametrize("path", _markdown_files(), ids=_rel)
def test_link_anchors_name_headings(path):
    """Every ``#anchor`` of a Markdown link (to a page or within the page) names a heading of that page."""
    text = re.sub(r"```.*?```", "", _read(path), flags=re.S)
    missing = []
    for target in _LINK.findall(text):
        page, _, anchor = target.partition("#")
        if not anchor or re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        linked = os.path.normpath(os.path.join(os.path.dirname(path), page)) if page else path
        if _rel(linked) in EXPECTED_LATER:
            continue
        if not linked.endswith(".md") or anchor not in _anchors(linked):
            missing.append(target)
    assert not missing, "%s links to headings that do not exist: %s" % (_rel(path), missing)


#: A page (and section) named in text: ``docs/PAGE.md``, ``docs/PAGE.md#anchor``, ``README.md#anchor``.
_PAGE_REFERENCE = re.compile(r"(?<![\w/.-])(README\.md|docs/[\w-]+\.md)(?:#([\w-]+))?")
#: A README section named in text: "README: Section Title", "the README's Section section".
_README_SECTION = re.compile(r"\bREADME: ([A-Z][\w ,'/-]*\w)|\bREADME's ([\w\s,'/-]+?)\s+section\b")


def _reference_sources():
    """The files whose text may point to a page: the Markdown pages, the package, scripts and tools (Python and
    shell) and the CI entry point."""
    files = _markdown_files() + list(_code_files()) + [os.path.join(ROOT, ".ci", "run")]
    for top in ("scripts", "tools"):
        files += sorted(glob.glob(os.path.join(ROOT, top, "*.sh")))
    return files


def test_page_and_section_references_resolve():
    """Every ``docs/PAGE.md[#anchor]``, ``README.md#anchor``, "README: SECTION" or "README's SECTION section" in the
    docs, code comments, docstrings and messages names a page that exists and a heading it has."""
    readme_sections = {heading.lower() for heading in _headings(README)}
    wrong = []
    for path in _reference_sources():
        text = _read(path)
        for match in _PAGE_REFERENCE.finditer(text):
            page, anchor = match.group(1), match.group(2)
            target = os.path.join(ROOT, page)
            if page in EXPECTED_LATER:
                continue
            if not os.path.isfile(target) or (anchor and anchor not in _anchors(target)):
                wrong.append("%s: %s" % (_rel(path), match.group(0)))
        for match in _README_SECTION.finditer(text):
            section = " ".join((match.group(1) or match.group(2)).split())
            if section.lower() not in readme_sections:
                wrong.append("%s: %s" % (_rel(path), match.group(0)))
    assert not wrong, wrong


def test_reference_patterns():
    text = "see docs/gluoncv.md#import-order, README.md and x/docs/a.md"
    assert [m.groups() for m in _PAGE_REFERENCE.finditer(text)] == [("docs/gluoncv.md", "import-order"),
                                                                    ("README.md", None)]
    assert [m.group(1) or m.group(2) for m in _README_SECTION.finditer(
        "(README: Using it from GluonCV). the README's Training\nsection says")] == ["Using it from GluonCV",
                                                                                    "Training"]


#: "older", "earlier", "previously" and "used to" in its history sense ("it used to", not "weights used to mix").
OLDER_WORDING = (r"\bolder\b|\bearlier\b|\bpreviously\b|\b(?:it|they|we|this|that|which|who|you)\s+used to\b|"
                 r"\bused to be\b")

#: history phrasing that does not belong in reference text (the README and docs describe what is, not what
#: changed); word boundaries keep "know", "renew", "knowledge", "newer" and "news" out.
HISTORY_WORDING = re.compile(
    r"\bissue\s*#?\d|\bcommit\s+[0-9a-f]{7}|"   # issue numbers and commit hashes
    r"\bnow\b|\bno longer\b|\bany ?more\b|\bNew:|\(new\)|\bnew (?:flag|option)s?\b|"
    r"\bscripts? not kept\b|\bcommitted after\b|" + OLDER_WORDING + "|"
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
    for text in ["written by an older export", "files of an earlier export", "Earlier versions wrote",
                 "as previously", "it used to skip them", "which used to be slow", "used to be the default"]:
        assert HISTORY_WORDING.search(text), text
    for text in ["renew the lease", "knowledge", "I know", "a new classifier", "newer MXNet", "snow", "nowhere",
                 "the tests check", "issue a warning", "commit the staged files", "resnest50-bcfefe1d.params",
                 "weights computed from the sum and used to mix the splits", "the images used to calibrate it",
                 "Java 8 or newer", "holder", "boulder"]:
        assert not HISTORY_WORDING.search(text), text


@pytest.mark.parametrize("path", _markdown_files(), ids=_rel)
def test_docs_hold_no_history(path):
    found = ["line %d: %r" % (_read(path).count("\n", 0, m.start()) + 1, m.group(0))
             for m in HISTORY_WORDING.finditer(_read(path))]
    assert not found, "%s: %s" % (_rel(path), found)


def test_code_quotes_no_issue_or_commit():
    found = ["%s: %r" % (_rel(p), m.group(0)) for p in _code_files() for m in PACKAGE_HISTORY.finditer(_read(p))]
    assert not found, found


def _comments_and_strings(source):
    """``(line, text)`` of every comment and string literal (docstrings, messages, f-string parts) of ``source``."""
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_code_comments_docstrings_and_messages_hold_no_history_wording():
    """No comment, docstring or message of the package, the scripts or the tools describes what changed."""
    found = []
    for path in _code_files():
        for line, text in _comments_and_strings(_read(path)):
            for match in HISTORY_WORDING.finditer(text):
                found.append("%s:%d: %r" % (_rel(path), line, match.group(0)))
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


@pytest.mark.parametrize("name", ["training options", "variants", "variant summary"])
def test_tables_are_generated_from_the_facts(name):
    """The options table of docs/training.md and the variant tables of docs/models.md and README.md are what
    ``tools/docs_tables.py`` writes from the option declarations and the catalogue."""
    from tools.docs_tables import TABLES, generated_table, split_page

    assert set(TABLES) == {"training options", "variants", "variant summary"}
    _, table, _ = split_page(_read(os.path.join(ROOT, TABLES[name][0])), name)
    assert table == generated_table(name), "the %s table is out of date: run python tools/docs_tables.py" % name


def test_generated_variant_tables_hold_every_catalogue_fact_they_show():
    """The generated tables list each variant once, in the catalogue's order, with the record's own values."""
    from gluon_resnest.models.catalogue import CATALOGUE
    from tools.docs_tables import models_page_variants, readme_variants

    for text in (models_page_variants(), readme_variants()):
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()[2:]]
        assert [row[0] for row in rows] == list(CATALOGUE)
    full = {row[0]: row for row in ([c.strip() for c in line.strip("|").split("|")]
                                    for line in models_page_variants().splitlines()[2:])}
    for name, record in CATALOGUE.items():
        row = full[name]
        assert int(row[7].replace(",", "")) == record.params and float(row[8]) == record.gmacs_224
        assert row[9].startswith("%d / " % record.pretrained.data_config.input_size)
        assert float(row[11].split()[0]) == record.pretrained.top1
