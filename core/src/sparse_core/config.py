"""Typed configuration on jsonargparse: dataclasses, YAML files and dotted command-line overrides.

Every package describes its run as a nested ``@dataclass`` and calls :func:`parse_config`. The same parser
gives ``--help`` (every option with its default and docstring), ``--config NAME_OR_PATH`` (a shipped YAML by
name or any YAML path), dotted overrides such as ``--optim.lr 1e-3``, and rejects unknown keys with the list of
valid ones before anything is trained.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace, set_parsing_settings

try:  # attribute docstrings ("""...""" under a field) become the --help text of that option
    set_parsing_settings(docstring_parse_attribute_docstrings=True)
except Exception:
    pass

T = TypeVar("T")

__all__ = ["ConfigError", "build_parser", "parse_config", "save_config", "config_to_dict", "list_configs"]


class ConfigError(ValueError):
    """A configuration that cannot be used, with a message naming the problem and the valid choices."""


def list_configs(config_dir: Path | None) -> list[str]:
    """Names of the shipped YAML configs in ``config_dir`` (without the ``.yaml`` suffix)."""
    if config_dir is None or not Path(config_dir).is_dir():
        return []
    return sorted(p.stem for p in Path(config_dir).glob("*.yaml"))


def _resolve_config_arg(value: str, config_dir: Path | None) -> str:
    """Map ``--config tiny`` to ``<config_dir>/tiny.yaml``; paths are returned unchanged if they exist."""
    if Path(value).is_file():
        return value
    if config_dir is not None:
        candidate = Path(config_dir) / f"{Path(value).stem if value.endswith('.yaml') else value}.yaml"
        if candidate.is_file():
            return str(candidate)
    names = ", ".join(list_configs(config_dir)) or "(none shipped)"
    raise ConfigError(f"config '{value}' is neither a YAML file nor a shipped config; shipped configs: {names}")


def _unknown_keys(data: dict[str, Any], cls: type, prefix: str = "") -> list[str]:
    """Keys in a YAML mapping that the dataclass ``cls`` does not define, with the valid names for each."""
    if not dataclasses.is_dataclass(cls):
        return []
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = []
    for key, value in data.items():
        if key == "config":
            continue
        if key not in fields:
            problems.append(f"'{prefix}{key}' (valid keys{' under ' + prefix[:-1] if prefix else ''}: "
                            f"{', '.join(sorted(fields))})")
            continue
        ftype = fields[key].type
        sub = ftype if isinstance(ftype, type) else _field_class(cls, key)
        if isinstance(value, dict) and sub is not None and dataclasses.is_dataclass(sub):
            problems += _unknown_keys(value, sub, f"{prefix}{key}.")
    return problems


def _field_class(cls: type, name: str) -> type | None:
    import typing

    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return None
    hint = hints.get(name)
    return hint if isinstance(hint, type) else None


def build_parser(cls: type, prog: str | None = None, description: str | None = None,
                 lead: Sequence[str] = ()) -> ArgumentParser:
    """A jsonargparse parser for the dataclass ``cls`` with a ``--config`` option.

    Args:
        cls: the config dataclass.
        prog: program name.
        description: text under the usage line (default: the class docstring).
        lead: keys (``"out"``) and groups (``"precompute"``) that ``--help`` shows first, in the usage line and
            in the order of the groups, e.g. a command's own keys before the training keys it shares.
    """
    parser = ArgumentParser(prog=prog, description=description or (cls.__doc__ or "").strip(),
                            exit_on_error=False, allow_abbrev=False)
    parser.add_argument("--config", action=ActionConfigFile,
                        help="YAML config: a shipped name (see --list-configs) or a path; later flags override it")
    parser.add_class_arguments(cls, nested_key=None, fail_untyped=False, sub_configs=True)
    if lead:
        _lead_help(parser, lead)
    return parser


def _lead_help(parser: ArgumentParser, lead: Sequence[str]) -> None:
    """Put the options of ``lead`` (keys or group prefixes, in that order) first.

    They lead the usage line, and their groups follow argparse's own two (positionals, and the options holding
    ``--help``, ``--config`` and the top-level keys). argparse keeps actions and groups in lists in display order;
    parsing does not depend on it.
    """
    def rank(dest: str) -> int | None:
        return next((i for i, key in enumerate(lead) if dest == key or dest.startswith(key + ".")), None)

    actions = parser._actions  # argparse's action list: the usage line follows its order
    first = [a for a in actions if a.dest in ("help", "config")]
    own = sorted((a for a in actions if a not in first and rank(a.dest) is not None),
                 key=lambda a: rank(a.dest) or 0)  # stable: a group's keys keep their order
    actions[:] = first + own + [a for a in actions if a not in first and a not in own]
    groups: list[Any] = parser._action_groups  # type: ignore[assignment]  # a list at run time; typeshed says Sequence
    builtin, rest = groups[:2], groups[2:]
    lead_groups = [g for g in rest if any(rank(a.dest) is not None for a in g._group_actions)]
    groups[:] = builtin + lead_groups + [g for g in rest if g not in lead_groups]


def parse_config(cls: type[T], argv: Sequence[str] | None = None, prog: str | None = None,
                 config_dir: Path | None = None, lead: Sequence[str] = ()) -> T:
    """Parse ``argv`` into an instance of the dataclass ``cls``.

    Args:
        cls: top-level config dataclass (nested dataclasses become dotted groups, e.g. ``--optim.lr``).
        argv: command-line arguments (default ``sys.argv[1:]``).
        prog: program name shown in ``--help``.
        config_dir: folder of shipped YAML configs that ``--config NAME`` resolves against.
        lead: keys and groups ``--help`` shows first (see :func:`build_parser`).

    Raises:
        ConfigError: unknown keys, wrong types or a missing config, with the valid choices in the message.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if "--list-configs" in args:
        print("\n".join(list_configs(config_dir)))
        raise SystemExit(0)
    for i, a in enumerate(args):
        if a == "--config" and i + 1 < len(args):
            args[i + 1] = _resolve_config_arg(args[i + 1], config_dir)
            _check_yaml_keys(Path(args[i + 1]), cls)
        elif a.startswith("--config="):
            path = _resolve_config_arg(a.split("=", 1)[1], config_dir)
            args[i] = f"--config={path}"
            _check_yaml_keys(Path(path), cls)
    args = _normalise_flags(args, cls)
    parser = build_parser(cls, prog=prog, lead=lead)
    try:
        ns = parser.parse_args(args)
    except SystemExit:
        raise
    except Exception as err:  # jsonargparse raises ArgumentError with the offending key
        raise ConfigError(_explain(str(err), cls)) from None
    ns.pop("config", None)
    try:
        return _to_dataclass(cls, ns)
    except (TypeError, ValueError) as err:  # __post_init__ validation of a dataclass
        raise ConfigError(f"invalid configuration: {err}") from None


def _hint_of(cls: type, dotted: str) -> Any:
    """The type hint of the field ``a.b.c`` of the dataclass ``cls`` (None if there is no such field)."""
    import typing

    node: Any = cls
    hint: Any = None
    for part in dotted.split("."):
        if not (isinstance(node, type) and dataclasses.is_dataclass(node)):
            return None
        try:
            hint = typing.get_type_hints(node).get(part)
        except Exception:
            return None
        if hint is None:
            return None
        node = hint
    return hint


def _without_none(hint: Any) -> Any:
    import types
    import typing

    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _normalise_flags(args: list[str], cls: type) -> list[str]:
    """Accept the argparse spellings of CLI flags, rewritten to what the config parser reads.

    ``--flag`` (a bool field alone means true), ``--items a b c`` (a list field followed by its values, not
    written as ``[a,b,c]``) and ``--dashed-name`` for ``--dashed_name``; everything else is passed through
    unchanged.
    """
    import typing

    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        out.append(a)
        i += 1
        if not a.startswith("--") or a in ("--config", "--help", "--print_config"):
            continue
        key, eq, value = a[2:].partition("=")
        if "-" in key and _hint_of(cls, key) is None and _hint_of(cls, key.replace("-", "_")) is not None:
            key = key.replace("-", "_")  # --batch-size -> --batch_size
            out[-1] = f"--{key}{eq}{value}"
        if eq:
            continue
        hint = _without_none(_hint_of(cls, key))
        values: list[str] = []
        while i + len(values) < len(args) and not args[i + len(values)].startswith("--"):
            values.append(args[i + len(values)])
        if hint is bool and not values:
            out.append("true")
        elif typing.get_origin(hint) is list and values and not (
            len(values) == 1 and (values[0].lstrip().startswith("[") or values[0] in ("null", "None"))
        ):
            out.append("[" + ",".join(values) + "]")
            i += len(values)
    return out


def _explain(message: str, cls: type) -> str:
    """One line: the parser's complaint plus the valid keys of the group an unrecognised ``--group.key`` is in."""
    hint = ""
    match = re.search(r"unrecognized arguments: --([\w.]+)", message)
    if match:
        node: Any = cls
        for part in match.group(1).split(".")[:-1]:
            sub = _field_class(node, part)
            if sub is None or not dataclasses.is_dataclass(sub):
                break  # '--no.such_key': 'no' is not a group, so list the keys of the level above
            node = sub
        hint = f"; valid keys here: {', '.join(f.name for f in dataclasses.fields(node))}"
    text = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    return f"invalid configuration: {text}{hint} (run with --help for every option and its default)"


def _check_yaml_keys(path: Path, cls: type) -> None:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options, got {type(data).__name__}")
    problems = _unknown_keys(data, cls)
    if problems:
        raise ConfigError(f"unknown keys in {path}: " + "; ".join(problems))


def _to_dataclass(cls: type[T], ns: Any) -> T:
    """Build ``cls`` from a (nested) jsonargparse Namespace or dict."""
    if isinstance(ns, cls):
        return ns
    data = ns.clone(with_meta=False).as_dict() if isinstance(ns, Namespace) else dict(ns)
    return _from_dict(cls, data)


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints.get(f.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if isinstance(value, (dict, Namespace)):
                value = _from_dict(hint, value.as_dict() if isinstance(value, Namespace) else value)
        kwargs[f.name] = value
    return cls(**kwargs)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, YAML-serialisable dict of a config dataclass (paths become strings)."""
    def convert(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: convert(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        if isinstance(v, dict):
            return {str(k): convert(x) for k, x in v.items()}
        return v

    return convert(cfg)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML (re-loadable with ``--config path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return path
