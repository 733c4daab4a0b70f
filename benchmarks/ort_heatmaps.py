"""Heatmaps of an ONNX pose model on saved crops, importing only NumPy and ONNX Runtime, so that it can run
under an emulated CPU (`qemu-x86_64 -cpu EPYC-Rome python benchmarks/ort_heatmaps.py ...`: AVX2 without
VNNI, whose ONNX Runtime kernels differ from this machine's). Used by `benchmarks/int8_variants.py`.

    python benchmarks/ort_heatmaps.py MODEL.onnx CROPS.npy OUT.npy [--x64-precision] [--batch 16]
"""
from __future__ import annotations

import argparse

import numpy as np
import onnxruntime as ort


def session(model: str, threads: int = 1, x64_precision: bool = False) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if x64_precision:  # ONNX Runtime turns int8 weights into uint8 where its uint8 x int8 kernel saturates
        options.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("crops", help=".npy of normalised crops (N,3,h,w) float32")
    parser.add_argument("out", help=".npy to write the heatmaps (N,K,H,W) float32 to")
    parser.add_argument("--x64-precision", action="store_true", help="set session.x64quantprecision")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    crops = np.load(args.crops)
    sess = session(args.model, 1, args.x64_precision)
    name = sess.get_inputs()[0].name
    out = [sess.run(None, {name: crops[i:i + args.batch]})[0] for i in range(0, len(crops), args.batch)]
    np.save(args.out, np.concatenate(out))


if __name__ == "__main__":
    main()
