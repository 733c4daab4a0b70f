"""The training-history script: run folders → one committed CSV → the model card's plot, and back."""
from __future__ import annotations

import json
import sys

import cv2
import pytest

import training_progress


def write_run(run_dir, epochs: int, with_train_s: bool) -> None:
    """A metrics.jsonl in the schema `squatpose train` writes (only the fields the script reads)."""
    run_dir.mkdir()
    lines = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "step": 150 * epoch, "train_loss": 0.002, "lr": 3e-4 / epoch,
               "lsp_train_dev": {"persons": 300,
                                 "pck_box": {"pooled": {"0.05": 70.0 + epoch, "0.1": 85.0 + epoch}}},
               "parse": {"persons": 305, "pck_box": {"pooled": {"0.05": 60.0, "0.1": 80.0}}}}
        if with_train_s:
            row["train_s"] = 600.0 * epoch
        lines.append(json.dumps(row))
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def run_script(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["training_progress.py", *args])
    training_progress.main()


def test_stages_number_epochs_on_and_the_csv_redraws_the_plot(tmp_path, monkeypatch, capsys):
    write_run(tmp_path / "s1", 2, with_train_s=False)
    write_run(tmp_path / "s2", 3, with_train_s=True)
    table, png = tmp_path / "history.csv", tmp_path / "history.png"
    # stage labels with commas, as the model card's are
    run_script(monkeypatch, "--stage", f"128×96, 515 steps={tmp_path / 's1'}",
               "--stage", f"256×192, lr 3e-4={tmp_path / 's2'}", "--csv", str(table))
    printed = capsys.readouterr().out
    assert "128×96, 515 steps: – min" in printed and "256×192, lr 3e-4: 30.0 min" in printed

    rows = list(training_progress.csv.DictReader(table.open(newline="")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert [int(r["stage_epoch"]) for r in rows] == [1, 2, 1, 2, 3]
    assert rows[0]["stage"] == "128×96, 515 steps" and rows[4]["lsp_train_dev_pck0.05"] == "73.00"
    assert rows[4]["person_keypoints_val2017_pck0.1"] == ""  # a set the run did not validate on

    run_script(monkeypatch, "--csv", str(table), "--plot", str(png))
    image = cv2.imread(str(png))
    assert image is not None and image.shape[1] > image.shape[0] > 200


def test_a_missing_run_folder_is_named(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="nowhere/metrics.jsonl: not found"):
        run_script(monkeypatch, "--stage", f"a={tmp_path / 'nowhere'}", "--csv", str(tmp_path / "t.csv"))
