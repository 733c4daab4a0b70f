"""Time per crop of several model files in the same run, in interleaved rounds: is a new model slower than
the one it replaces?

    python benchmarks/crop_speed_compare.py MODEL [MODEL ...] [--rounds 9] [--calls 30]

MODEL is a checkpoint (.pt, timed as its float32 ONNX export, exported to a temporary folder) or an ONNX
file (an int8 export, timed as it is). Batch 1, ONNX Runtime with 1 and 2 threads; prints the median ms
per call of each and its ratio to the first, with `squatpose info` (the CPU) above.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from squatpose.info import collect_info, format_info
from squatpose.pose.checkpoint import load_model
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import OnnxRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import interleaved_ms  # noqa: E402


def onnx_file(model: Path, tmp: Path, index: int) -> tuple[Path, tuple[int, int]]:
    """The ONNX file to time for `model` and its input (w, h)."""
    if model.suffix == ".onnx":
        import onnx

        dims = onnx.load(str(model)).graph.input[0].type.tensor_type.shape.dim
        return model, (int(dims[3].dim_value), int(dims[2].dim_value))
    loaded = load_model(model)
    return export_onnx(loaded, tmp / f"model{index}.onnx"), tuple(loaded.codec.input_wh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+", help="checkpoints (.pt) or ONNX files")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    print(format_info(collect_info()))
    with tempfile.TemporaryDirectory() as tmp:
        files = [onnx_file(m, Path(tmp), i) for i, m in enumerate(args.models)]
        for threads in (1, 2):
            fns = []
            for path, (w, h) in files:
                crop = np.random.default_rng(0).normal(size=(1, 3, h, w)).astype(np.float32)
                fns.append(partial(OnnxRunner(path, threads), crop))
            ms = interleaved_ms(fns, args.rounds, args.calls)
            print(f"\n{threads} thread(s), median ms per crop of {args.rounds} interleaved rounds "
                  f"× {args.calls}:")
            for model, value in zip(args.models, ms):
                print(f"  {model}: {value:.2f} ms ({value / ms[0]:.2f}× the first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
