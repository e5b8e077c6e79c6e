"""Range checks of config fields: each raises a :class:`~sparse_core.config.ConfigError` naming the key.

Config dataclasses call these from ``__post_init__``, so a bad value is refused when the config is built
(by :func:`~sparse_core.config.parse_config`, before anything runs, and by ``dataclasses.replace``). The
message is one line: the dotted key, what is valid, and the value given, e.g.
``tokens.drop_ratio must be a finite number >= 0 and < 1, got 1.5``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sparse_core.config import ConfigError

__all__ = ["bad_value", "check_int", "check_float", "check_choice", "check_divisible", "check_interval",
           "check_each"]


def bad_value(key: str, valid: str, value: object) -> ConfigError:
    """The error of ``key`` holding ``value`` where ``valid`` (e.g. ``"an integer >= 1"``) was expected."""
    return ConfigError(f"{key} must be {valid}, got {value!r}")


def check_int(key: str, value: object, low: int, optional: bool = False, high: int | None = None) -> None:
    """``value`` is an int with ``low <= value`` (``<= high`` if given), or None if ``optional``.

    Raises:
        ConfigError: otherwise (bools are refused: ``True`` is not a count).
    """
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise bad_value(key, f"an integer >= {low}{upper}" + (" (or None)" if optional else ""), value)


def check_float(key: str, value: object, low: float, strict: bool, high: float | None = None,
                high_strict: bool = False, optional: bool = False) -> None:
    """``value`` is a finite number in the interval given by ``low``/``high`` (``strict``: open at that end).

    Raises:
        ConfigError: otherwise (also for NaN, infinities and bools).
    """
    if value is None and optional:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if strict else v >= low) and (high is None or (v < high if high_strict else v <= high))
    if not ok:
        left = f"{'>' if strict else '>='} {low:g}"
        right = "" if high is None else f" and {'<' if high_strict else '<='} {high:g}"
        raise bad_value(key, f"a finite number {left}{right}" + (" (or None)" if optional else ""), value)


def check_choice(key: str, value: object, choices: Iterable[object]) -> None:
    """``value`` is one of ``choices``; the message lists them.

    Raises:
        ConfigError: otherwise.
    """
    options = tuple(choices)
    if value not in options:
        raise bad_value(key, "one of " + ", ".join(repr(c) for c in options), value)


def check_each(key: str, values: object, choices: Iterable[object]) -> None:
    """Every item of the list ``values`` is one of ``choices`` (``key[i]`` names a bad item).

    Raises:
        ConfigError: ``values`` is not a list or tuple, or an item is not a choice.
    """
    if not isinstance(values, (list, tuple)):
        raise bad_value(key, "a list", values)
    options = tuple(choices)
    for i, v in enumerate(values):
        check_choice(f"{key}[{i}]", v, options)


def check_divisible(key: str, value: int, divisor_key: str, divisor: int) -> None:
    """``value`` (of ``key``) is a multiple of ``divisor`` (of ``divisor_key``), e.g. an image side of patches.

    Raises:
        ConfigError: otherwise, naming both keys and their values.
    """
    if divisor and value % divisor:
        raise ConfigError(f"{key} ({value}) must be divisible by {divisor_key} ({divisor})")


def check_interval(key: str, pair: object, low: float, high: float, strict_low: bool = False) -> None:
    """``pair`` is ``(a, b)`` of finite numbers with ``low <= a <= b <= high`` (``low < a`` if ``strict_low``).

    Raises:
        ConfigError: otherwise.
    """
    if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
        raise bad_value(key, f"a pair (low, high) within [{low:g}, {high:g}]", pair)
    for i, v in enumerate(pair):
        check_float(f"{key}[{i}]", v, low, strict=strict_low, high=high)
    if pair[0] > pair[1]:
        raise bad_value(key, "a pair (low, high) with low <= high", tuple(pair))
