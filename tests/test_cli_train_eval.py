"""The CLI end to end on a tiny synthetic COCO set: train, resume, overfit one batch, eval, predict."""
import json

import numpy as np
import pytest
import torch

from squatpose.cli import main
from squatpose.pose.checkpoint import CheckpointError, load_model, read_checkpoint


def _config(tmp_path, tiny_coco, model="dilated_cnn"):
    ann, images = tiny_coco
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
data:
  train: [{{annotations: {ann}, images: {images}}}]
  val: [{{annotations: {ann}, images: {images}}}]
  num_workers: 0
codec: {{input_wh: [64, 64], sigma: 1.5}}
model: {{name: {model}, pretrained: null}}
train: {{epochs: 2, batch_size: 4, warmup_steps: 2, checkpoint_minutes: 100, val_flip_test: true}}
""")
    return path


def test_train_resume_and_eval(tmp_path, tiny_coco, capsys):
    cfg, out = _config(tmp_path, tiny_coco), tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "train.epochs=1"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1] and np.isfinite(rows[0]["train_loss"])
    assert {"best.pt", "last.pt", "curves.png", "config.yaml"} <= {p.name for p in out.iterdir()}
    # Resume: the second epoch continues from last.pt instead of starting over.
    assert main(["train", "--config", str(cfg), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["step"] == 4
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["joint_set"] == "lower6" and ckpt["model"]["name"] == "dilated_cnn"
    assert ckpt["box_padding"] == 1.25 and load_model(out / "last.pt").box_padding == 1.25
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in ckpt["state_dict"])

    ann, images = tiny_coco
    preds = tmp_path / "preds.json"
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out / "best.pt"), "--annotations", str(ann),
                 "--images", str(images),
                 "--flip-test", "--out", str(preds)]) == 0
    printed = capsys.readouterr().out
    assert "PCK@0.05" in printed and "left_knee" in printed and "OKS" in printed
    results = json.loads(preds.read_text())
    assert len(results) == 8 and {r["ann_id"] for r in results} == set(range(100, 108))
    first = results[0]
    assert first["category_id"] == 1 and len(first["keypoints"]) == 51
    kps = np.array(first["keypoints"]).reshape(17, 3)
    assert (kps[:11] == 0).all() and (kps[11:, 2] > 0).all()  # only the lower body is predicted


def test_overfit_batch_converges(tmp_path, tiny_coco, capsys):
    cfg = _config(tmp_path, tiny_coco)
    code = main(["train", "--config", str(cfg), "--overfit-batch", "--steps", "150",
                 "--set", "train.batch_size=4", "--set", "train.lr=0.003"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "overfit one batch" in out


def test_wrong_checkpoint_errors(tmp_path, tiny_coco, capsys):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bogus.pt: not a readable"):
        load_model(bogus)
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a squatpose checkpoint"):
        load_model(tmp_path / "other.pt")
    ann, images = tiny_coco
    assert main(["eval", "--checkpoint", str(tmp_path / "missing.pt"), "--annotations", str(ann),
                 "--images", str(images)]) == 2
    assert "missing.pt: checkpoint file not found" in capsys.readouterr().err


def test_checkpoint_of_another_architecture_is_refused(tmp_path, tiny_coco):
    cfg, out = _config(tmp_path, tiny_coco), tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "train.epochs=1",
                 "--set", "data.val=[]"]) == 0
    ckpt = torch.load(out / "last.pt", weights_only=False)
    ckpt["model"]["name"] = "efflite0"
    torch.save(ckpt, tmp_path / "mislabelled.pt")
    with pytest.raises(CheckpointError, match="mislabelled.pt: weights do not fit"):
        load_model(tmp_path / "mislabelled.pt")
    with pytest.raises(CheckpointError, match="joint set 'lower6', expected 'lower8'"):
        load_model(out / "last.pt", expect_joint_set="lower8")


def test_data_subset_and_stats(tmp_path, tiny_coco, capsys):
    ann, _ = tiny_coco
    out = tmp_path / "subset.json"
    assert main(["data", "subset", "--annotations", str(ann), "--out", str(out), "--mini", "3"]) == 0
    subset = json.loads(out.read_text())
    assert len(subset["annotations"]) == 3 and len(subset["images"]) == 3
    # One person's left ankle labelled but hidden (v=1): the original's subset wants all six visible.
    coco = json.loads(ann.read_text())
    coco["annotations"][0]["keypoints"][15 * 3 + 2] = 1
    hidden = tmp_path / "hidden.json"
    hidden.write_text(json.dumps(coco))
    capsys.readouterr()
    assert main(["data", "subset", "--annotations", str(hidden), "--out", str(out), "--lower-visible"]) == 0
    assert len(json.loads(out.read_text())["annotations"]) == 7
    assert "7 persons with all 6 joints visible (v=2), 8 with all labelled (v>0)" in capsys.readouterr().out
    assert main(["data", "subset", "--annotations", str(hidden), "--out", str(out),
                 "--lower-visible", "labelled"]) == 0
    assert len(json.loads(out.read_text())["annotations"]) == 8
    assert main(["data", "stats", str(ann)]) == 0
    table = capsys.readouterr().out
    assert "left_ankle" in table and " 8 " in table


@pytest.mark.parametrize("argv", [["eval", "--annotations", "a.json", "--images", "i"], ["predict", "p.jpg"],
                                  ["analyze", "v.mp4"], ["demo"]])
def test_model_options_have_one_default(argv):
    from squatpose.cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.backend == "auto" and args.checkpoint is None


def test_train_with_nothing_to_train_is_an_error(tmp_path, tiny_coco, capsys):
    cfg, out = _config(tmp_path, tiny_coco), tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "train.epochs=0"]) == 2
    printed = capsys.readouterr()
    # the config loader's range check stops it before anything is built or written
    assert "train: invalid value for epochs" in printed.err and "best checkpoint" not in printed.out
    assert not out.exists()


def test_resume_refuses_a_changed_config_and_lists_each_epoch_once(tmp_path, tiny_coco, capsys):
    cfg, out = _config(tmp_path, tiny_coco), tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "train.epochs=1",
                 "--set", "data.val=[]"]) == 0
    recorded = (out / "config.yaml").read_text()
    capsys.readouterr()
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "data.val=[]",
                 "--set", "train.lr=0.01"]) == 2
    err = capsys.readouterr().err
    assert "last.pt: the run was trained with a different config (train.lr: 0.001 -> 0.01)" in err
    assert (out / "config.yaml").read_text() == recorded
    # killed after logging epoch 2 but before saving it: epoch 2 runs again and is listed once
    with open(out / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 2, "step": 4, "train_loss": 1.0, "score": -2}) + "\n")
    assert main(["train", "--config", str(cfg), "--out", str(out), "--set", "data.val=[]"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["train_loss"] != 1.0
    assert "epochs: 2" in (out / "config.yaml").read_text()


def test_a_run_resumed_mid_epoch_logs_the_loss_of_the_whole_epoch(tmp_path, tiny_coco, monkeypatch):
    import squatpose.pose.training.loop as loop

    cfg, out = _config(tmp_path, tiny_coco), tmp_path / "run"
    losses: list[float] = []
    interrupt = [True]
    batch_loss = loop._batch_loss

    def recorded(*args):  # the loss of each batch the loop sums; Ctrl-C during the third batch, once
        if len(losses) == 2 and interrupt:
            interrupt.clear()
            raise KeyboardInterrupt
        loss = batch_loss(*args)
        losses.append(loss.item())
        return loss

    monkeypatch.setattr(loop, "_batch_loss", recorded)
    argv = ["train", "--config", str(cfg), "--out", str(out), "--set", "train.epochs=1",
            "--set", "data.val=[]",
            "--set", "train.batch_size=2",
            "--set", "train.checkpoint_minutes=1e-6"]  # last.pt after each batch
    assert main(argv) == 130
    assert read_checkpoint(out / "last.pt")["train_state"]["batch_in_epoch"] == 2
    assert main(argv) == 0  # resumes at the third of the epoch's four batches
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 4 and [r["epoch"] for r in rows] == [1]
    assert rows[0]["train_loss"] == pytest.approx(np.mean(losses), rel=1e-9)  # not the mean of the last two


def test_weight_average_folds_in_each_step_at_its_ramped_decay():
    from squatpose.pose.training.weight_average import WeightAverage

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].num_batches_tracked.fill_(7)
    average.update(model, step=0)  # ramp: decay min(0.9, 1/10) = 0.1
    weights = average.model.state_dict()
    assert torch.allclose(weights["0.weight"], start["0.weight"] + 0.9)
    assert torch.equal(weights["1.num_batches_tracked"], torch.tensor(7))
    average.update(model, step=1000)  # full decay 0.9: a tenth of the remaining 0.1 gap
    assert torch.allclose(average.model.state_dict()["0.weight"], start["0.weight"] + 0.91)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_a_weight_averaged_run_saves_the_average_and_resumes_from_the_raw_weights(tmp_path, tiny_coco):
    cfg = _config(tmp_path, tiny_coco)
    ema = ["--set", "train.ema_decay=0.5"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(["train", "--config", str(cfg), "--out", str(whole), *ema]) == 0
    assert main(["train", "--config", str(cfg), "--out", str(split), "--set", "train.epochs=1", *ema]) == 0
    assert main(["train", "--config", str(cfg), "--out", str(split), *ema]) == 0
    a, b = read_checkpoint(whole / "last.pt"), read_checkpoint(split / "last.pt")
    # An interrupted run ends where the uninterrupted one does, its average included.
    for weights in ("state_dict", "train_weights"):
        for key, value in a[weights].items():
            assert torch.allclose(value.float(), b[weights][key].float(), atol=1e-6), (weights, key)
    assert any(not torch.equal(a["state_dict"][k], a["train_weights"][k]) for k in a["state_dict"])
    released = tmp_path / "released.pt"
    assert main(["release", "--checkpoint", str(whole / "last.pt"), "--out", str(released)]) == 0
    shipped = read_checkpoint(released)
    assert "train_weights" not in shipped
    assert all(torch.equal(shipped["state_dict"][k], a["state_dict"][k]) for k in a["state_dict"])
