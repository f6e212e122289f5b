"""Options declared once: the parser, the parsed settings and the default texts come from the declarations."""
import argparse
import dataclasses
from typing import Optional

import pytest

from gluon_resnest.utils.options import add_arguments, declared, default_text, option, settings_from_args


@dataclasses.dataclass(frozen=True)
class _Settings:
    size: int = option(0, "input size", flag="--input-size")
    models: tuple = option(("a", "b"), "variants", choices=("a", "b", "c"))
    batches: tuple = option((1, 8), "batch sizes")
    mode: Optional[str] = option(None, "a mode", type=str, choices=("x", "y"))
    fast: bool = option(False, "go fast")
    export: bool = option(True, "export at the end", negate="--no-export")
    smoothing: float = option(0.0, "label smoothing", bare_value=0.1)
    alpha: float = option(0.0, "mixup alpha", switch=("--mixup", 0.2))
    internal: int = 3


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser, [_Settings])
    return settings_from_args(_Settings, parser.parse_args(argv))


def test_defaults_come_from_the_declarations():
    assert _parse([]) == _Settings()


def test_every_kind_of_option_parses():
    got = _parse(["--input-size", "96", "--models", "c", "a", "--batches", "2", "--mode", "y", "--fast",
                  "--no-export", "--smoothing", "--mixup"])
    assert got == _Settings(size=96, models=("c", "a"), batches=(2,), mode="y", fast=True, export=False,
                            smoothing=0.1, alpha=0.2)
    assert _parse(["--mixup", "--alpha", "0.5"]).alpha == 0.5


def test_choices_are_enforced(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(["--models", "z"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_only_option_fields_are_declared_and_defaults_read_as_text():
    fields = {field.name: opt for field, opt in declared([_Settings])}
    assert "internal" not in fields
    by_name = {field.name: field for field in dataclasses.fields(_Settings)}
    assert default_text(by_name["batches"], fields["batches"]) == "1 8"
    assert default_text(by_name["mode"], fields["mode"]) == "none"
    assert default_text(by_name["export"], fields["export"]) == "on (--no-export turns it off)"


def test_an_option_without_default_needs_a_type():
    with pytest.raises(ValueError, match="needs its type"):
        option(None, "no type")
