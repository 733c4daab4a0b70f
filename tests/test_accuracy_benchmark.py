"""benchmarks/accuracy.py's either-side score: what left/right swaps cost a pair of joints."""
import numpy as np
import pytest

from accuracy import either_side_pck
from squatpose.pose.data.dataset import PersonRecord


def _person(left_visible: int = 1, right_visible: int = 1) -> PersonRecord:
    keypoints = np.array([[10, 10, left_visible], [50, 10, right_visible]], float)
    return PersonRecord("unused.jpg", 0, 0, np.array([0, 0, 100, 100.0]), keypoints, np.zeros((17, 3)),
                        10000.0, (100, 100))


def test_either_side_forgives_a_swap_but_not_a_collapse_onto_one_label():
    right, swapped, collapsed = [[10, 10], [50, 10]], [[50, 10], [10, 10]], [[10, 10], [10, 10]]
    assert either_side_pck(np.array([right, swapped], float), [_person(), _person()]) == 100.0
    assert either_side_pck(np.array([right, collapsed], float), [_person(), _person()]) == 75.0
    # one labelled shoulder: the prediction of either side may match it, once
    assert either_side_pck(np.array([swapped], float), [_person(right_visible=0)]) == pytest.approx(100.0)
