"""int8 variants of the built-in model on every kind of CPU: accuracy on this CPU and on an emulated x86
CPU without VNNI, time per crop beside MoveNet Lightning, and where the non-VNNI kernel saturates.

    python benchmarks/int8_variants.py [--work derived/int8_variants] [--emulate EPYC-Rome] [--rounds 7]

1. Quantizes the built-in model with each recipe (`pose/quantize.py`: QOperator or QDQ, per-channel or
   per-tensor, int8 / 7-bit / uint8 weights, the first convolution or the saturating layers kept
   float), all from the same activation ranges (250 crops of LSP train persons, seed 0), into `--work`.
2. PCK@0.05 / 0.1 on the LSP dev split (GT boxes, no flip test) of the float model, the shipped file and
   each variant: with ONNX Runtime on this CPU and, when `qemu-x86_64` is installed, under QEMU's
   emulation of a CPU model with AVX2 and no VNNI (`--emulate`), where ONNX Runtime picks its AVX2
   kernels. Emulation is for numbers, not speed.
3. ms per crop (batch 1, 1 and 2 threads) of each file and of Lightning, in interleaved rounds.
4. The AVX2 uint8 x int8 kernel adds two products into a saturating 16-bit sum (`vpmaddubsw`); redone
   in NumPy for each convolution of the shipped file on dev crops, it shows which layers saturate.
Writes a Markdown table to stdout and everything to `--work`/results.json (with `squatpose info`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from speed import interleaved_ms  # the same interleaved timing as speed.py (benchmarks/ is on the path)
from squatpose.info import collect_info
from squatpose.joints import get_joint_set
from squatpose.pose.checkpoint import load_model
from squatpose.pose.data.dataset import PoseDataset, load_records
from squatpose.pose.evaluation.evaluate import score_predictions
from squatpose.pose.export import export_onnx
from squatpose.pose.predictor import default_checkpoint, heatmaps_to_image
from squatpose.pose.quantize import (
    CALIBRATION_PERSONS,
    PORTABLE_RECIPE,
    VNNI_RECIPE,
    Int8Recipe,
    calibration_batches,
    quantize_int8,
)
from squatpose.pose.runtime_choice import PORTABLE_FILE, VNNI_FILE, shipped_file

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LIGHTNING = SHARED / "teachers" / "movenet-lightning.onnx"
WORKER = Path(__file__).with_name("ort_heatmaps.py")
RECIPES = [
    VNNI_RECIPE,
    Int8Recipe("u8s7-per-channel", reduce_range=True),
    PORTABLE_RECIPE,
    Int8Recipe("u8s8-per-channel-first-float", first_conv_float=True),
    Int8Recipe("u8u8-per-channel", weights="u8"),
    Int8Recipe("u8s8-per-tensor", per_channel=False),
    Int8Recipe("u8s7-per-tensor", per_channel=False, reduce_range=True),
    Int8Recipe("qdq-u8s8-per-channel", qdq=True),
    Int8Recipe("qdq-u8s7-per-channel", qdq=True, reduce_range=True),
]
# Run under emulation (about 1 s of CPU per crop), beside the shipped 7-bit file.
EMULATED = ("shipped (u8s8-per-channel)", "shipped + x64quantprecision", "u8u8-per-channel")
SATURATING_SHARE = 0.001  # a layer whose outputs saturate this often is a candidate to keep float


def dev_crops(loaded, data: Path) -> tuple[list, np.ndarray, np.ndarray]:
    """The LSP dev split's records, their normalised GT-box crops `(N,3,h,w)` and crop matrices."""
    dev = REPO / "derived" / "lsp" / "lsp_train_dev.json"
    if not dev.is_file():
        raise SystemExit(f"{dev} is missing: squatpose data split --annotations {data}/lsp/lsp_train.json "
                         "--out-dir derived/lsp --dev 300 --seed 0")
    records = load_records(dev, data / "lsp" / "images", get_joint_set("lower6"), min_joints=1)
    dataset = PoseDataset(records, loaded.codec, loaded.joint_set, loaded.input_mean, loaded.input_std,
                          box_padding=loaded.box_padding)
    items = [dataset[i] for i in range(len(dataset))]
    crops = np.stack([item["image"].numpy() for item in items]).astype(np.float32)
    return records, crops, np.stack([item["matrix"].numpy() for item in items])


def session(path: Path, threads: int, x64_precision: bool = False) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if x64_precision:
        options.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def heatmaps_here(path: Path, crops: np.ndarray, x64_precision: bool) -> np.ndarray:
    sess = session(path, 2, x64_precision)
    return np.concatenate([sess.run(None, {"image": crops[i:i + 16]})[0] for i in range(0, len(crops), 16)])


def heatmaps_emulated(path: Path, crops_file: Path, cpu: str, x64_precision: bool,
                      scratch: Path) -> np.ndarray:
    out = scratch / f"{path.stem}-{int(x64_precision)}.npy"
    command = ["qemu-x86_64", "-cpu", cpu, sys.executable, str(WORKER), str(path), str(crops_file), str(out)]
    subprocess.run(command + (["--x64-precision"] if x64_precision else []), check=True,
                   stderr=subprocess.DEVNULL)
    return np.load(out)


def pck(loaded, records, heatmaps: np.ndarray, matrices: np.ndarray) -> tuple[float, float]:
    xy, score = heatmaps_to_image(loaded.codec, heatmaps, matrices)
    pooled = score_predictions("LSP dev", records, xy, score, get_joint_set("lower6")).pck_box.pooled
    return round(pooled[0.05], 2), round(pooled[0.1], 2)


def _im2col_nhwc(x: np.ndarray, kernel: tuple[int, int], strides, pads, pad_value: int) -> np.ndarray:
    """`(C,H,W)` uint8 → `(positions, kh*kw*C)` with K ordered (kh, kw, c), as ONNX Runtime packs it."""
    c, h, w = x.shape
    kh, kw = kernel
    padded = np.full((c, h + pads[0] + pads[2], w + pads[1] + pads[3]), pad_value, np.int32)
    padded[:, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    oh = (padded.shape[1] - kh) // strides[0] + 1
    ow = (padded.shape[2] - kw) // strides[1] + 1
    cols = [padded[:, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
            for i in range(kh) for j in range(kw)]
    return np.stack(cols, 0).transpose(2, 3, 0, 1).reshape(oh * ow, kh * kw * c)


def saturation_by_layer(int8_path: Path, crops: np.ndarray) -> list[dict]:
    """For each grouped (not depthwise) QLinearConv: the share of outputs where a pair of uint8 x int8
    products leaves the int16 range, and the accumulator error that causes, relative to its spread."""
    model = onnx.load(str(int8_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "QLinearConv"
             and next((a.i for a in n.attribute if a.name == "group"), 1) == 1]
    wanted = sorted({n.input[0] for n in convs})
    del model.graph.output[:]
    for name in wanted:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.UINT8, None))
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, f"{tmp}/m.onnx")
        sess = ort.InferenceSession(f"{tmp}/m.onnx", providers=["CPUExecutionProvider"])
        acts = [dict(zip(wanted, sess.run(wanted, {"image": crop[None]}))) for crop in crops]
    rows = []
    for node in convs:
        attrs = {a.name: list(a.ints) for a in node.attribute if a.ints}
        if inits[node.input[3]].dtype != np.int8:   # uint8 weights take another kernel
            continue
        weight = inits[node.input[3]].astype(np.int32)          # (Cout, Cin, kh, kw)
        kernel = weight.shape[2:]
        w = weight.transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)  # (Cout, K) in (kh, kw, c) order
        if w.shape[1] % 2:
            w = np.pad(w, ((0, 0), (0, 1)))
        zero = int(inits[node.input[2]])
        saturated = outputs = 0
        errors, spreads = [], []
        for act in acts:
            x = _im2col_nhwc(act[node.input[0]][0], kernel, attrs.get("strides", [1, 1]),
                             attrs.get("pads", [0, 0, 0, 0]), zero)
            if x.shape[1] % 2:
                x = np.pad(x, ((0, 0), (0, 1)))
            pairs = x[:, None, 0::2] * w[None, :, 0::2] + x[:, None, 1::2] * w[None, :, 1::2]
            exact = pairs.sum(-1)
            clipped = np.clip(pairs, -32768, 32767).sum(-1)
            saturated += int(((pairs < -32768) | (pairs > 32767)).any(-1).sum())
            outputs += exact.size
            errors.append(np.abs(clipped - exact).mean())
            spreads.append(exact.std())
        rows.append({"layer": node.name.removesuffix("_quant"), "saturated_outputs": saturated / outputs,
                     "mean_error_over_spread": float(np.mean(errors) / max(np.mean(spreads), 1e-9))})
    return rows


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"files": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data")
    parser.add_argument("--work", type=Path, default=REPO / "derived" / "int8_variants")
    parser.add_argument("--steps", default="saturation,accuracy,timing,emulation",
                        help="which steps to run (results of earlier runs in --work/results.json are kept)")
    parser.add_argument("--emulate", default="EPYC-Rome", help="QEMU CPU model without VNNI")
    parser.add_argument("--emulate-persons", type=int, default=300,
                        help="dev persons the shipped 8-bit file runs on under emulation (about 1 s of CPU "
                             "each; native PCK on the same persons is given beside)")
    parser.add_argument("--check-persons", type=int, default=16,
                        help="... and the files that should compute exactly what they compute here")
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds (interleaved)")
    parser.add_argument("--calls", type=int, default=20, help="timing: calls per round")
    parser.add_argument("--saturation-crops", type=int, default=4)
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    results_path = args.work / "results.json"
    saved = load_results(results_path)
    loaded = load_model(default_checkpoint())
    saved["info"] = collect_info()
    records, crops, matrices = dev_crops(loaded, args.data)
    print(f"{len(records)} persons of the LSP dev split; {saved['info']['cpu']['model']}, "
          f"x86 instructions {saved['info']['cpu']['instructions']}", flush=True)

    if "saturation" in steps:
        saved["saturation"] = saturation_by_layer(shipped_file(VNNI_FILE), crops[:args.saturation_crops])
        saved["kept_float"] = [r["layer"] for r in saved["saturation"]
                               if r["saturated_outputs"] >= SATURATING_SHARE]
    saturating = Int8Recipe("u8s8-per-channel-saturating-float",
                            keep_float=tuple(saved.get("kept_float", ())))
    # without the saturation step's list, only a file made by an earlier run can stand for this recipe
    made = "kept_float" in saved or (args.work / f"{saturating.name}.onnx").is_file()
    recipes = RECIPES + [saturating] * made

    files: dict[str, tuple[Path, bool]] = {"float32": (export_onnx(loaded, args.work / "float.onnx"), False),
                                           "shipped (u8s8-per-channel)": (shipped_file(VNNI_FILE), False),
                                           "shipped + x64quantprecision": (shipped_file(VNNI_FILE), True)}
    if shipped_file(PORTABLE_FILE).is_file():
        files[f"shipped 7-bit ({PORTABLE_RECIPE.name})"] = (shipped_file(PORTABLE_FILE), False)
    calibration = load_records(REPO / "derived" / "lsp" / "lsp_train_rest.json", args.data / "lsp" / "images",
                               loaded.joint_set)
    for recipe in recipes:
        path = args.work / f"{recipe.name}.onnx"
        if not path.is_file():
            batches = calibration_batches(loaded, calibration, CALIBRATION_PERSONS)
            quantize_int8(loaded, path, batches, CALIBRATION_PERSONS, recipe,
                          ranges_cache=args.work / "ranges.json")
        files[recipe.name] = (path, False)
    results = saved["files"]
    for name, (path, x64) in files.items():
        results.setdefault(name, {}).update(file=path.name, x64quantprecision=x64,
                                            size_mb=round(path.stat().st_size / 1e6, 2))

    if "accuracy" in steps:
        for name, (path, x64) in files.items():
            results[name]["pck_here"] = pck(loaded, records, heatmaps_here(path, crops, x64), matrices)
            print(name, results[name], flush=True)

    if "timing" in steps:
        lightning_input = np.random.default_rng(0).integers(0, 255, (1, 192, 192, 3)).astype(np.int32)
        for threads in (1, 2):
            sessions = [session(path, threads, x64) for path, x64 in files.values()]
            fns = [partial(s.run, None, {"image": crops[:1]}) for s in sessions]
            light = session(LIGHTNING, threads)
            fns.append(partial(light.run, None, {light.get_inputs()[0].name: lightning_input}))
            ms = interleaved_ms(fns, args.rounds, args.calls)
            for name, value in zip(files, ms):
                results[name][f"ms_{threads}t"] = round(value, 2)
            results.setdefault("MoveNet Lightning 192", {})[f"ms_{threads}t"] = round(ms[-1], 2)
            print(f"{threads} thread(s):",
                  {name: round(v, 2) for name, v in zip(list(files) + ["Lightning"], ms)},
                  flush=True)
        saved["timing_load_average"] = os.getloadavg()[0]

    if "emulation" in steps and shutil.which("qemu-x86_64"):
        saved.setdefault("emulation", {"cpu": args.emulate})
        with tempfile.TemporaryDirectory() as scratch:
            todo = [k for k in files if (k in EMULATED or k.startswith("shipped 7-bit"))
                    and "emulated" not in results[k]]   # slow: what an earlier run emulated is kept
            for name in todo:
                n = args.emulate_persons if name == EMULATED[0] else args.check_persons
                subset = Path(scratch) / f"crops{n}.npy"
                np.save(subset, crops[:n])
                path, x64 = files[name]
                emulated = heatmaps_emulated(path, subset, args.emulate, x64, Path(scratch))
                here = heatmaps_here(path, crops[:n], x64)
                results[name]["emulated"] = {
                    "persons": n, "largest_heatmap_difference": float(np.abs(emulated - here).max()),
                    "pck": pck(loaded, records[:n], emulated, matrices[:n]),
                    "pck_here_same_persons": pck(loaded, records[:n], here, matrices[:n])}
                print(name, "emulated", results[name]["emulated"], flush=True)
                results_path.write_text(json.dumps(saved, indent=1))
    results_path.write_text(json.dumps(saved, indent=1))
    print_tables(saved)


def _pair(values) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def print_tables(saved: dict) -> None:
    emulation = saved.get("emulation")
    print(f"\n{saved['info']['cpu']['model']}; emulated CPU: {emulation['cpu'] if emulation else None}")
    print("| file | PCK@0.05 / 0.1 here | emulated AVX2 without VNNI: PCK@0.05 / 0.1 (here, same persons); "
          "largest heatmap difference (persons) | ms 1 thread | ms 2 threads | MB "
          "|\n|---|---|---|---|---|---|")
    for name, row in saved["files"].items():
        here = _pair(row["pck_here"]) if "pck_here" in row else ""
        emu = row.get("emulated")
        emu_text = ""
        if emu:
            emu_text = (f"{_pair(emu['pck'])} ({_pair(emu['pck_here_same_persons'])}); "
                        f"{emu['largest_heatmap_difference']:.2g} ({emu['persons']})")
        print(f"| {name} | {here} | {emu_text} | {row.get('ms_1t', '')} | {row.get('ms_2t', '')} | "
              f"{row.get('size_mb', '')} |")
    print("\nlayers of the shipped 8-bit file whose AVX2 pair sums saturate (share of outputs; mean error / "
          "spread):")
    for r in saved.get("saturation", []):
        if r["saturated_outputs"] > 0:
            print(f"  {r['layer']}: {100 * r['saturated_outputs']:.3f} %, {r['mean_error_over_spread']:.4f}")


if __name__ == "__main__":
    main()
