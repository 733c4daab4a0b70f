import numpy as np
import pytest

from squatpose.pose.codec import HeatmapCodec


@pytest.mark.parametrize("input_wh,sigma", [((192, 256), 2.0), ((96, 128), 1.5), ((96, 128), 1.0)])
def test_round_trip_everywhere_without_modulation(input_wh, sigma):
    codec = HeatmapCodec(input_wh, 4, sigma)
    pts = np.random.default_rng(0).uniform(-1.9, np.array(input_wh) + 0.4, (500, 2))
    heatmaps, weights = codec.encode(pts, np.ones(len(pts)))
    decoded, scores = codec.decode(heatmaps, modulate=False)
    inside = weights > 0
    assert inside.sum() > 450
    assert np.abs(decoded - pts)[inside].max() < 2e-3
    assert scores[inside].min() > 0.5


def test_round_trip_with_modulation_away_from_border():
    codec = HeatmapCodec((192, 256), 4, 2.0)
    pts = np.random.default_rng(1).uniform(40, [152, 216], (300, 2))
    decoded, _ = codec.decode(codec.encode(pts, np.ones(300))[0])
    assert np.median(np.abs(decoded - pts)) < 1e-3
    assert np.abs(decoded - pts).max() < 5e-3


def test_pixel_convention():
    codec = HeatmapCodec((192, 256), 4, 2.0)
    np.testing.assert_allclose(codec.to_heatmap(np.array([[-0.5, 1.5]])), [[-0.5, 0.0]])
    heatmaps, _ = codec.encode(np.array([[9.5, 17.5]]), np.ones(1))  # heatmap (2, 4) exactly
    assert np.unravel_index(heatmaps[0].argmax(), heatmaps[0].shape) == (4, 2)
    assert heatmaps[0, 4, 2] == pytest.approx(1.0)


def test_joints_outside_crop_get_zero_weight_and_empty_map():
    codec = HeatmapCodec((96, 128), 4, 1.5)
    heatmaps, weights = codec.encode(np.array([[-5.0, 10.0], [50.0, 140.0], [40.0, 60.0]]),
                                     np.array([1, 1, 0]))
    np.testing.assert_array_equal(weights, [0, 0, 0])
    assert heatmaps.max() == 0
    heatmaps, weights = codec.encode(np.array([[40.0, 60.0]]), np.array([1.0]))
    assert weights[0] == 1 and heatmaps.max() > 0.9


def test_flip_is_exact():
    codec = HeatmapCodec((96, 128), 4, 1.5)
    pts = np.array([[20.3, 30.1], [70.7, 90.2]])
    mirrored = pts[[1, 0]].copy()
    mirrored[:, 0] = 95 - mirrored[:, 0]  # x → w - 1 - x and swap left/right
    hm, _ = codec.encode(pts, np.ones(2))
    hm_flipped_crop, _ = codec.encode(mirrored, np.ones(2))
    np.testing.assert_allclose(codec.flip(hm_flipped_crop, (1, 0)), hm, atol=1e-7)


def test_decode_batch_shapes_and_bad_sizes():
    codec = HeatmapCodec((96, 128), 4, 1.5)
    points, scores = codec.decode(np.zeros((3, 6, 32, 24), np.float32))
    assert points.shape == (3, 6, 2) and scores.shape == (3, 6)
    with pytest.raises(ValueError):
        HeatmapCodec((90, 128), 4, 2.0)
