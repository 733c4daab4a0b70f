"""Imports point one way: the ground floor (joints, geometry, media, config, atomic, jsonable) imports no
tier; analysis (numpy and yaml only) and pose sit side by side above it; video and report above them; web,
api, cli on top. Read from the import statements of every module, and checked where it matters at run
time: importing video or analysis, or analysing a video with ONNX Runtime, loads no PyTorch."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, shared_or_skip, write_video

PACKAGE = REPO / "src" / "squatpose"
GROUND = {"joints", "geometry", "media", "config", "atomic", "jsonable"}
TOP = {"web", "api", "cli", "photo", "demo"}
# What each tier must not import from the package (first-party names after `squatpose.`).
FORBIDDEN = {
    "pose": {"analysis", "video", "report"} | TOP,
    "analysis": {"pose", "video", "report", "media", "geometry"} | TOP,
    "video": {"report"} | TOP,
    "report": {"video", "pose"} | TOP,
    **{name: {"analysis", "pose", "video", "report"} | TOP for name in GROUND},
}
ANALYSIS_THIRD_PARTY = {"numpy", "yaml"}


def imports_of(path: Path) -> set[str]:
    """Top-level names imported by a module, first-party ones as 'squatpose.<tier>'."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] if node.module != "squatpose" else [f"squatpose.{a.name}" for a in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names.add(".".join(parts[:2]) if parts[0] == "squatpose" else parts[0])
    return names


def tier_modules(tier: str) -> list[Path]:
    folder = PACKAGE / tier
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{tier}.py"]


@pytest.mark.parametrize("tier", sorted(FORBIDDEN))
def test_tier_imports_nothing_above_or_beside_it(tier) -> None:
    wrong = {f"{path.relative_to(PACKAGE)}: squatpose.{name}"
             for path in tier_modules(tier) for name in FORBIDDEN[tier]
             if f"squatpose.{name}" in imports_of(path)}
    assert not wrong, sorted(wrong)


def test_analysis_needs_only_numpy_and_yaml() -> None:
    third_party = {(path.name, name) for path in tier_modules("analysis") for name in imports_of(path)
                   if not name.startswith("squatpose") and name not in sys.stdlib_module_names}
    assert {name for _, name in third_party} <= ANALYSIS_THIRD_PARTY, sorted(third_party)


def run_python(code: str, env: dict | None = None) -> str:
    """`code` in a fresh interpreter with this checkout's package first on the path; its stdout."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


LOADED = "import sys; print(sorted(m for m in ('torch', 'cv2', 'onnxruntime', 'matplotlib') if m in sys.modules))"


def import_all(tier: str) -> str:
    return "".join(f"import squatpose.{tier}.{path.stem}\n" for path in tier_modules(tier)
                   if path.stem != "__init__" and path.parent == PACKAGE / tier)


def test_analysis_and_video_load_no_pytorch() -> None:
    assert run_python(import_all("analysis") + LOADED).strip() == "[]"
    assert "torch" not in run_python(import_all("video") + LOADED)


def test_analyzing_a_video_with_onnx_runtime_loads_no_pytorch(tmp_path) -> None:
    """With the export of the built-in model cached (the first run makes it, with PyTorch), `analyze
    --backend onnx` reads neither the checkpoint nor PyTorch, and finds the same joints."""
    from squatpose.media.video_reader import iter_frames_bgr, opened_video

    with opened_video(shared_or_skip("squat_videos", "squat_13.mp4")) as (cap, _):
        frames = [frame[::3, ::3] for frame, _ in zip(iter_frames_bgr(cap), range(20))]
    clip = write_video(tmp_path / "clip.mp4", [np.ascontiguousarray(f) for f in frames])
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    analyze = ("from squatpose.cli import main\n"
               f"assert main(['analyze', {str(clip)!r}, '--backend', 'onnx', '--out', OUT, '--quiet']) == 0\n")
    first = run_python(f"OUT = {str(tmp_path / 'first')!r}\n" + analyze + LOADED, cache)
    again = run_python(f"OUT = {str(tmp_path / 'again')!r}\n" + analyze + LOADED, cache)
    assert "'torch'" in first.splitlines()[-1] and "'torch'" not in again.splitlines()[-1]
    assert (tmp_path / "first" / "keypoints.csv").read_text() == (tmp_path / "again" / "keypoints.csv").read_text()
