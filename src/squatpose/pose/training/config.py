"""Training configuration: frozen dataclasses with range checks, read by squatpose.config's loader."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from squatpose.config import ConfigError, check, load
from squatpose.geometry import DEFAULT_BOX_PADDING


@dataclass(frozen=True)
class DatasetSpec:
    """One COCO person_keypoints JSON and the folder its `file_name`s are relative to."""

    annotations: str
    images: str
    repeat: int = 1                  # times each person appears per epoch (small precise sets)


@dataclass(frozen=True)
class AugmentConfig:
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.7, 1.35)
    rotation_deg: float = 30.0
    rotation_prob: float = 0.6
    shift_frac: float = 0.08         # random centre shift, fraction of the crop size
    lower_body_prob: float = 0.25    # crop around the labelled lower-body joints (a tracker's box)
    color_jitter: float = 0.25       # brightness/contrast/saturation amplitude
    # Gym footage (pose/data/occlusion.py); each a probability per sample, off by default.
    occluder_prob: float = 0.0       # a synthetic upright, bar, plate or bench over the legs
    patch_prob: float = 0.0          # a patch of another training image over the legs
    dark_legs_prob: float = 0.0      # legs darkened to low-contrast black fabric
    low_light_prob: float = 0.0      # gamma-darkened, colour cast, sensor noise
    blur_prob: float = 0.0           # linear motion blur
    portrait_prob: float = 0.0       # black side bands of a portrait frame
    small_person_prob: float = 0.0   # zoomed out: crop 1.6-2.4x the usual size (a person far away)

    def __post_init__(self) -> None:
        check("data.augment", flip_prob=0 <= self.flip_prob <= 1,
              scale_range=0 < self.scale_range[0] <= self.scale_range[1], rotation_deg=self.rotation_deg >= 0,
              rotation_prob=0 <= self.rotation_prob <= 1, shift_frac=self.shift_frac >= 0,
              lower_body_prob=0 <= self.lower_body_prob <= 1, color_jitter=0 <= self.color_jitter < 1,
              **{name: 0 <= getattr(self, name) <= 1 for name in self.APPEARANCE})

    APPEARANCE = ("occluder_prob", "patch_prob", "dark_legs_prob", "low_light_prob", "blur_prob",
                  "portrait_prob", "small_person_prob")


@dataclass(frozen=True)
class DataConfig:
    train: tuple[DatasetSpec, ...] = ()
    val: tuple[DatasetSpec, ...] = ()
    joint_set: str = "lower6"
    min_joints: int = 1              # persons with fewer labelled joints of the set are skipped
    include_crowd: bool = False
    box_padding: float = DEFAULT_BOX_PADDING
    deep_squat_repeat: int = 1       # extra copies of deep-squat poses (knee < 100°, upright trunk)
    num_workers: int = 2
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        check("data", min_joints=self.min_joints >= 0, box_padding=self.box_padding >= 1,
              num_workers=self.num_workers >= 0)


@dataclass(frozen=True)
class CodecConfig:
    input_wh: tuple[int, int] = (192, 256)
    stride: int = 4
    sigma: float = 2.0

    def __post_init__(self) -> None:
        check("codec", input_wh=min(self.input_wh) > 0, stride=self.stride > 0, sigma=self.sigma > 0)


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
    select_on: str | None = None     # validation set (file stem) that picks best.pt; None = mean of all
    distill_weight: float = 0.0      # share of the teacher's soft targets in the loss (0 = labels only)
    distill_min_score: float = 0.3   # teacher joints scored below this give no distillation target
    # lr factor for every layer outside `backbone`: a warm start that adds joints needs its decoder to move
    # faster than the backbone it keeps.
    decoder_lr_scale: float = 1.0
    # >0: validate, select and save an exponential moving average of the weights (the steps train the
    # raw weights); 0.995 averages over about the last 200 steps.
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        check("train", epochs=self.epochs >= 1, batch_size=self.batch_size >= 1, lr=self.lr > 0,
              weight_decay=self.weight_decay >= 0, warmup_steps=self.warmup_steps >= 0,
              step_milestones=all(0 < m <= 1 for m in self.step_milestones),
              checkpoint_minutes=self.checkpoint_minutes > 0,
              max_steps_per_epoch=self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1,
              threads=self.threads is None or self.threads >= 1, distill_weight=0 <= self.distill_weight <= 1,
              distill_min_score=0 <= self.distill_min_score <= 1, decoder_lr_scale=self.decoder_lr_scale > 0,
              ema_decay=0 <= self.ema_decay < 1)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def recipes() -> dict[str, Path]:
    """The training recipes shipped inside the package (`recipes/*.yaml`), by name."""
    folder = Path(str(resources.files("squatpose.pose.training") / "recipes"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_config(name_or_path: str | Path) -> Path:
    """A YAML file, or the name of a packaged recipe (`efflite0`), so a wheel install can train too."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = recipes()
    if path.suffix == "" and path.name == str(name_or_path) and path.name in shipped:
        return shipped[path.name]
    raise ConfigError(f"{name_or_path}: config file not found (packaged recipes: {', '.join(shipped)})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a training YAML or packaged recipe (missing sections take defaults), apply `--set` overrides."""
    return load(Config, None if path is None else resolve_config(path), overrides)
