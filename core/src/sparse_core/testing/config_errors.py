"""Test helpers for refused configurations: a CLI's one-line exit-2 message, a dataclass's ConfigError."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sparse_core.cli import CONFIG_ERROR
from sparse_core.config import ConfigError

__all__ = ["assert_cli_refuses", "assert_config_refuses"]


def assert_cli_refuses(main: Callable[[Sequence[str]], int], argv: Sequence[str], key: str, capsys: Any) -> str:
    """Run ``main(argv)`` and check it refused the run: exit status 2, one line on stderr naming ``key``.

    Args:
        main: a CLI's ``main(argv) -> int``.
        argv: its arguments.
        key: text the message must contain (the dotted key, or the key with its valid range).
        capsys: pytest's ``capsys`` fixture (stderr is read and cleared).

    Returns:
        the message line.
    """
    status = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert status == CONFIG_ERROR, f"exit status {status}, expected {CONFIG_ERROR}; stderr: {err}"
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert key in err, f"{key!r} not in {err!r}"
    return err


def assert_config_refuses(cls: type, kwargs: Mapping[str, Any], key: str,
                          required: Mapping[str, Any] | None = None) -> str:
    """Check that the config dataclass ``cls`` accepts its defaults but refuses ``kwargs``, naming ``key``.

    Args:
        cls: a config dataclass validating in ``__post_init__``.
        kwargs: the bad field values.
        key: text the :class:`~sparse_core.config.ConfigError` must contain.
        required: fields without a usable default, given to both constructions.

    Returns:
        the error message.
    """
    base = dict(required or {})
    cls(**base)
    try:
        cls(**{**base, **kwargs})
    except ConfigError as err:
        assert key in str(err), f"{key!r} not in {str(err)!r}"
        return str(err)
    raise AssertionError(f"{cls.__name__}(**{dict(kwargs)}) was accepted")
