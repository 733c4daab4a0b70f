import numpy as np
import pytest

from squatpose.geometry import (
    apply_affine,
    box_crop_matrix,
    box_problem,
    box_to_center_size,
    crop_affine,
    crop_normalized,
    invert_affine,
    points_box,
    warp_image,
)


def test_box_is_padded_to_aspect_without_stretching():
    center, size = box_to_center_size(np.array([10, 20, 30, 80]), aspect_wh=0.75, padding=1.25)
    np.testing.assert_allclose(center, [25, 60])
    # tall box: width grows to 0.75 * 80 = 60, then both sides × 1.25
    np.testing.assert_allclose(size, [75, 100])
    _, size = box_to_center_size(np.array([0, 0, 90, 30]), aspect_wh=0.75, padding=1.0)
    np.testing.assert_allclose(size, [90, 120])  # wide box: height grows, width kept


def test_box_at_image_border_keeps_aspect_and_centre():
    # A box touching the left/top border: nothing is clipped, so the crop keeps 3:4 and its centre.
    center, size = box_to_center_size(np.array([0, 0, 40, 100]), 0.75, 1.25)
    np.testing.assert_allclose(center, [20, 50])
    assert size[0] / size[1] == pytest.approx(0.75)


@pytest.mark.parametrize("bad", [[0, 0, 0, 10], [0, 0, 10, -1], [0, 0, np.nan, 5]])
def test_degenerate_box_is_rejected(bad):
    with pytest.raises(ValueError, match="positive finite size"):
        box_to_center_size(np.array(bad, float), 0.75)


def test_crop_maps_box_edges_to_input_pixel_edges():
    m = crop_affine(np.array([50.0, 100.0]), np.array([96.0, 128.0]), (48, 64))
    edges = apply_affine(np.array([[2.0, 36.0], [98.0, 164.0], [50.0, 100.0]]), m)
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [47.5, 63.5], [23.5, 31.5]], atol=1e-9)


def test_affine_round_trip_with_rotation_and_flip():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 300, (20, 2))
    m = crop_affine(np.array([150.0, 140.0]), np.array([120.0, 160.0]), (192, 256),
                    rotation_deg=25, flip=True)
    back = apply_affine(apply_affine(pts, m), invert_affine(m))
    np.testing.assert_allclose(back, pts, atol=1e-9)


def test_flip_mirrors_about_crop_centre():
    c, s = np.array([50.0, 50.0]), np.array([48.0, 64.0])
    plain = apply_affine(np.array([[40.0, 30.0]]), crop_affine(c, s, (48, 64)))
    flipped = apply_affine(np.array([[40.0, 30.0]]), crop_affine(c, s, (48, 64), flip=True))
    np.testing.assert_allclose(flipped[0], [47 - plain[0, 0], plain[0, 1]])


def test_rotation_direction_is_counter_clockwise_as_seen():
    # A point right of the centre moves up (smaller y) when the content turns counter-clockwise.
    m = crop_affine(np.array([0.0, 0.0]), np.array([100.0, 100.0]), (100, 100), rotation_deg=90)
    p = apply_affine(np.array([[10.0, 0.0]]), m)[0]
    np.testing.assert_allclose(p, [49.5, 39.5], atol=1e-9)


def test_image_and_points_warp_identically():
    image = np.zeros((120, 160, 3), np.uint8)
    image[70, 37] = 255  # one bright pixel at x=37, y=70
    m = crop_affine(np.array([59.5, 59.5]), np.array([60.0, 80.0]), (60, 80))  # lands on whole pixels
    crop = warp_image(image, m, (60, 80))
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    np.testing.assert_allclose(apply_affine(np.array([[37.0, 70.0]]), m)[0], [x, y], atol=1e-6)


def test_warp_outside_image_is_black():
    image = np.full((50, 50, 3), 200, np.uint8)
    m = crop_affine(np.array([0.0, 0.0]), np.array([48.0, 64.0]), (48, 64))
    crop = warp_image(image, m, (48, 64))
    assert crop[0, 0].sum() == 0 and crop[-1, -1].sum() > 0


def test_points_box():
    box = points_box(np.array([[1.0, 2.0], [5.0, 9.0], [100.0, 100.0]]), np.array([True, True, False]))
    np.testing.assert_allclose(box, [1, 2, 4, 7])
    assert points_box(np.zeros((3, 2)), np.array([True, False, False])) is None


def test_crop_normalized_warps_then_normalises():
    image = np.full((40, 30, 3), (100, 150, 200), np.uint8)
    matrix = box_crop_matrix(np.array([-15.0, 0.0, 30.0, 40.0]), (24, 32), 1.0)  # half the crop is off-image
    mean, std = (100.0, 100.0, 100.0), (50.0, 25.0, 10.0)
    x = crop_normalized(image, matrix, (24, 32), mean, std)
    assert x.shape == (3, 32, 24) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(x[:, 16, 20], [0.0, 2.0, 10.0])      # inside: (rgb - mean) / std
    np.testing.assert_allclose(x[:, 16, 2], [-2.0, -4.0, -10.0])    # outside the image: black
    out = np.zeros((3, 32, 24), np.float32)
    darker = crop_normalized(image, matrix, (24, 32), mean, std, adjust=lambda crop: crop // 2, out=out)
    assert darker is out
    np.testing.assert_allclose(out[:, 16, 20], [-1.0, -1.0, 0.0])


@pytest.mark.parametrize("box, problem", [
    ([10, 10, 100, 200], None), ([-50, -50, 100, 100], None), ([0, 0, 1280, 1440], None),
    ([0, 0, 1e300, 1e300], "more than 2 times the size of the 640×720 frame"),
    ([0, 0, 10**400, 5], "finite numbers"), ([0, 0, float("inf"), 5], "finite numbers"),
    ([0, 0, 0, 5], "positive width and height"), ([0, 0, 5], "four numbers"),
    ([640, 0, 10, 10], "lies outside the 640×720 frame"), ([-20, 0, 20, 10], "lies outside"),
])
def test_user_person_boxes_are_checked_against_the_frame(box, problem):
    found = box_problem(box, (640, 720))
    assert found is None if problem is None else problem in found
    assert box_problem([0, 0, 1e300, 1e300], None) is None  # without a frame only the numbers are checked
