"""Where commands write (squatpose.outputs, squatpose.atomic): never over an input, however it is named;
one run per output folder; unique temporary names; nothing left behind by an error."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from squatpose import atomic
from squatpose.outputs import (
    LOCK_NAME,
    FolderBusy,
    FolderLock,
    refuse_inputs_inside,
    refuse_overwriting_inputs,
    same_file,
)


def test_same_file_sees_through_links(tmp_path) -> None:
    original = tmp_path / "ann.json"
    original.write_text("{}")
    (tmp_path / "sub").mkdir()
    os.link(original, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(original)
    assert same_file(original, tmp_path / "sub" / ".." / "ann.json")
    assert same_file(original, tmp_path / "hard.json") and same_file(tmp_path / "soft.json", original)
    (tmp_path / "copy.json").write_text("{}")
    assert not same_file(original, tmp_path / "copy.json")
    assert not same_file(original, tmp_path / "new.json")  # not written yet: another file


def test_refuse_overwriting_inputs_names_both_options(tmp_path) -> None:
    ann = tmp_path / "ann.json"
    ann.write_text("{}")
    os.link(ann, tmp_path / "preds.json")
    with pytest.raises(ValueError,
                       match=r"preds.json: --out is the same file as --annotations \(through a link\): "
                                         "refusing to overwrite the input"):
        refuse_overwriting_inputs({"--out": tmp_path / "preds.json"}, {"--annotations": ann})
    with pytest.raises(ValueError, match="--out and --metrics-out are the same file"):
        refuse_overwriting_inputs({"--out": tmp_path / "m.json", "--metrics-out": tmp_path / "m.json"}, {})
    refuse_overwriting_inputs({"--out": tmp_path / "new.json", "--metrics-out": None},
                              {"--annotations": ann, "--onnx": None})  # fine: nothing is refused


def test_refuse_inputs_inside_a_replaced_folder(tmp_path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="clip.mp4: VIDEO lies inside --out"):
        refuse_inputs_inside(tmp_path / "out", {"VIDEO": tmp_path / "out" / "clip.mp4"})
    refuse_inputs_inside(tmp_path / "out", {"VIDEO": tmp_path / "clip.mp4"})


def test_folder_lock_refuses_a_second_run_and_takes_over_a_dead_ones(tmp_path) -> None:
    pytest.importorskip("fcntl")
    # A lock file left by a run that was killed (its pid is gone, its flock went with it) is taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(dead.stdout.strip())
    with FolderLock(tmp_path, "analysis"):
        assert (tmp_path / LOCK_NAME).read_text() == str(os.getpid())
        with pytest.raises(FolderBusy, match=f"another squatpose analysis \\(process {os.getpid()}\\) is "
                                             "writing"):
            FolderLock(tmp_path, "analysis").acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released on exit
    FolderLock(tmp_path).acquire().release()


def test_temporary_names_are_unique_and_errors_leave_nothing(tmp_path) -> None:
    target = tmp_path / "model.onnx"
    assert atomic.partial_path(target) != atomic.partial_path(target)
    partial = atomic.partial_path(target)
    assert partial.name.startswith(".model.") and partial.suffix == ".onnx"
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(OSError), atomic.replacing(tmp_path / "folder.onnx") as tmp:  # the rename fails
        tmp.write_bytes(b"onnx")
    with pytest.raises(KeyboardInterrupt), atomic.replacing(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.onnx"]


def test_a_file_set_appears_whole_or_not_at_all(tmp_path) -> None:
    (tmp_path / "summary.json").write_text("old")
    with pytest.raises(RuntimeError), atomic.FileSet() as files:
        files.write_text(tmp_path / "a.csv", "new a")
        files.write_text(tmp_path / "summary.json", "new")
        raise RuntimeError("crash before the commit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    assert (tmp_path / "summary.json").read_text() == "old"
    with atomic.FileSet() as files:
        files.write_text(tmp_path / "a.csv", "new a")
        files.write_text(tmp_path / "summary.json", "new")
        files.commit()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"a.csv": "new a", "summary.json": "new"}
