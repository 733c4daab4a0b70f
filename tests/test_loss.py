import pytest
import torch

from squatpose.pose.training.loss import distill_loss, get_loss, masked_mse, visible_mse


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


def test_distill_loss_mixes_labels_and_teacher_by_the_weight():
    pred, labels, weights = _case()
    teacher = torch.ones(2, 3, 4, 4)  # per-map MSE vs pred: [[0, 4, 1], [1, 1, 1]]
    teacher_weights = torch.tensor([[0.5, 1.0, 0.0], [0.0, 0.0, 0.5]])  # the teacher's scores
    mixed = distill_loss(visible_mse, pred, (labels, weights), (teacher, teacher_weights), 0.25)
    assert mixed.item() == pytest.approx(0.75 * (1 + 4) / 3 + 0.25 * (1 * 4 + 0.5 * 1) / 2.0)
    plain = visible_mse(pred, labels, weights)
    off = distill_loss(visible_mse, pred, (labels, weights), (teacher, teacher_weights), 0.0)
    assert torch.equal(off, plain)
    only_teacher = distill_loss(masked_mse, pred, (labels, weights), (teacher, teacher_weights), 1.0)
    assert only_teacher.item() == pytest.approx(4.5 / 6)
