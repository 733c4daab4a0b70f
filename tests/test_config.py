"""The one config loader: YAML + `--set` overrides into checked dataclasses, for training and analysis."""
import pytest

from squatpose.analysis.config import load_analysis_config
from squatpose.config import ConfigError, to_dict
from squatpose.pose.models import MODELS
from squatpose.pose.training.config import load_config, recipes


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: dilated_cnn, pretrained: null}\ntrain: {lr: 0.002}\n")
    cfg = load_config(path, ["train.epochs=3", "codec.input_wh=[96,128]", "data.augment.flip_prob=0",
                             "train.weight_decay=5e-4"])
    assert cfg.model.name == "dilated_cnn" and cfg.model.pretrained is None
    assert cfg.train.lr == 0.002 and cfg.train.epochs == 3 and cfg.train.weight_decay == 5e-4
    assert cfg.codec.input_wh == (96, 128) and cfg.data.augment.flip_prob == 0.0
    assert to_dict(cfg)["codec"]["input_wh"] == [96, 128]


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {learning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        load_config(path)
    with pytest.raises(ConfigError, match="expected int"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="train.lr: expected float"):
        load_config(None, ["train.lr=fast"])
    with pytest.raises(ConfigError, match="must look like"):
        load_config(None, ["train.epochs"])
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("override, message", [
    ("train.lr=0", "train: invalid value for lr"),
    ("train.epochs=0", "train: invalid value for epochs"),
    ("data.box_padding=0.8", "data: invalid value for box_padding"),
    ("data.augment.flip_prob=1.5", "data.augment: invalid value for flip_prob"),
    ("codec.sigma=-1", "codec: invalid value for sigma"),
    ("train.distill_weight=1.5", "train: invalid value for distill_weight"),
    ("train.distill_min_score=-0.1", "train: invalid value for distill_min_score"),
])
def test_training_values_are_range_checked(override, message):
    with pytest.raises(ConfigError, match=f"^--set: {message}$"):
        load_config(None, [override])


def test_analysis_takes_overrides_too(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("reps: {min_depth: 0.25}\n")
    cfg = load_analysis_config(path, ["reps.min_depth=0.3", "smoothing.beta=2"])
    assert cfg.reps.min_depth == 0.3 and cfg.smoothing.beta == 2.0
    assert load_analysis_config(None, ["depth.leg_percentile=90"]).depth.leg_percentile == 90.0
    with pytest.raises(ConfigError, match=r"^--set: reps: invalid value for standing_depth$"):
        load_analysis_config(None, ["reps.standing_depth=0.5"])
    with pytest.raises(ConfigError, match=r"--set: unknown key\(s\) \['rep'\]"):
        load_analysis_config(None, ["rep.min_depth=0.3"])


def test_packaged_recipes_load_by_name():
    names = recipes()
    assert {"efflite0", "resnet18", "resnet18_fpn", "resnet18_fpn_attn", "dilated_cnn"} <= set(names)
    for name in names:
        cfg = load_config(name)
        assert cfg.data.train and cfg.data.val
        # one recipe per architecture, named after it; others (efflite0_v2, compare_cpu) build a known model
        assert cfg.model.name == name or (name not in MODELS and cfg.model.name in MODELS)
    with pytest.raises(ConfigError, match="efflite1: config file not found .packaged recipes: .*dilated_cnn"):
        load_config("efflite1")


def test_decoder_lr_scale_gives_the_layers_outside_the_backbone_their_own_rate():
    from squatpose.pose.models import build_model
    from squatpose.pose.training.setup import make_optimizer

    model = build_model("efflite0", 8, pretrained=None)
    plain = make_optimizer(model, load_config(None, ["train.lr=0.001"]).train)
    # decay and no-decay, one rate: the two groups that runs from before the option resume with
    assert [(g["lr"], g["weight_decay"] > 0) for g in plain.param_groups] == [(0.001, True), (0.001, False)]
    scaled = make_optimizer(model, load_config(None, ["train.lr=0.001", "train.decoder_lr_scale=3"]).train)
    rate = {id(p): g["lr"] for g in scaled.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert rate[id(named["backbone._conv_stem.weight"])] == 0.001
    assert rate[id(named["head.weight"])] == pytest.approx(0.003)
    assert len(rate) == len(named)
    with pytest.raises(ConfigError, match="invalid value for decoder_lr_scale"):
        load_config(None, ["train.decoder_lr_scale=0"])
