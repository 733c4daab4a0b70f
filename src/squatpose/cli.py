"""Command line: argument parsing only; the work happens in the library modules."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from squatpose.outputs import outputs_in, refuse_inputs_inside, refuse_overwriting_inputs

EPILOG = "Run `squatpose COMMAND --help` for the options of each command."
MAX_PRINTED_FEEDBACK = 20


def _add_model_options(p, backend: bool = True) -> None:
    """--checkpoint (and --backend): one definition, one default, for every command that runs the model."""
    p.add_argument("--checkpoint", default=None, help="model checkpoint (default: the built-in model)")
    if backend:
        p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                       help="inference engine: auto (default: the shipped int8 ONNX Runtime file of the "
                            "built-in weights that suits this CPU, else ONNX Runtime on a float export, else "
                            "PyTorch; `squatpose info` says which), onnx (float ONNX Runtime) or torch (PyTorch)")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a pose model from a YAML config",
                       description="Train a heatmap pose model. Writes last.pt/best.pt (self-describing "
                                   "checkpoints), metrics.jsonl, curves.png and the resolved config.yaml to --out. "
                                   "Re-running with the same --out resumes from last.pt.")
    p.add_argument("--config", required=True, help="a packaged recipe (efflite0, resnet18, resnet18_fpn, resnet18_fpn_attn, dilated_cnn) or a YAML file")
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
    p.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    p.add_argument("--images", required=True, help="folder the JSON's file_name entries are relative to")
    p.add_argument("--flip-test", action="store_true", help="average with the prediction on the mirrored crop")
    p.add_argument("--out", default=None, help="write predictions in COCO results format to this JSON")
    p.add_argument("--metrics-out", default=None, help="write the metrics as JSON to this file")
    p.add_argument("--min-joints", type=int, default=1,
                   help="evaluate persons with at least this many labelled joints of the set (default 1)")
    p.add_argument("--batch-size", type=int, default=32)
    _add_model_options(p)
    p.add_argument("--onnx", default=None, metavar="FILE",
                   help="run this ONNX file of the checkpoint's model (e.g. an int8 export) with ONNX Runtime")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="find the lower-body joints in one image and draw them",
                       description="Writes IMAGE_pose.jpg (skeleton and knee angles) and IMAGE_heatmaps.png "
                                   "(per-joint heatmap overlays) to --out, and prints the joints as JSON.")
    p.add_argument("image", help="input image (JPEG, PNG, ...)")
    p.add_argument("--box", default=None, help="person box x,y,w,h in pixels (default: found automatically)")
    p.add_argument("--out", default=".", help="output folder (default: current folder)")
    p.add_argument("--flip-test", action="store_true")
    _add_model_options(p)


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="COCO subsets and label statistics")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("subset", help="write a subset of a COCO keypoints JSON",
                        description="Reproduce the original project's subsets of COCO 2017: --mini N random "
                                    "persons with any keypoint, and/or --lower-visible persons with all joints "
                                    "of the set visible and annotated (v=2, the original's definition; "
                                    "'--lower-visible labelled' also keeps joints labelled as hidden, v=1).")
    s.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    s.add_argument("--out", required=True, help="output JSON")
    s.add_argument("--mini", type=int, default=None, metavar="N", help="N random persons (e.g. 20000)")
    s.add_argument("--lower-visible", nargs="?", const="visible", default=None, choices=("visible", "labelled"),
                   help="only persons with all joints of the set visible (default when given: v=2, as the "
                        "original) or, with 'labelled', labelled (v>0)")
    s.add_argument("--joint-set", default="lower6", help="joint set for --lower-visible (default lower6)")
    s.add_argument("--seed", type=int, default=0)
    t = dsub.add_parser("stats", help="per-joint label counts of COCO keypoints JSON files")
    t.add_argument("annotations", nargs="+", help="COCO person_keypoints JSON file(s)")
    t.add_argument("--joint-set", default="lower6")
    _add_data_preparation(dsub)


def _add_data_preparation(dsub) -> None:
    """`data split`, `data refine`, `data teacher-keypoints`, `data pseudo-label`: the built-in model's training
    data (docs/training.md)."""
    s = dsub.add_parser("split", help="hold out a fixed dev split of a COCO keypoints JSON (whole images)",
                        description="Writes OUT_DIR/<name>_dev.json (a seeded random draw of --dev images) and "
                                    "OUT_DIR/<name>_rest.json (the others, for training).")
    s.add_argument("--annotations", required=True, help="COCO person_keypoints JSON")
    s.add_argument("--out-dir", required=True, help="folder for the two JSON files")
    s.add_argument("--dev", type=int, default=300, help="images held out (default 300)")
    s.add_argument("--seed", type=int, default=0)
    r = dsub.add_parser("refine", help="refine noisy keypoint labels with a teacher model (training time only)",
                        description="For each labelled lower-body joint, snap it to a confident teacher that agrees, "
                                    "drop it where a confident teacher disagrees, keep it at a lower weight where "
                                    "the teacher is unsure, fix left/right swaps, and add joints the labels leave "
                                    "out where the teacher is very confident. Writes a COCO JSON with per-joint "
                                    "'keypoint_weights' and prints the counts.")
    r.add_argument("--annotations", required=True, help="COCO person_keypoints JSON to refine")
    r.add_argument("--images", required=True, help="folder the JSON's file_names are relative to")
    r.add_argument("--teacher", required=True, help="MoveNet SinglePose ONNX (e.g. ../shared/teachers/movenet-thunder.onnx)")
    r.add_argument("--out", required=True, help="refined COCO JSON to write")
    r.add_argument("--agree", type=float, default=0.1, help="agreement radius, fraction of the box side (0.1)")
    r.add_argument("--joint-set", default="lower6", choices=("lower6", "lower8"),
                   help="joints to refine (lower6: hips, knees, ankles; lower8 adds the shoulders)")
    r.add_argument("--no-flip", action="store_true", help="run the teacher once instead of averaging with the mirror")
    k = dsub.add_parser("teacher-keypoints", help="store a teacher model's keypoints with COCO data (distillation)",
                        description="Runs the teacher on every person's box and writes a copy of the COCO JSON whose "
                                    "persons carry 'teacher_keypoints' (x, y, score for the 17 COCO keypoints, "
                                    "image pixels): the soft targets of train.distill_weight. Computed once, "
                                    "before training. Prints the counts.")
    k.add_argument("--annotations", required=True, help="COCO person_keypoints JSON (left unchanged)")
    k.add_argument("--images", required=True, help="folder the JSON's file_names are relative to")
    k.add_argument("--teacher", required=True, help="MoveNet SinglePose ONNX (e.g. ../shared/teachers/movenet-thunder.onnx)")
    k.add_argument("--out", required=True, help="COCO JSON to write (not the input)")
    k.add_argument("--no-flip", action="store_true", help="run the teacher once instead of averaging with the mirror")
    v = dsub.add_parser("pseudo-label", help="training frames from exercise videos, labelled by a teacher model",
                        description="Samples frames of videos, finds the person with the teacher and labels the "
                                    "joints it finds confidently, stably across jittered and mirrored crops and "
                                    "steadily across neighbouring frames; skips near-duplicate poses and the "
                                    "held-out dev clips; marks frames where the student model disagrees as hard. "
                                    "Writes OUT/images/*.jpg, OUT/pseudo_labels.json and OUT/hard.json (COCO "
                                    "keypoints) and prints the counts of each step. Keep OUT outside the "
                                    "repository. A clip that cannot be read is reported and skipped.")
    v.add_argument("videos", nargs="+", help="video files and/or folders of videos")
    v.add_argument("--teacher", required=True, help="MoveNet SinglePose ONNX")
    v.add_argument("--out", required=True, help="output folder (new, or a previous output of this command)")
    v.add_argument("--every", type=float, default=0.2, metavar="SECONDS", help="seconds between frames (0.2)")
    v.add_argument("--student", default="builtin", metavar="CKPT",
                   help="model whose disagreement marks hard frames: a checkpoint, 'builtin' (default) or 'none'")


def _add_analysis_options(p) -> None:
    _add_model_options(p)
    p.add_argument("--out", default=None, help="output folder (default: <video name>_squat)")
    p.add_argument("--view", choices=("auto", "side", "front", "back"), default="auto",
                   help="camera view; auto detects it from the joints (default)")
    p.add_argument("--box", default=None, help="x,y,w,h of the person in the first frame (default: found)")
    p.add_argument("--fps", type=float, default=None, help="frame rate, when the video's own is missing or wrong")
    _add_config_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_config_options(p) -> None:
    p.add_argument("--config", default=None, help="YAML with analysis thresholds (smoothing, reps, feedback)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an analysis value, e.g. --set reps.min_depth=0.3 (repeatable)")


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
    _add_model_options(p, backend=False)
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--int8", action="store_true",
                   help="static int8 quantization calibrated on --calibration crops (check it with eval --onnx)")
    p.add_argument("--calibration", default=None, metavar="JSON", help="COCO keypoints JSON of calibration persons")
    p.add_argument("--images", default=None, help="folder the calibration JSON's file_names are relative to")
    p.add_argument("--calibration-persons", type=int, default=None,
                   help="persons used for calibration (default 250, the count measured in docs/model-card.md; "
                        "they are summarised 16 at a time, about 1.5 GB of memory)")
    p.add_argument("--weights-bits", type=int, choices=(8, 7), default=8,
                   help="int8 weights: 8 (default.int8.onnx: x86 CPUs with VNNI, ARM) or 7 (default.int8-7bit.onnx: "
                        "exact on every x86 CPU, also without VNNI); docs/training.md")


def _add_release(sub) -> None:
    p = sub.add_parser("release", help="make the shipped model file: no optimiser state, optionally calibrated joint scores",
                       description="Copies a training checkpoint without its optimiser state; with --calibrate-on it fits the joint "
                                   "score calibration (isotonic, to P(within 0.1 of the box side)) on a precisely "
                                   "labelled dev split; prints the reliability table before and after.")
    p.add_argument("--checkpoint", required=True, help="training checkpoint (e.g. runs/x/best.pt)")
    p.add_argument("--calibrate-on", default=None, metavar="JSON",
                   help="COCO keypoints JSON of the dev split to fit the score calibration on (without it the "
                        "release keeps the raw heatmap peaks as scores)")
    p.add_argument("--images", default=None, help="folder the JSON's file_names are relative to")
    p.add_argument("--out", required=True, help="release file to write (e.g. src/squatpose/weights/default.pt)")
    p.add_argument("--no-flip", action="store_true", help="calibrate single-pass scores instead of flip-test ones")
    p.add_argument("--perturbed-per-person", type=int, default=4, metavar="N",
                   help="crops per person with the box shifted (up to ±0.5 of its size) and scaled (0.6-1.6x), "
                        "as a tracker's errors make them (default 4)")
    p.add_argument("--empty-per-person", type=int, default=1, metavar="N",
                   help="crops per person of the same size off every annotated person, as a lost track makes "
                        "them (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the perturbed and empty crops")


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="start the local web page: upload a squat video or photo, read the results",
                       description="A local web app (FastAPI): upload a video or photo, watch the progress, read "
                                   "the analysis. The JSON API behind it is documented at /docs. Results stay on "
                                   "disk per job, so a restart loses nothing finished.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only). Another address (e.g. "
                        "0.0.0.0, for a phone on the same network) needs --allow-network")
    p.add_argument("--allow-network", action="store_true",
                   help="allow a --host other computers can reach; every visitor then needs the access token "
                        "printed at start-up in the address (?token=...). Phones need HTTPS for the camera: "
                        "docs/live.md")
    p.add_argument("--port", type=int, default=8000, help="default 8000")
    p.add_argument("--data-dir", default=None,
                   help="where jobs and models/*.pt live (default ~/.local/share/squatpose/web)")
    p.add_argument("--max-upload-mb", type=int, default=200, help="largest accepted upload (default 200)")
    p.add_argument("--workers", type=int, default=1,
                   help="analyses run at the same time, each in its own process (default 1)")
    _add_config_options(p)


def _add_live(sub) -> None:
    p = sub.add_parser("live", help="count and judge squats while they happen (camera, or a video in real time)",
                       description="Follows the person with the tracker and the built-in model, one crop per frame, "
                                   "and prints each event as it happens: person found/lost, repetition started, "
                                   "bottom reached (with its depth), repetition completed (depth verdict, descent "
                                   "and ascent), and at the end a summary with the per-frame latency and the frames "
                                   "dropped. With --camera a preview window opens where a display exists (q stops); "
                                   "Ctrl-C stops too. Frames are never written to disk.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--camera", type=int, metavar="N", help="OpenCV camera index (0: the first camera)")
    source.add_argument("--video", metavar="FILE", help="a video file instead of a camera")
    p.add_argument("--realtime", action="store_true",
                   help="with --video: deliver frames at their real times and drop those that come while the "
                        "previous one is processed, exactly as a camera would (default: every frame, no drops)")
    p.add_argument("--json", action="store_true", help="one JSON object per line per event, the summary last")
    p.add_argument("--no-window", action="store_true", help="no preview window for --camera")
    p.add_argument("--view", choices=("auto", "side", "front", "back"), default="auto",
                   help="camera view; auto detects it from the joints as they come (default)")
    _add_model_options(p)
    p.add_argument("--config", default=None, help="YAML with analysis thresholds (as for analyze)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an analysis value, e.g. --set reps.min_depth=0.3 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="squatpose", epilog=EPILOG,
        description="Lower-body pose estimation (hips, knees, ankles) and squat analysis.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_eval, _add_predict, _add_data, _add_analyze, _add_live, _add_demo, _add_export,
                _add_release, _add_serve, _add_info):
        add(sub)
    return parser


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="what the default backend runs on this machine, and versions (for bug reports)",
                       description="The package version, the model file, backend, precision and threads the "
                                   "default backend uses on this machine and why, the CPU and its relevant "
                                   "instructions, and the versions of Python, NumPy, PyTorch, ONNX Runtime and "
                                   "OpenCV.")
    p.add_argument("--json", action="store_true", help="print it as JSON")


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
    from squatpose.pose.evaluation.run import evaluate, write_evaluation

    refuse_overwriting_inputs({"--out": args.out, "--metrics-out": args.metrics_out},
                              {"--annotations": args.annotations, "--checkpoint": args.checkpoint,
                               "--onnx": args.onnx})
    _writable_file(args.out, "--out")
    _writable_file(args.metrics_out, "--metrics-out")
    evaluation = evaluate(args.annotations, args.images, checkpoint=args.checkpoint, backend=args.backend,
                          onnx_path=args.onnx, flip_test=args.flip_test, min_joints=args.min_joints,
                          batch_size=args.batch_size)
    print(f"{args.annotations}: {evaluation.persons}; backend {evaluation.backend} ({evaluation.precision})")
    print(evaluation.result.tables())
    write_evaluation(evaluation, args.out, args.metrics_out)
    if args.out:
        print(f"predictions: {args.out}")
    return 0


def _cmd_predict(args) -> int:
    from squatpose.photo import predict_image

    box = [float(v) for v in args.box.split(",")] if args.box else None
    stem = Path(args.image).stem
    refuse_overwriting_inputs(outputs_in(args.out, (f"{stem}_pose.jpg", f"{stem}_heatmaps.png")),
                              {"IMAGE": args.image, "--checkpoint": args.checkpoint})
    _writable_dir(args.out)
    result = predict_image(args.image, args.out, checkpoint=args.checkpoint, box=box,
                           flip_test=args.flip_test, backend=args.backend)
    print(json.dumps(result, indent=1))
    return 0


def _cmd_data(args) -> int:
    from squatpose.joints import get_joint_set
    from squatpose.pose.data.subsets import format_stats, label_stats, make_subset

    if args.data_command in ("split", "refine", "teacher-keypoints", "pseudo-label"):
        return _cmd_data_preparation(args)
    joint_set = get_joint_set(args.joint_set)
    if args.data_command == "subset":
        refuse_overwriting_inputs({"--out": args.out}, {"--annotations": args.annotations})
        counts = make_subset(args.annotations, args.out, joint_set, mini=args.mini,
                             lower=args.lower_visible, seed=args.seed)
        print(f"{args.annotations}: {counts['all_visible']} persons with all {joint_set.num_joints} joints visible "
              f"(v=2), {counts['all_labelled']} with all labelled (v>0)")
        print(f"{args.out}: {counts['persons']} persons in {counts['images']} images")
    else:
        for path in args.annotations:
            print(format_stats(label_stats(path), joint_set, path))
    return 0


def _cmd_data_preparation(args) -> int:
    from squatpose.pose.data.teacher import MoveNetTeacher

    _refuse_data_overwrites(args)
    if args.data_command == "split":
        from squatpose.pose.data.splits import split_coco

        for path in split_coco(args.annotations, args.out_dir, args.dev, args.seed):
            print(path)
        return 0
    teacher = MoveNetTeacher(args.teacher)
    if args.data_command == "refine":
        from squatpose.joints import get_joint_set
        from squatpose.pose.data.refine import RefineRules, refine_coco

        rules = RefineRules(agree=args.agree, joints=get_joint_set(args.joint_set).coco_indices)
        counts = refine_coco(args.annotations, args.images, teacher, args.out, rules, flip=not args.no_flip)
    elif args.data_command == "teacher-keypoints":
        from squatpose.pose.data.teacher_keypoints import add_teacher_keypoints

        counts = add_teacher_keypoints(args.annotations, args.images, teacher, args.out, flip=not args.no_flip)
    else:
        from squatpose.pose.data.pseudo_label import (
            PredictorStudent,
            PseudoLabelRules,
            find_videos,
            pseudo_label_videos,
        )
        from squatpose.pose.predictor import Predictor

        rules = PseudoLabelRules(every_s=args.every)
        student = None if args.student == "none" else PredictorStudent(Predictor.from_checkpoint(
            None if args.student == "builtin" else args.student))
        counts = pseudo_label_videos(find_videos(args.videos, rules.exclude), teacher, args.out, rules, student)
    print(json.dumps({"out": args.out, "counts": counts}, indent=1))
    return 0


def _refuse_data_overwrites(args) -> None:
    """`data split/refine/teacher-keypoints/pseudo-label` never write over their inputs."""
    if args.data_command == "split":
        stem = Path(args.annotations).stem
        outputs = outputs_in(args.out_dir, (f"{stem}_dev.json", f"{stem}_rest.json"), "--out-dir")
        refuse_overwriting_inputs(outputs, {"--annotations": args.annotations})
    elif args.data_command == "pseudo-label":  # its output folder is replaced as a whole
        refuse_inputs_inside(args.out, {**{f"VIDEO {v}": v for v in args.videos}, "--teacher": args.teacher})
    else:
        refuse_overwriting_inputs({"--out": args.out},
                                  {"--annotations": args.annotations, "--teacher": args.teacher})


def _run_analysis(args, video: str | None, keypoints: str | None) -> int:
    from squatpose.analysis.config import load_analysis_config
    from squatpose.api import analyze
    from squatpose.report.files import OUTPUT_NAMES

    source = Path(video or keypoints)
    out = Path(args.out) if args.out else Path(f"{source.stem}_squat")
    box = [float(v) for v in args.box.split(",")] if args.box else None
    refuse_overwriting_inputs(outputs_in(out, OUTPUT_NAMES),
                              {"VIDEO": video, "--keypoints": keypoints, "--checkpoint": args.checkpoint,
                               "--config": args.config})
    config = load_analysis_config(args.config, args.overrides)
    _writable_dir(out)
    result = analyze(video, out, keypoints=keypoints, checkpoint=args.checkpoint, view=args.view, box=box,
                     fps=args.fps, backend=args.backend, config=config, progress=not args.quiet)
    summary = result.to_summary()
    print(f"{source.name}: {summary['reps']} completed repetition(s), view {_view_text(summary['view'])}")
    for item in summary["feedback"][:MAX_PRINTED_FEEDBACK]:  # the page's marks: good, to work on, a note
        mark = {"good": "✓", "fix": "!"}.get(item["tone"], "-")
        print(f"  {mark} {'rep ' + str(item['rep']) if item['rep'] else 'set'}: {item['text']}")
    if len(summary["feedback"]) > MAX_PRINTED_FEEDBACK:
        print(f"  ... {len(summary['feedback']) - MAX_PRINTED_FEEDBACK} more in {out / 'summary.json'}")
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


def _event_text(event: dict) -> str:
    """One event as a line for people."""
    kind, at = event["event"], f"{event.get('t', 0):7.2f} s  "
    if kind == "rep_completed":
        tempo = ", ".join(f"{name} {event[key]:.1f} s" for name, key in (("down", "descent_s"), ("up", "ascent_s"))
                          if event.get(key) is not None)
        return f"{at}rep {event['rep']} done: {event['verdict']} (depth {event['depth']:.2f}){', ' + tempo if tempo else ''}"
    if kind == "bottom":
        return f"{at}bottom of rep {event['rep']}: {event['verdict']} (depth {event['depth']:.2f})"
    if kind == "rep_started":
        return f"{at}rep {event['rep']} started"
    if kind == "rep_not_counted":
        return f"{at}not counted: {event['reason']}"
    if kind in ("person_found", "person_lost"):
        return f"{at}{'person found' if kind == 'person_found' else 'person lost: ' + event['message']}"
    if kind in ("people", "error"):
        return f"{at if 't' in event else ''}{event['message']}"
    if kind == "summary":
        latency = event["latency_ms"]
        timing = "" if latency["median"] is None else (f"; latency median {latency['median']:.0f} ms, "
                                                       f"p95 {latency['p95']:.0f} ms")
        return (f"{event['reps']} repetition(s), {event['below_parallel']} below parallel; {event['frames']} frames "
                f"analysed, {event['dropped']} dropped{timing}")
    return json.dumps(event)


def _cmd_live(args) -> int:
    from squatpose.analysis.config import load_analysis_config
    from squatpose.live import run_live

    if args.realtime and args.video is None:
        print("error: --realtime plays a --video like a camera; a camera is always real time", file=sys.stderr)
        return 2
    config = load_analysis_config(args.config, args.overrides)

    def emit(event: dict) -> None:
        print(json.dumps(event) if args.json else _event_text(event), flush=True)

    run_live(camera=args.camera, video=args.video, realtime=args.realtime, checkpoint=args.checkpoint,
             backend=args.backend, config=config, view=args.view, window=not args.no_window, emit=emit)
    return 0


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

    refuse_overwriting_inputs({"--out": args.out}, {"--checkpoint": args.checkpoint or default_checkpoint(),
                                                    "--calibration": args.calibration})
    _writable_file(args.out, "--out")
    loaded = load_model(args.checkpoint or default_checkpoint())
    if args.int8:
        from squatpose.pose.quantize import export_int8

        path = export_int8(loaded, args.out, args.calibration, args.images, args.calibration_persons,
                           args.weights_bits)
    else:
        path = export_onnx(loaded, args.out)
    print(f"ONNX model: {path}")
    return 0


def _cmd_release(args) -> int:
    from squatpose.pose.calibration_crops import CropMix
    from squatpose.pose.release import make_release

    refuse_overwriting_inputs({"--out": args.out}, {"--checkpoint": args.checkpoint,
                                                    "--calibrate-on": args.calibrate_on})
    _writable_file(args.out, "--out")
    mix = CropMix(shifted=args.perturbed_per_person, empty=args.empty_per_person, seed=args.seed)
    path, tables = make_release(args.checkpoint, args.out, args.calibrate_on, args.images, mix,
                                flip_test=not args.no_flip)
    if tables:
        print(tables)
    print(f"release: {path}")
    return 0


def _cmd_serve(args) -> int:
    from squatpose.analysis.config import load_analysis_config
    from squatpose.web.server import serve

    config = load_analysis_config(args.config, args.overrides)
    try:
        serve(args.host, args.port, args.data_dir, args.max_upload_mb, args.workers, config,
              allow_network=args.allow_network)
    except RuntimeError as exc:  # e.g. another server holds the data folder
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_info(args) -> int:
    from squatpose.info import collect_info, format_info

    info = collect_info()
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


COMMANDS = {"train": _cmd_train, "eval": _cmd_eval, "predict": _cmd_predict, "data": _cmd_data,
            "analyze": _cmd_analyze, "live": _cmd_live, "demo": _cmd_demo, "export": _cmd_export,
            "release": _cmd_release, "serve": _cmd_serve, "info": _cmd_info}


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
