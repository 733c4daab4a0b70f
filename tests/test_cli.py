"""Command-line behaviour around failures: output folders checked before the work, Ctrl-C, a busy
data folder, and what the summary line claims."""
import json
import os

import numpy as np
import pytest

from squatpose.analysis.tracks import LOWER_BODY
from squatpose.cli import main
from squatpose.web.runner import DataDirLock


def _keypoints(path, n_frames=3):
    standing = [[300, 200, 0.9], [340, 200, 0.9], [300, 300, 0.9], [340, 300, 0.9], [300, 400, 0.9],
                [340, 400, 0.9]]
    path.write_text(json.dumps({"fps": 30, "joints": list(LOWER_BODY), "frames": [standing] * n_frames}))
    return path


def test_output_folder_that_is_a_file_is_refused_first(tmp_path, capsys):
    taken = tmp_path / "out.txt"
    taken.write_text("keep me")
    assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")), "--out", str(taken)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {taken}: --out must be a folder, but it is a file"
    assert taken.read_text() == "keep me"


def test_eval_out_that_is_a_folder_is_refused_first(tmp_path, tiny_coco, capsys):
    ann, images = tiny_coco
    folder = tmp_path / "preds"
    folder.mkdir()
    assert main(["eval", "--annotations", str(ann), "--images", str(images), "--out", str(folder)]) == 2
    assert f"{folder}: --out must be a file name, but it is a folder" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*partial*")) and not list(folder.iterdir())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_folder_is_refused_first(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")), "--out", str(folder)]) == 2
        assert "cannot write into the output folder" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)


def test_ctrl_c_is_one_line(tmp_path, capsys, monkeypatch):
    import squatpose.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(squatpose.api, "analyze", interrupted)
    assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")), "--out", str(tmp_path / "o")]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_second_server_on_the_same_folder_is_one_line(tmp_path, capsys):
    pytest.importorskip("uvicorn")
    data = tmp_path / "data"
    (data).mkdir()
    lock = DataDirLock(data)
    lock.acquire()
    try:
        assert main(["serve", "--data-dir", str(data), "--port", "0"]) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err.strip()
    assert err == f"error: {data}: another squatpose server is using this data folder"


def test_summary_line_does_not_claim_a_view_it_could_not_tell(tmp_path, capsys):
    assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line == "k.json: 0 completed repetition(s), view unknown (too little data to tell)"
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["view"]["method"].startswith("default") and np.isfinite(summary["fps"])
