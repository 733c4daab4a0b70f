"""Command line: argument parsing only; the work happens in the library modules."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

EPILOG = "Run `squatpose COMMAND --help` for the options of each command."


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a pose model from a YAML config",
                       description="Train a heatmap pose model. Writes last.pt/best.pt (self-describing "
                                   "checkpoints), metrics.jsonl, curves.png and the resolved config.yaml to --out. "
                                   "Re-running with the same --out resumes from last.pt.")
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/efflite0.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out has last.pt")
    p.add_argument("--overfit-batch", action="store_true",
                   help="sanity check: train on one fixed batch; the loss must fall near zero")
    p.add_argument("--steps", type=int, default=300, help="steps for --overfit-batch (default 300)")


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint on COCO-format keypoints (PCK, OKS-AP)",
                       description="Predict on each ground-truth person box and score in original image "
                                   "pixels: PCK@0.05/0.1/0.2 normalised by the larger box side (pooled and per "
                                   "joint), LSP-style torso PCK where shoulders are labelled, and OKS-AP.")
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: the built-in model)")
    p.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    p.add_argument("--images", required=True, help="folder the JSON's file_name entries are relative to")
    p.add_argument("--flip-test", action="store_true", help="average with the prediction on the mirrored crop")
    p.add_argument("--out", default=None, help="write predictions in COCO results format to this JSON")
    p.add_argument("--metrics-out", default=None, help="write the metrics as JSON to this file")
    p.add_argument("--min-joints", type=int, default=1,
                   help="evaluate persons with at least this many labelled joints of the set (default 1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="find the lower-body joints in one image and draw them",
                       description="Writes IMAGE_pose.jpg (skeleton and knee angles) and IMAGE_heatmaps.png "
                                   "(per-joint heatmap overlays) to --out, and prints the joints as JSON.")
    p.add_argument("image", help="input image (JPEG, PNG, ...)")
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: the built-in model)")
    p.add_argument("--box", default=None, help="person box x,y,w,h in pixels (default: found automatically)")
    p.add_argument("--out", default=".", help="output folder (default: current folder)")
    p.add_argument("--flip-test", action="store_true")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                   help="inference engine (default auto: ONNX Runtime when installed, else PyTorch)")


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="COCO subsets and label statistics")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("subset", help="write a subset of a COCO keypoints JSON",
                        description="Reproduce the original project's subsets of COCO 2017: --mini N random "
                                    "persons with any keypoint, and/or --lower-visible persons with all joints of "
                                    "the set labelled.")
    s.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    s.add_argument("--out", required=True, help="output JSON")
    s.add_argument("--mini", type=int, default=None, metavar="N", help="N random persons (e.g. 20000)")
    s.add_argument("--lower-visible", action="store_true", help="only persons with all joints of the set labelled")
    s.add_argument("--joint-set", default="lower6", help="joint set for --lower-visible (default lower6)")
    s.add_argument("--seed", type=int, default=0)
    t = dsub.add_parser("stats", help="per-joint label counts of COCO keypoints JSON files")
    t.add_argument("annotations", nargs="+", help="COCO person_keypoints JSON file(s)")
    t.add_argument("--joint-set", default="lower6")


def _add_analysis_options(p) -> None:
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: the built-in model)")
    p.add_argument("--out", default=None, help="output folder (default: <video name>_squat)")
    p.add_argument("--view", choices=("auto", "side", "front", "back"), default="auto",
                   help="camera view; auto detects it from the joints (default)")
    p.add_argument("--box", default=None, help="x,y,w,h of the person in the first frame (default: found)")
    p.add_argument("--fps", type=float, default=None, help="frame rate, when the video's own is missing or wrong")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                   help="inference engine: onnx (ONNX Runtime, ~3× faster on a CPU), torch, or auto "
                        "(onnx when installed; default)")
    p.add_argument("--config", default=None, help="YAML with analysis thresholds (smoothing, reps, feedback)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="analyse a squat video (or joint tracks): reps, depth, tempo, feedback",
                       description="Find the person's hips, knees and ankles in every frame, smooth them, and "
                                   "measure knee/hip angles, depth, repetitions, tempo and left/right asymmetry. "
                                   "Writes summary.json, keypoints.csv, angles.csv, plots, annotated.mp4 and "
                                   "report.html. With --keypoints, analyses joint tracks from any pose "
                                   "estimator instead (format: docs/keypoints-format.md).")
    p.add_argument("video", nargs="?", default=None, help="squat video (MP4, MOV, AVI, ...)")
    p.add_argument("--keypoints", default=None, help="joint-tracks JSON to analyse instead of a video")
    _add_analysis_options(p)


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on a public sample squat clip",
                       description="Analyses a public sample clip (two full squats and a third unfinished one) "
                                   "with the built-in model and writes the report. The clip is downloaded once "
                                   "into your cache and checked by SHA-256; --video uses your own clip instead.")
    p.add_argument("--video", default=None, help="analyse this clip instead of the sample")
    _add_analysis_options(p)


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX for fast CPU inference",
                       description="Writes an ONNX model (opset 17, dynamic batch) whose metadata records the "
                                   "joint set, codec and input normalisation.")
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: the built-in model)")
    p.add_argument("--out", required=True, help="output .onnx file")


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="start the local web page: upload a squat video or photo, read the results",
                       description="A local web app (FastAPI): upload a video or photo, watch the progress, read "
                                   "the analysis. The JSON API behind it is documented at /docs. Results stay on "
                                   "disk per job, so a restart loses nothing finished.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 lets anyone on "
                        "the network upload and see all results)")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--data-dir", default=None,
                   help="where jobs and models/*.pt live (default ~/.local/share/squatpose/web)")
    p.add_argument("--max-upload-mb", type=int, default=200, help="largest accepted upload (default 200)")
    p.add_argument("--workers", type=int, default=1,
                   help="analyses run at the same time, each in its own process (default 1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="squatpose", epilog=EPILOG,
        description="Lower-body pose estimation (hips, knees, ankles) and squat analysis.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_eval, _add_predict, _add_data, _add_analyze, _add_demo, _add_export, _add_serve):
        add(sub)
    return parser


def _writable_dir(path: str | Path) -> Path:
    """The output folder, made if needed and checked for writing before any work is done."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OSError(f"{path}: --out must be a folder, but it is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise OSError(f"{path}: cannot write into the output folder ({exc.strerror or exc})") from None
    return path


def _writable_file(path: str | None, option: str) -> None:
    """An output file's path: not a folder, in a folder that exists and can be written."""
    if path is None:
        return
    if Path(path).is_dir():
        raise OSError(f"{path}: {option} must be a file name, but it is a folder")
    parent = Path(path).parent
    if not parent.is_dir():
        raise OSError(f"{path}: the folder {parent} of {option} does not exist")
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise OSError(f"{path}: cannot write {option} there ({exc.strerror or exc})") from None


def _cmd_train(args) -> int:
    from squatpose.pose.training.config import load_config
    from squatpose.pose.training.loop import fit
    from squatpose.pose.training.overfit import overfit_one_batch

    config = load_config(args.config, args.overrides)
    if args.overfit_batch:
        losses = overfit_one_batch(config, steps=args.steps)
        ratio = losses[-1] / losses[0]
        print(f"overfit one batch: loss {losses[0]:.3e} → {losses[-1]:.3e} ({ratio:.1%} of the start) "
              f"after {len(losses)} steps")
        return 0 if ratio < 0.1 else 1
    out = args.out or str(Path("runs") / Path(args.config).stem)
    best = fit(config, out, resume=not args.no_resume)
    print(f"done: best checkpoint {best}")
    return 0


def _cmd_eval(args) -> int:
    from squatpose.pose.data.dataset import LoadReport, load_records
    from squatpose.pose.evaluation.evaluate import (
        coco_results,
        predict_records,
        score_predictions,
        write_results,
    )
    from squatpose.pose.predictor import Predictor

    _writable_file(args.out, "--out")
    _writable_file(args.metrics_out, "--metrics-out")
    predictor = Predictor.from_checkpoint(args.checkpoint, backend=args.backend)
    loaded = predictor.loaded
    report = LoadReport()
    records = load_records(args.annotations, args.images, loaded.joint_set, min_joints=args.min_joints, report=report)
    print(f"{args.annotations}: {report.summary()}")
    if not records:
        print("error: no persons to evaluate", file=sys.stderr)
        return 2
    xy, scores = predict_records(predictor.runner, records, loaded.codec, loaded.joint_set, loaded.input_mean,
                                 loaded.input_std, flip_test=args.flip_test, batch_size=args.batch_size)
    result = score_predictions(Path(args.annotations).stem, records, xy, scores, loaded.joint_set)
    print(result.tables())
    if args.out:
        write_results(args.out, coco_results(records, xy, scores, loaded.joint_set))
        print(f"predictions: {args.out}")
    if args.metrics_out:
        Path(args.metrics_out).write_text(json.dumps(result.to_dict(), indent=1))
    return 0


def _cmd_predict(args) -> int:
    from squatpose.photo import predict_image

    box = [float(v) for v in args.box.split(",")] if args.box else None
    _writable_dir(args.out)
    result = predict_image(args.image, args.out, checkpoint=args.checkpoint, box=box,
                           flip_test=args.flip_test, backend=args.backend)
    print(json.dumps(result, indent=1))
    return 0


def _cmd_data(args) -> int:
    from squatpose.joints import get_joint_set
    from squatpose.pose.data.subsets import format_stats, label_stats, make_subset

    joint_set = get_joint_set(args.joint_set)
    if args.data_command == "subset":
        counts = make_subset(args.annotations, args.out, joint_set, mini=args.mini,
                             lower_visible=args.lower_visible, seed=args.seed)
        print(f"{args.out}: {counts['persons']} persons in {counts['images']} images")
    else:
        for path in args.annotations:
            print(format_stats(label_stats(path), joint_set, path))
    return 0


def _run_analysis(args, video: str | None, keypoints: str | None) -> int:
    from squatpose.analysis.config import load_analysis_config
    from squatpose.api import analyze

    source = Path(video or keypoints)
    out = Path(args.out) if args.out else Path(f"{source.stem}_squat")
    box = [float(v) for v in args.box.split(",")] if args.box else None
    config = load_analysis_config(args.config) if args.config else None
    _writable_dir(out)
    result = analyze(video, out, keypoints=keypoints, checkpoint=args.checkpoint, view=args.view, box=box,
                     fps=args.fps, backend=args.backend, config=config, progress=not args.quiet)
    summary = result.to_summary()
    print(f"{source.name}: {summary['reps']} completed repetition(s), view {_view_text(summary['view'])}")
    for item in summary["feedback"]:
        print(f"  - {item['text']}")
    for line in summary["warnings"]:
        print(f"  warning: {line}")
    print(f"report: {out / 'report.html'}")
    return 0


def _view_text(view: dict) -> str:
    """The view as summary.json has it: a default guess is not presented as a detected view."""
    if not view.get("user_set") and str(view.get("method", "")).startswith("default"):
        return "unknown (too little data to tell)"
    return view["label"]


def _cmd_analyze(args) -> int:
    if (args.video is None) == (args.keypoints is None):
        print("error: give a VIDEO or --keypoints FILE (one of them)", file=sys.stderr)
        return 2
    return _run_analysis(args, args.video, args.keypoints)


def _cmd_demo(args) -> int:
    from squatpose.demo import sample_clip

    video = args.video or str(sample_clip())
    if args.out is None:
        args.out = "squatpose_demo"
    return _run_analysis(args, video, None)


def _cmd_export(args) -> int:
    from squatpose.pose.checkpoint import load_model
    from squatpose.pose.export import export_onnx
    from squatpose.pose.predictor import default_checkpoint

    path = export_onnx(load_model(args.checkpoint or default_checkpoint()), args.out)
    print(f"ONNX model: {path}")
    return 0


def _cmd_serve(args) -> int:
    from squatpose.web.server import serve

    try:
        serve(args.host, args.port, args.data_dir, args.max_upload_mb, args.workers)
    except RuntimeError as exc:  # e.g. another server holds the data folder
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {"train": _cmd_train, "eval": _cmd_eval, "predict": _cmd_predict, "data": _cmd_data,
            "analyze": _cmd_analyze, "demo": _cmd_demo, "export": _cmd_export, "serve": _cmd_serve}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return COMMANDS[args.command](args)
    except (ValueError, OSError, FloatingPointError) as exc:
        # Library errors already name the file and the problem; show them without a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: files already finished stay, half-written ones never appear
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
