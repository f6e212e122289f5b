"""Every script's options are declared once: each option of each script's parser (and of its subcommands) is an
option declared with ``gluon_resnest.utils.options.option()`` (in the package, the tools or the script itself),
with that declaration's flag, default and help text; a bad flag or value ends in one line and exit code 2."""
import argparse
import dataclasses
import importlib
import pkgutil

import pytest

import gluon_resnest
from gluon_resnest.utils.options import declared, option_flags
from tests.helpers.scripts import load_script, run_script

SCRIPTS = ["train.py", "export.py", "predict.py", "verify.py", "convert.py", "serve.py", "benchmark.py"]


def _declarations(extra_modules):
    """``{dest: [(field, Option)]}`` of every option declared in the package, the benchmark's settings and
    ``extra_modules``."""
    modules = [importlib.import_module(info.name) for info in
               pkgutil.walk_packages(gluon_resnest.__path__, gluon_resnest.__name__ + ".")]
    modules += [importlib.import_module("tools.benchmark.settings")] + list(extra_modules)
    found = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                for field, opt in declared([value]):
                    found.setdefault(field.name, []).append((field, opt))
    return found


def _option_actions(parser, command=""):
    """``(command, action)`` of every option (not positional, not --help) of ``parser`` and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _option_actions(sub, (command + " " + name).strip())
        elif action.option_strings and not isinstance(action, argparse._HelpAction):
            yield command, action


def _matches(action, field, opt):
    default = tuple(action.default) if isinstance(action.default, list) else action.default
    switch = opt.switch and action.dest == "switch_" + field.name
    return switch or (option_flags(field, opt)[0] in action.option_strings and default == field.default
                      and (action.help or "").startswith(opt.help))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_option_of_the_script_is_a_declared_option(script):
    module = load_script(script)
    found = _declarations([module])
    undeclared = []
    for command, action in _option_actions(module.parser()):
        name = action.dest[len("switch_"):] if action.dest.startswith("switch_") else action.dest
        if not any(_matches(action, field, opt) for field, opt in found.get(name, [])):
            undeclared.append("%s %s %s" % (script, command, action.option_strings[0]))
    assert not undeclared, "options not generated from a declaration: %s" % undeclared


@pytest.mark.parametrize("script, argv, flag", [
    ("export.py", ["--model", "resnest14", "--out", "x", "--size", "5000"], "--size"),
    ("export.py", ["--model", "resnest14", "--out", "x", "--params", "a", "--pretrained"], "--params"),
    ("predict.py", ["x", "--topk", "0"], "--topk"),
    ("predict.py", ["x", "--runtime", "tensorrt"], "--runtime"),
    ("verify.py", ["--export", "x", "--data", "y", "--batch-size", "0"], "--batch-size"),
    ("verify.py", ["--model", "resnest14", "--data", "y"], "--pretrained"),
    ("train.py", ["--toy", "--lr", "-1"], "--lr"),
    ("convert.py", ["to-torch", "a.params", "out", "--target", "keras"], "--target"),
    ("serve.py", ["start", "--model-store", ".", "--workers", "0"], "--workers"),
    ("benchmark.py", ["run", "--batches", "0"], "--batches"),
])
def test_a_bad_option_ends_in_one_line_naming_it(script, argv, flag):
    result = run_script(script, *argv, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and flag in lines[0], result.stderr
