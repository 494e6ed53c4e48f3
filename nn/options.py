"""Command-line options made from a dataclass's fields: reading, checking and showing values.

A field declared with `option(...)` carries its help text, its check and its choices, so one
declaration serves the dataclass, the ``--help`` text, the parser and ``--grid``:

    >>> lr: float = option(1e-3, "learning rate", positive)
    >>> parse_value(FIELDS["lr"], "1e-3"), flag("val_split")
    (0.001, '--val-split')
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from dataclasses import field

# ----- values: reading and showing -----------------------------------------------------------


def parse_hidden(text: str) -> list[int]:
    """Hidden widths as the command line writes them.

    >>> parse_hidden("512-256"), parse_hidden("512x2"), parse_hidden("64")
    ([512, 256], [512, 512], [64])
    """
    try:
        if "x" in text:
            width, count = text.split("x")
            return [int(width)] * int(count)
        return [int(width) for width in text.split("-")]
    except ValueError:
        raise ValueError(
            f"expected widths joined by '-' (512-256) or WIDTHxLAYERS (512x2), got {text!r}"
        ) from None


def parse_channels(text: str) -> list[list[int]]:
    """A CNN's convolution stages as the command line writes them: stages joined by '-', each
    a channel count, or CHANNELSxCONVS for several 3x3 convolutions in one stage.

    >>> parse_channels("32-64"), parse_channels("32x2-64x2")
    ([[32], [64]], [[32, 32], [64, 64]])
    """
    stages = []
    for stage in text.split("-"):
        try:
            width, _, count = stage.partition("x")
            stages.append([int(width)] * int(count or 1))
        except ValueError:
            raise ValueError(
                "expected channels per stage joined by '-' (32-64) or CHANNELSxCONVS per stage"
                f" (32x2-64x2), got {text!r}"
            ) from None
    return stages


def parse_bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number such as 0.1 or 1e-3, got {text!r}") from None


def show_value(value) -> str:
    """One spelling of an option's value everywhere: folders, tables, titles, --help.

    >>> show_value([512, 256]), show_value(0.001), show_value(True), show_value(None)
    ('512-256', '0.001', 'true', 'none')
    """
    if isinstance(value, list):
        return "-".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    return str(value)


# ----- checks: each returns what is wrong, or None -------------------------------------------


def at_least(low: int) -> Callable:
    def check(value):
        return None if value is None or value >= low else f"must be at least {low}, got {value}"

    return check


def positive(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else f"must be a number > 0, got {value}"


def non_negative(value: float) -> str | None:
    return None if math.isfinite(value) and value >= 0 else f"must be a number >= 0, got {value}"


def fraction(value: float) -> str | None:
    return None if 0.0 <= value < 1.0 else f"must lie in [0, 1), got {value}"


def widths(value: list[int]) -> str | None:
    if not value or any(width < 1 for width in value):
        return f"widths must be positive whole numbers, got {show_value(value) or 'none'}"
    return None


def conv_stages(value: str) -> str | None:
    try:
        stages = parse_channels(value)
    except ValueError as error:
        return str(error)
    if any(count < 1 for stage in stages for count in [len(stage), *stage]):
        return f"channels and convolutions per stage must be at least 1, got {value!r}"
    return None


# ----- fields that are options ---------------------------------------------------------------


def option(default, help: str, check=None, choices=None, unset=None, parse=None, metavar=None):
    """A dataclass field that is also a command-line option.

    ``parse`` reads the value from text (by default: as the default's type); ``unset`` says, for
    --help, what a default of None means. A callable ``default`` is a factory (for lists).
    """
    metadata = {
        "help": help,
        "check": check,
        "choices": choices,
        "unset": unset,
        "parse": parse,
        "metavar": metavar,
    }
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def flag(name: str) -> str:
    """The command-line spelling of a field: ``val_split`` -> ``--val-split``."""
    return "--" + name.replace("_", "-")


def check_value(spec: dataclasses.Field, value) -> str | None:
    """What is wrong with ``value`` for the option ``spec``, or None."""
    if spec.metadata["choices"] and value not in spec.metadata["choices"]:
        return f"unknown value {value!r}; choose one of {', '.join(spec.metadata['choices'])}"
    check = spec.metadata["check"]
    return check(value) if check else None


def parse_value(spec: dataclasses.Field, text: str):
    """One option's value from text, typed and checked; a ValueError says what is wrong."""
    parse = spec.metadata["parse"]
    if parse is None:
        kind = type(spec.default)
        parse = {bool: parse_bool, int: parse_int, float: parse_float}.get(kind, str)
    value = parse(text)
    problem = check_value(spec, value)
    if problem:
        raise ValueError(problem)
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but a bad value is one line: the option, what was wrong, where to read more."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _option_type(spec: dataclasses.Field) -> Callable[[str], object]:
    def parse(text: str):
        try:
            return parse_value(spec, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = spec.name  # argparse names the type in some messages
    return parse


def add_options(group, config_class: type) -> None:
    """One argparse option per field of ``config_class``, each showing its default.

    >>> add_options(parser.add_argument_group("training options"), TrainConfig)
    """
    defaults = config_class()
    for spec in dataclasses.fields(config_class):
        default = getattr(defaults, spec.name)
        help_text = (
            f"{spec.metadata['help']} (default: {spec.metadata['unset'] or show_value(default)})"
        )
        if isinstance(default, bool):
            group.add_argument(
                flag(spec.name), action=argparse.BooleanOptionalAction, help=help_text
            )
        elif spec.metadata["choices"]:
            group.add_argument(flag(spec.name), choices=spec.metadata["choices"], help=help_text)
        else:
            metavar = spec.metadata["metavar"] or spec.name.upper()
            group.add_argument(
                flag(spec.name), type=_option_type(spec), metavar=metavar, help=help_text
            )
