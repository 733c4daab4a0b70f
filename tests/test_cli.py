"""Command-line behaviour around failures: output folders checked before the work, Ctrl-C, a busy
data folder, and what the summary line claims."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from squatpose.analysis.tracks import LOWER_BODY
from squatpose.cli import main
from squatpose.outputs import LOCK_NAME
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
        assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")),
                     "--out", str(folder)]) == 2
        assert "cannot write into the output folder" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)


def test_ctrl_c_is_one_line(tmp_path, capsys, monkeypatch):
    import squatpose.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(squatpose.api, "analyze", interrupted)
    assert main(["analyze", "--keypoints", str(_keypoints(tmp_path / "k.json")),
                 "--out", str(tmp_path / "o")]) == 130
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


def test_hostile_keypoints_files_get_one_line_not_a_traceback(tmp_path, capsys):
    huge = _keypoints(tmp_path / "huge.json")
    huge.write_text(huge.read_text().replace('"fps": 30', '"fps": 1' + "0" * 400))
    deep = _keypoints(tmp_path / "deep.json")
    deep.write_text(deep.read_text()[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for path, problem in ((huge, "is beyond the range of floating-point numbers"),
                          (deep, "nested too deeply")):
        assert main(["analyze", "--keypoints", str(path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}: ") and problem in err and len(err.splitlines()) == 1


# ---------- no command writes over one of its inputs ----------

def _refused(argv, protected, capsys) -> str:
    """Run argv; it must fail at once with the overwrite message and leave `protected` as it was."""
    before = protected.read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite the input" in err, err
    assert protected.read_bytes() == before
    assert not list(protected.parent.glob(".*partial*"))
    return err


def test_eval_never_writes_over_its_annotations(tmp_path, tiny_coco, capsys):
    ann, images = tiny_coco
    own = tmp_path / "ann.json"
    own.write_bytes(ann.read_bytes())
    base = ["eval", "--annotations", str(own), "--images", str(images)]
    err = _refused(base + ["--out", str(own)], own, capsys)
    assert err.strip() == (f"error: {own}: --out is the same file as --annotations: refusing to overwrite "
                           "the input; choose another output name")
    os.link(own, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(own)
    for other in ("hard.json", "soft.json"):
        assert "(through a link)" in _refused(base + ["--metrics-out", str(tmp_path / other)], own, capsys)


def test_export_and_release_never_write_over_the_checkpoint(tmp_path, capsys):
    from squatpose.pose.predictor import default_checkpoint

    checkpoint = tmp_path / "trained.pt"
    checkpoint.write_bytes(default_checkpoint().read_bytes())
    _refused(["export", "--checkpoint", str(checkpoint), "--out", str(checkpoint)], checkpoint, capsys)
    os.link(checkpoint, tmp_path / "release.pt")
    _refused(["release", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "release.pt")],
             checkpoint, capsys)


def test_data_and_analyze_never_write_over_their_inputs(tmp_path, tiny_coco, capsys):
    ann, _ = tiny_coco
    own = tmp_path / "ann.json"
    own.write_bytes(ann.read_bytes())
    _refused(["data", "subset", "--annotations", str(own), "--out", str(own), "--mini", "2"], own, capsys)
    out = tmp_path / "squat"
    out.mkdir()
    video = out / "annotated.mp4"  # a previous run's annotated video, analysed again into the same folder
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(200))
    err = _refused(["analyze", str(video), "--out", str(out)], video, capsys)
    assert "--out " + str(video) + " is the same file as VIDEO" in err


def test_export_into_an_existing_folder_is_refused_first(tmp_path, capsys):
    folder = tmp_path / "model.onnx"
    folder.mkdir()
    assert main(["export", "--out", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {folder}: --out must be a file name, but it is a folder"
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())


def test_two_analyses_into_one_folder_never_mix(tmp_path, capsys):
    """A second run into a folder a first run is writing is refused at once; the first one's files agree."""
    import squatpose.api  # noqa: F401 - imported before the race, so the second run starts at once
    from helpers.synthetic_squats import squat_tracks
    from squatpose.analysis.tracks import save_keypoints_json

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    save_keypoints_json(squat_tracks(n_reps=3, view="front"), first)
    save_keypoints_json(squat_tracks(n_reps=2, view="side"), second)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    running = subprocess.Popen([sys.executable, "-m", "squatpose.cli", "analyze", "--keypoints", str(first),
                                "--out", str(out), "--quiet"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    end = time.monotonic() + 120
    while not (out / LOCK_NAME).exists() and running.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    code = main(["analyze", "--keypoints", str(second), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert running.wait(timeout=300) == 0, running.stderr.read().decode()
    assert code == 2 and f"another squatpose analysis (process {running.pid}) is writing" in err, err
    summary = json.loads((out / "summary.json").read_text())
    rows = {name: len((out / name).read_text().splitlines()) - 1 for name in ("keypoints.csv", "angles.csv")}
    assert summary["source"] == "first.json" and rows == {"keypoints.csv": summary["n_frames"],
                                                          "angles.csv": summary["n_frames"]}
    assert not list(out.glob(".*")), list(out.glob(".*"))  # no lock, no temporary file left
