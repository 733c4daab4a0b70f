import pytest

from squatpose.pose.training.config import ConfigError, config_to_dict, load_config


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: dilated_cnn, pretrained: null}\ntrain: {lr: 0.002}\n")
    cfg = load_config(path, ["train.epochs=3", "codec.input_wh=[96,128]", "data.augment.flip_prob=0",
                             "train.weight_decay=5e-4"])
    assert cfg.model.name == "dilated_cnn" and cfg.model.pretrained is None
    assert cfg.train.lr == 0.002 and cfg.train.epochs == 3 and cfg.train.weight_decay == 5e-4
    assert cfg.codec.input_wh == (96, 128) and cfg.data.augment.flip_prob == 0.0
    assert config_to_dict(cfg)["codec"]["input_wh"] == [96, 128]


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: {learning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        load_config(path)
    with pytest.raises(ConfigError, match="expected int"):
        load_config(None, ["train.epochs=many"])
    with pytest.raises(ConfigError, match="expected a number"):
        load_config(None, ["train.lr=fast"])
    with pytest.raises(ConfigError, match="must look like"):
        load_config(None, ["train.epochs"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_shipped_configs_load():
    from pathlib import Path
    for path in (Path(__file__).parents[1] / "configs").glob("*.yaml"):
        cfg = load_config(path)
        assert cfg.data.train and cfg.data.val, path
