"""Specification of nn/options.py: one field declaration gives a typed, checked option."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from nn import options
from nn.options import at_least, option, parse_hidden, parse_int, positive


@dataclass
class Recipe:
    lr: float = option(0.1, "learning rate", positive)
    hidden: list[int] = option(lambda: [8], "widths", parse=parse_hidden)
    limit: int | None = option(None, "images", at_least(1), unset="all", parse=parse_int)
    fast: bool = option(False, "go fast")
    kind: str = option("a", "kind", choices=("a", "b"))


FIELDS = {spec.name: spec for spec in dataclasses.fields(Recipe)}


def test_values_are_read_as_the_field_says_and_checked():
    assert options.parse_value(FIELDS["lr"], "1e-3") == 0.001
    assert options.parse_value(FIELDS["hidden"], "4x2") == [4, 4]
    assert options.parse_value(FIELDS["limit"], "5") == 5
    assert options.parse_value(FIELDS["fast"], "yes") is True
    with pytest.raises(ValueError, match="must be a number > 0, got -1.0"):
        options.parse_value(FIELDS["lr"], "-1")
    with pytest.raises(ValueError, match="expected a whole number, got 'many'"):
        options.parse_value(FIELDS["limit"], "many")
    with pytest.raises(ValueError, match="choose one of a, b"):
        options.parse_value(FIELDS["kind"], "c")


def test_the_parser_has_one_option_per_field_showing_each_default_once(capsys):
    parser = options.Parser(prog="recipe", argument_default=argparse.SUPPRESS)
    options.add_options(parser.add_argument_group("options"), Recipe)
    assert vars(parser.parse_args(["--lr", "0.5", "--no-fast", "--kind", "b"])) == {
        "lr": 0.5,
        "fast": False,
        "kind": "b",
    }
    text = " ".join(parser.format_help().split())
    for shown in ("(default: 0.1)", "(default: 8)", "(default: all)", "(default: false)"):
        assert text.count(shown) == 1, shown


def test_a_bad_value_is_one_line_naming_the_option(capsys):
    parser = options.Parser(prog="recipe")
    options.add_options(parser, Recipe)
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--limit", "0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        "recipe: error: argument --limit: must be at least 1, got 0 (see --help)\n"
    )
