"""Gym-footage augmentation: each change lands on the legs, is seeded, and leaves the labels alone."""
from __future__ import annotations

import numpy as np
import torch

from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import load_state_across_joint_sets
from squatpose.pose.codec import HeatmapCodec
from squatpose.pose.data.dataset import PoseDataset, load_records
from squatpose.pose.data.occlusion import (
    appearance_adjust,
    dark_legs,
    gym_occluder,
    low_light,
    motion_blur,
    paste_patch,
    portrait_cut,
)
from squatpose.pose.models import build_model
from squatpose.pose.training.config import AugmentConfig

LOWER8 = get_joint_set("lower8")


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    crop = rng.integers(90, 200, (256, 192, 3)).astype(np.uint8)
    leg = np.array([[96.0, 100.0], [100.0, 160.0], [96.0, 220.0]])  # hip, knee, ankle
    return crop, leg


def test_each_change_alters_pixels_near_the_legs_only_where_it_should() -> None:
    crop, leg = _scene()
    changed = {
        "occluder": gym_occluder(crop, leg, np.random.default_rng(1)),
        "patch": paste_patch(crop, np.zeros((80, 80, 3), np.uint8), leg, np.random.default_rng(2)),
        "dark": dark_legs(crop, [leg], np.random.default_rng(3)),
        "blur": motion_blur(crop, np.random.default_rng(4)),
    }
    for name, out in changed.items():
        assert out.shape == crop.shape and out.dtype == np.uint8, name
        assert (out != crop).any(axis=2).mean() > 0.01, name
    dark = changed["dark"].astype(int)
    assert dark[160, 100].mean() < crop[160, 100].mean() * 0.5   # the knee is darkened
    assert (dark[10, 10] == crop[10, 10]).all()                  # far from the legs nothing changes
    assert low_light(crop, np.random.default_rng(5)).mean() < crop.mean() * 0.8
    cut = portrait_cut(crop, leg, np.random.default_rng(6))
    assert (cut[:, 0] == 0).all() and (cut[:, 96] == crop[:, 96]).all()  # bands at the sides, person kept


def test_adjustment_is_reproducible_and_off_when_all_probabilities_are_zero() -> None:
    crop, leg = _scene()
    cfg = AugmentConfig(occluder_prob=1, dark_legs_prob=1, low_light_prob=1)
    a = appearance_adjust(cfg, np.random.default_rng(7), leg, [leg], lambda: crop)(crop)
    b = appearance_adjust(cfg, np.random.default_rng(7), leg, [leg], lambda: crop)(crop)
    assert np.array_equal(a, b)
    assert appearance_adjust(AugmentConfig(), np.random.default_rng(7), leg, [leg], lambda: crop) is None


def test_dataset_with_gym_augmentation_keeps_the_targets(tiny_coco) -> None:
    annotations, images = tiny_coco
    records = load_records(annotations, images, LOWER8)
    codec = HeatmapCodec((96, 128), 4, 2.0)
    plain = PoseDataset(records, codec, LOWER8, (0, 0, 0), (1, 1, 1), augment=AugmentConfig(color_jitter=0))
    gym = PoseDataset(records, codec, LOWER8, (0, 0, 0), (1, 1, 1), augment=AugmentConfig(
        color_jitter=0, occluder_prob=1, patch_prob=1, dark_legs_prob=1, low_light_prob=1, blur_prob=1,
        portrait_prob=1))
    a, b = plain[(0, 1)], gym[(0, 1)]
    assert torch.equal(a["heatmaps"], b["heatmaps"]) and torch.equal(a["weights"], b["weights"])
    assert not torch.equal(a["image"], b["image"])


def test_warm_start_to_more_joints_keeps_shared_heads_by_name() -> None:
    lower6, lower8 = get_joint_set("lower6"), LOWER8
    torch.manual_seed(0)
    old = build_model("dilated_cnn", lower6.num_joints)
    new = build_model("dilated_cnn", lower8.num_joints)
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    added = load_state_across_joint_sets(new, old.state_dict(), lower6.names, lower8.names, "v2.pt")
    assert added == ["left_shoulder", "right_shoulder"]
    head = [k for k, v in new.state_dict().items() if v.dim() and v.shape != old.state_dict()[k].shape]
    assert head
    for key in head:
        for name in lower6.names:
            assert torch.equal(new.state_dict()[key][lower8.index(name)], old.state_dict()[key][lower6.index(name)])
        assert torch.equal(new.state_dict()[key][0], fresh[key][0])  # a shoulder keeps its fresh init
    body = [k for k in new.state_dict() if k not in head]
    assert all(torch.equal(new.state_dict()[k], old.state_dict()[k]) for k in body)
