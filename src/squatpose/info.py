"""What this install runs on this machine: package and library versions, the CPU and its relevant
instructions, and the model file, backend, precision and threads the default backend picks, with why.
What a user pastes into a bug report and what a benchmark records beside its figures. Reads versions
from package metadata, so PyTorch is not imported."""
from __future__ import annotations

import platform
import sys
from importlib import metadata, util

import squatpose
from squatpose.pose.runtime_choice import DEFAULT_WEIGHTS, choose_here, shipped_file


def _version(*dists: str) -> str | None:
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def collect_info(threads: int | None = None) -> dict:
    """Everything `squatpose info` shows, as JSON-ready values (None: not installed)."""
    choice, cpu = choose_here(threads)
    onnx_export = util.find_spec("onnx") is not None
    if choice.file is not None and shipped_file(choice.file).is_file():
        backend, model_file = "onnx", str(shipped_file(choice.file))
    elif choice.file is not None:
        backend, model_file = ("onnx" if onnx_export else "torch"), str(shipped_file(DEFAULT_WEIGHTS))
        choice = type(choice)(None, "float32", choice.threads, f"{choice.file} is not installed")
    else:
        backend, model_file = ("onnx" if onnx_export else "torch"), str(shipped_file(DEFAULT_WEIGHTS))
    if backend == "onnx" and choice.file is None:
        model_file += " (exported once to float32 ONNX in the user's cache)"
    return {
        "squatpose": squatpose.__version__,
        "default_backend": {"model_file": model_file, "backend": backend, "precision": choice.precision,
                            "threads": choice.threads, "why": choice.reason},
        "cpu": {"model": cpu.model, "machine": cpu.machine, "instructions": cpu.relevant(),
                "read_from": cpu.source},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"numpy": _version("numpy"), "torch": _version("torch"),
                     "onnxruntime": _version("onnxruntime", "onnxruntime-gpu", "onnxruntime-silicon"),
                     "onnx": _version("onnx"),
                     "opencv": _version("opencv-python-headless", "opencv-python", "opencv-contrib-python")},
        "executable": sys.executable,
    }


def format_info(info: dict) -> str:
    """The human-readable form of `collect_info`."""
    default, cpu, versions = info["default_backend"], info["cpu"], info["versions"]
    present = [name for name, has in cpu["instructions"].items() if has]
    absent = [name for name, has in cpu["instructions"].items() if not has]
    lines = [
        f"squatpose {info['squatpose']}",
        f"default backend: {default['backend']}, {default['precision']}, {default['threads']} thread(s)",
        f"  model file: {default['model_file']}",
        f"  why: {default['why']}",
        f"CPU: {cpu['model'] or 'unknown'} ({cpu['machine']}; instructions read from {cpu['read_from']})",
        f"  has: {', '.join(present) or 'none of those that matter here'}"
        + (f"; lacks: {', '.join(absent)}" if absent else ""),
        f"Python {info['python']} on {info['platform']}",
        "  " + ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items()),
    ]
    return "\n".join(lines)
