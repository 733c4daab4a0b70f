"""Training configuration: frozen dataclasses loaded from YAML with strict keys and dotted overrides."""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from squatpose.geometry import DEFAULT_BOX_PADDING


@dataclass(frozen=True)
class DatasetSpec:
    """One COCO person_keypoints JSON and the folder its `file_name`s are relative to."""

    annotations: str
    images: str


@dataclass(frozen=True)
class AugmentConfig:
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.7, 1.35)
    rotation_deg: float = 30.0
    rotation_prob: float = 0.6
    shift_frac: float = 0.08         # random centre shift, fraction of the crop size
    lower_body_prob: float = 0.25    # crop around the labelled lower-body joints (a tracker's box)
    color_jitter: float = 0.25       # brightness/contrast/saturation amplitude


@dataclass(frozen=True)
class DataConfig:
    train: tuple[DatasetSpec, ...] = ()
    val: tuple[DatasetSpec, ...] = ()
    joint_set: str = "lower6"
    min_joints: int = 1              # persons with fewer labelled joints of the set are skipped
    include_crowd: bool = False
    box_padding: float = DEFAULT_BOX_PADDING
    num_workers: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class CodecConfig:
    input_wh: tuple[int, int] = (192, 256)
    stride: int = 4
    sigma: float = 2.0


@dataclass(frozen=True)
class ModelConfig:
    name: str = "efflite0"
    pretrained: str | None = "imagenet"   # "imagenet" (efflite0), a path/URL, or null


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    optimizer: str = "adam"          # adam | adamw
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    schedule: str = "cosine"         # cosine | step | constant
    step_milestones: tuple[float, ...] = (0.7, 0.9)   # fractions of the run, for "step"
    loss: str = "visible_mse"        # masked_mse (original: divides by K) | visible_mse
    seed: int = 0
    amp: bool = True                 # used on CUDA only
    checkpoint_minutes: float = 10.0
    max_steps_per_epoch: int | None = None
    val_flip_test: bool = True
    init_from: str | None = None     # warm start from a squatpose checkpoint (weights only)
    channels_last: bool = False
    threads: int | None = None       # torch intra-op threads on CPU; None keeps torch's default


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


class ConfigError(ValueError):
    pass


def _convert(cls_or_type: Any, value: Any, where: str) -> Any:
    """Build a dataclass or typed value from plain YAML data, rejecting unknown keys."""
    if dataclasses.is_dataclass(cls_or_type):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        hints = typing.get_type_hints(cls_or_type)
        names = {f.name for f in dataclasses.fields(cls_or_type)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
        return cls_or_type(**{k: _convert(hints[k], v, f"{where}.{k}") for k, v in value.items()})
    origin = typing.get_origin(cls_or_type)
    args = typing.get_args(cls_or_type)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if cls_or_type is float:
        # YAML 1.1 reads "5e-4" (no dot) as a string: accept any number-like value for float fields.
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if cls_or_type in (int, str, bool) and not isinstance(value, cls_or_type):
        raise ConfigError(f"{where}: expected {cls_or_type.__name__}, got {value!r}")
    if cls_or_type is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


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
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (missing sections take defaults) and apply `--set` overrides."""
    tree: dict = {}
    if path is not None:
        path = Path(path)
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
    tree = _merge(tree, parse_overrides(overrides or []))
    return _convert(Config, tree, str(path) if path else "config")


def config_to_dict(config: Any) -> Any:
    """Plain dict (tuples as lists) for YAML/JSON output."""
    if dataclasses.is_dataclass(config):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    return config
