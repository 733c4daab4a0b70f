"""The one config loader (training and analysis): YAML → frozen dataclasses, `--set` overrides, range checks.

Unknown keys and values of the wrong type are errors naming the file and the dotted key (a key a section
lists in its `REPLACED` class mapping gets an error saying what replaced it); sections check their ranges
in `__post_init__` with `check`. Missing keys keep the dataclass defaults.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that can't be used; the message names the source and the key."""


def check(section: str, **conditions: bool) -> None:
    """Range checks of a config section: `check("reps", min_depth=0 < x < 1, ...)`."""
    bad = [name for name, ok in conditions.items() if not ok]
    if bad:
        raise ConfigError(f"{section}: invalid value for {', '.join(bad)}")


def _scalar(kind: type, value: Any, where: str) -> Any:
    if kind is float:
        # YAML 1.1 reads "5e-4" (no dot) as a string: accept any number-like value for float fields.
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected float, got {value!r}") from None
    wrong_type = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    if kind in (int, str, bool) and wrong_type:
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _convert(kind: Any, value: Any, source: str, key: str) -> Any:
    """Build a dataclass or typed value from plain YAML data, rejecting unknown keys."""
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, value, source, key)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert([a for a in args if a is not type(None)][0], value, source, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(args) != len(value):
            raise ConfigError(f"{source}: {key}: expected {len(args)} values, got {value!r}")
        return tuple(_convert(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    return _scalar(kind, value, f"{source}: {key}")


def from_dict(cls: type[T], data: Any, source: str = "config", key: str = "") -> T:
    """Dataclass `cls` from a nested mapping. Errors start with `source` (the file) and the dotted key."""
    where = f"{source}: {key}" if key else source
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    replaced = [k for k in unknown if k in getattr(cls, "REPLACED", {})]
    if replaced:
        name, value = replaced[0], data[replaced[0]]
        old = f"{key}.{name}" if key else name
        old += f".{next(iter(value))}" if isinstance(value, dict) and value else ""  # the key inside a section
        raise ConfigError(f"{source}: {old} is no longer a setting: use {cls.REPLACED[name]}")
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {names}")
    values = {k: _convert(hints[k], v, source, f"{key}.{k}" if key else k) for k, v in data.items()}
    try:
        return cls(**values)
    except ConfigError as exc:  # a range check in __post_init__ names its section
        raise ConfigError(f"{source}: {exc}") from None


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a section")
    node[keys[-1]] = value


def parse_overrides(overrides: list[str]) -> dict:
    """`["train.lr=3e-4", "data.num_workers=0"]` → nested dict; values parsed as YAML scalars."""
    tree: dict = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_dotted(tree, key.strip(), yaml.safe_load(raw))
    return tree


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if nested else value
    return out


def read_yaml(path: str | Path) -> dict:
    """A YAML file whose top level is a mapping (an empty file is `{}`)."""
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return tree


def load(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None) -> T:
    """Read a YAML config (missing sections take defaults), apply `--set` overrides, check everything."""
    tree = read_yaml(path) if path is not None else {}
    tree = _merge(tree, parse_overrides(overrides or []))
    return from_dict(cls, tree, str(path) if path is not None else "--set")


def to_dict(config: Any) -> Any:
    """Plain nested dict (tuples as lists) for YAML/JSON output."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    return config
