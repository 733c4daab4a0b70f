"""Live counting against the file analysis on the shared squat clips.

    python benchmarks/live_eval.py [--data DIR ...] [--markdown FILE] [--clips NAME ...]

For each clip: `analyze` (every frame, the file path) and then what `squatpose live --video CLIP
--realtime --json` runs (`squatpose.live.run_live`: frames delivered at their real times, those that
come while the previous one is processed dropped, as from a camera), one after the other so that they
do not share the CPU. One model (the default backend) serves all clips; its loading is not part of
any clip's time. Prints per clip the count live vs file (and the verified count), the per-frame latency
(from a frame becoming available to its events) median and 95th percentile, the share of frames
dropped and the clip's frame rate; with --markdown also writes the table as Markdown.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from squat_videos_eval import DATA, clip_order
from squatpose.api import analyze
from squatpose.live import run_live
from squatpose.pose.predictor import Predictor


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def clips(folders: list[Path], only: list[str] | None) -> list[tuple[Path, str, dict]]:
    out = []
    for folder in folders:
        truth = {k: v for k, v in json.loads((folder / "reps.json").read_text()).items() if not k.startswith("_")}
        out += [(folder, name, truth[name]) for name in sorted(truth, key=clip_order) if not only or name in only]
    return out


def live_summary(video: Path, predictor: Predictor) -> dict:
    events: list[dict] = []
    run_live(video=video, realtime=True, predictor=predictor, emit=events.append)
    return events[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=[d for d in DATA if d.is_dir()])
    parser.add_argument("--clips", nargs="+", default=None, help="only these clips (names without .mp4)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    predictor = Predictor.from_checkpoint(None)
    header = (f"pose model on {predictor.backend} ({predictor.precision}); {cpu_name()}, {os.cpu_count()} logical "
              f"CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    print(header)
    rows, same = [], 0
    print(f"{'clip':<26}{'live':>5}{'file':>5}{'truth':>6}  {'latency ms (median / p95)':>26}{'dropped':>9}{'fps':>7}")
    for folder, name, truth in clips(args.data, args.clips):
        video = folder / f"{name}.mp4"
        file_reps = analyze(video, predictor=predictor, progress=False).reps
        start = time.perf_counter()
        summary = live_summary(video, predictor)
        seconds = time.perf_counter() - start
        delivered = summary["frames"] + summary["dropped"]
        dropped = summary["dropped"] / delivered if delivered else 0.0
        accepted = {truth["completed_reps"]} | ({truth["full_reps"]} if truth["ambiguous"] else set())
        latency = summary["latency_ms"]
        row = (name, summary["reps"], file_reps, "/".join(str(v) for v in sorted(accepted)), latency["median"],
               latency["p95"], dropped, summary["source_fps"])
        rows.append(row)
        same += summary["reps"] == file_reps
        print(f"{name:<26}{row[1]:>5}{row[2]:>5}{row[3]:>6}  {row[4]:>12.0f} / {row[5]:<11.0f}{100 * dropped:>8.0f}%"
              f"{row[7]:>7.1f}   ({seconds:.0f} s)", flush=True)
    footer = f"same count live and file: {same} of {len(rows)}"
    print(footer)
    if args.markdown:
        lines = [header, "", "| clip | live | file | verified | latency median (ms) | p95 (ms) | dropped | clip fps |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.0f} | {r[5]:.0f} | {100 * r[6]:.0f} % | {r[7]:.1f} |"
                  for r in rows]
        args.markdown.write_text("\n".join(lines + ["", footer, ""]), encoding="utf-8")


if __name__ == "__main__":
    main()
