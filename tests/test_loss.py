import pytest
import torch

from squatpose.pose.training.loss import get_loss, masked_mse, visible_mse


def _case():
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.zeros(2, 3, 4, 4)
    pred[0, 0] = 1.0   # per-map MSE 1, labelled
    pred[0, 1] = 3.0   # per-map MSE 9, NOT labelled: must not count
    pred[1, 2] = 2.0   # per-map MSE 4, labelled
    weights = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    return pred, target, weights


def test_masked_mse_divides_by_all_maps():
    pred, target, weights = _case()
    assert masked_mse(pred, target, weights).item() == pytest.approx((1 + 4) / 6)


def test_visible_mse_divides_by_labelled_maps():
    pred, target, weights = _case()
    assert visible_mse(pred, target, weights).item() == pytest.approx((1 + 4) / 3)


def test_unlabelled_maps_get_no_gradient():
    pred, target, weights = _case()
    pred.requires_grad_(True)
    visible_mse(pred, target, weights).backward()
    assert pred.grad[0, 1].abs().sum() == 0 and pred.grad[0, 0].abs().sum() > 0


def test_no_labels_gives_zero_not_nan():
    pred, target, _ = _case()
    assert visible_mse(pred, target, torch.zeros(2, 3)).item() == 0.0
    assert get_loss("masked_mse") is masked_mse
