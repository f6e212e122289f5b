"""The package layout and the facts it keeps in one place; the script flags the README and docs write; no history in
docstrings."""
import ast
import io
import os
import re
import subprocess
import sys
import tokenize

import pytest

from gluon_resnest.models.catalogue import CATALOGUE
from tests.helpers.scripts import ROOT, script_path

PACKAGE = os.path.join(ROOT, "gluon_resnest")


def _package_files():
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_top_level_holds_few_modules():
    modules = [f for f in os.listdir(PACKAGE) if f.endswith(".py") and f != "__init__.py"]
    assert len(modules) <= 6, modules


@pytest.mark.parametrize("fact", [r.pretrained.sha1 for r in CATALOGUE.values()] +
                         [r.pretrained.sha1[:8] for r in CATALOGUE.values()] +
                         [n for n in CATALOGUE if "fast" in n])
def test_each_variant_fact_is_written_in_one_package_file(fact):
    holders = [os.path.relpath(p, ROOT) for p in _package_files() if fact in _read(p)]
    assert holders == ["gluon_resnest/models/catalogue.py"], holders


def _comments_and_docstrings(source):
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


_HISTORY = [
    (re.compile(r"\bcommit\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b"), "a commit hash"),
    (re.compile(r"\d\s*%\s*(faster|slower)|\d(\.\d+)?x (faster|slower)|\d(\.\d+)?\s*(img/s|GFLOP/s)|"
                r"\b(faster|slower) than\b", re.I), "a measured speed"),
]


def test_no_docstring_or_comment_quotes_history_or_speed():
    found = []
    for path in list(_package_files()) + [script_path(f) for f in os.listdir(os.path.join(ROOT, "scripts"))
                                          if f.endswith(".py")]:
        for text in _comments_and_docstrings(_read(path)):
            for pattern, what in _HISTORY:
                match = pattern.search(text)
                if match:
                    found.append("%s quotes %s: %r" % (os.path.relpath(path, ROOT), what, match.group(0)))
    assert not found, "\n".join(found)


def _documented_files():
    docs = os.path.join(ROOT, "docs")
    return [os.path.join(ROOT, "README.md")] + sorted(os.path.join(docs, f) for f in os.listdir(docs)
                                                      if f.endswith(".md"))


_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _documented_commands():
    """``{script path: [(first word, {flags})]}`` for every ``scripts/NAME.py`` or ``tools/NAME.py`` command written
    in README.md and docs/*.md: in inline code up to the closing backtick, in a code block up to the end of the line
    and its backslash continuations (a shell comment left out). The first word is what follows the path when it is a plain word (a
    subcommand, for a script that has them), else None."""
    commands = {}
    for path in _documented_files():
        text = _read(path)
        for match in re.finditer(r"\b((?:scripts|tools)/\w+\.py)", text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            rest = text[match.end():]
            if text.count("`", line_start, match.start()) % 2:
                command = rest.split("`", 1)[0]
            else:
                command = re.split(r"\s#\s", re.split(r"(?<!\\)\n", rest, maxsplit=1)[0], maxsplit=1)[0]
            word = re.match(r"\s+([a-z][a-z0-9-]*)(?=\s|$)", command)
            commands.setdefault(match.group(1), []).append((word and word.group(1), set(_FLAG.findall(command))))
    return commands


def _help_text(script, *command):
    result = subprocess.run([sys.executable, os.path.join(ROOT, script)] + list(command) + ["--help"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _parser_flags(help_text):
    """The flags a ``--help`` lists in its argument sections (not those its description quotes)."""
    sections = re.search(r"^(?:positional arguments|options|optional arguments):$", help_text, re.M)
    return set(_FLAG.findall(help_text[sections.start():] if sections else ""))


def _subcommands(help_text):
    """The subcommands in a script's usage line (``{a,b,c} ...``), or ``[]``."""
    usage = help_text.split("\n\n", 1)[0]
    listed = re.search(r"\{([\w,-]+)\}\s+\.\.\.", usage)
    return listed.group(1).split(",") if listed else []


@pytest.mark.parametrize("script,commands", sorted((script, commands) for script, commands in
                                                    _documented_commands().items() if any(f for _, f in commands)))
def test_documented_commands_exist_in_script_parsers(script, commands):
    """Every command the README or a docs page writes after a script's path is one its parser takes: for a script
    with subcommands, a command with flags names a subcommand first, and each flag is in that subcommand's (or the
    script's) ``--help``; for the others, each flag is in the script's ``--help``."""
    top = _help_text(script)
    subcommands = _subcommands(top)
    flags_of = {None: _parser_flags(top)}
    wrong = []
    for word, flags in commands:
        if subcommands and (flags - {"--help"} or word):
            if word not in subcommands:
                wrong.append("%s %s (no subcommand; it has %s)" % (word or "", " ".join(sorted(flags)),
                                                                    ", ".join(subcommands)))
                continue
        else:
            word = None
        if word not in flags_of:
            flags_of[word] = _parser_flags(_help_text(script, word))
        if not flags <= flags_of[word]:
            wrong.append("%s %s" % (word or "", " ".join(sorted(flags - flags_of[word]))))
    assert not wrong, "the docs write %s commands its parser does not take: %s" % (script, wrong)


LAYERS = ["utils", "nn", "data", "models", "interop", "deploy", "train"]


def test_layers_import_only_from_layers_above():
    """The module map order of docs/contributing.md: a subpackage never imports from one listed after it."""
    found = []
    for path in _package_files():
        parts = os.path.relpath(path, PACKAGE).split(os.sep)
        if len(parts) < 2:
            continue
        for node in ast.walk(ast.parse(_read(path))):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
                other = node.module.split(".")[0]
                if other in LAYERS and LAYERS.index(other) > LAYERS.index(parts[0]):
                    found.append("%s imports %s" % (os.path.relpath(path, ROOT), node.module))
    assert set(LAYERS) == {p for p in os.listdir(PACKAGE) if os.path.isdir(os.path.join(PACKAGE, p, ""))
                           and p != "__pycache__"}
    assert not found, found


def _module_name(path):
    rel = os.path.relpath(path, ROOT)[:-len(".py")].split(os.sep)
    return ".".join(rel[:-1] if rel[-1] == "__init__" else rel)


def _imports_of(path, modules):
    """The package modules ``path`` imports anywhere in it (module level or inside functions), by name."""
    name = _module_name(path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(_read(path))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (base + "." + node.module if node.module else base) if node.level else node.module
            for alias in node.names:
                found.add(target + "." + alias.name if target + "." + alias.name in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name and not name.startswith(m + ".")}


def test_package_has_no_import_cycle():
    """No module of the package imports, directly or through others, a module that imports it (package
    ``__init__`` files importing their own submodules excepted: that is how a package exposes them)."""
    files = {_module_name(p): p for p in _package_files()}
    graph = {name: _imports_of(path, files) for name, path in files.items()}
    cycles = []

    def visit(name, stack):
        for other in sorted(graph[name]):
            if other in stack:
                cycles.append(" -> ".join(stack[stack.index(other):] + [other]))
            elif other not in done:
                visit(other, stack + [other])
        done.add(name)

    done = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert not cycles, "\n".join(sorted(set(cycles)))
