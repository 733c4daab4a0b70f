"""`squatpose demo`: the whole pipeline with the built-in model on a public squat clip.

The clip (Pexels video 4838220, re-encoded at 5 fps as a test clip of the tensorflow/tfjs-models
repository, Apache-2.0) is not shipped: it is fetched once into the user's cache and checked by SHA-256.
Without network, a local copy in `../shared/samples/` (beside the repository) is used when present.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.request
from pathlib import Path

from squatpose import atomic
from squatpose.pose.export import cache_dir

log = logging.getLogger(__name__)

SAMPLE_NAME = "pose_squats.mp4"
SAMPLE_URL = ("https://raw.githubusercontent.com/tensorflow/tfjs-models/master/"
              "pose-detection/test_data/pose_squats.mp4")
SAMPLE_SHA256 = "ea9151e447b301985d5d65666551ef863b369a2e0f3a71ddd58abef2e722f96a"
DOWNLOAD_TIMEOUT_S = 20


class SampleUnavailable(OSError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _local_copies() -> list[Path]:
    repo_root = Path(__file__).resolve().parents[2]
    return [Path.cwd().parent / "shared" / "samples" / SAMPLE_NAME,
            repo_root.parent / "shared" / "samples" / SAMPLE_NAME]


def _download(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(target) as tmp:
        with (open(tmp, "wb") as fh,
              urllib.request.urlopen(SAMPLE_URL, timeout=DOWNLOAD_TIMEOUT_S) as response):
            shutil.copyfileobj(response, fh)
        if sha256_of(tmp) != SAMPLE_SHA256:
            raise SampleUnavailable(f"the file downloaded from {SAMPLE_URL} has an unexpected SHA-256; not "
                                    "used")


def sample_clip() -> Path:
    """Path of the verified sample clip: the cache, a local shared copy, or a fresh download."""
    cached = cache_dir() / "samples" / SAMPLE_NAME
    if cached.is_file() and sha256_of(cached) == SAMPLE_SHA256:
        return cached
    for local in _local_copies():
        if local.is_file() and sha256_of(local) == SAMPLE_SHA256:
            return local
    try:
        _download(cached)
    except (OSError, ValueError) as exc:
        raise SampleUnavailable(
            f"the demo clip is not on this machine and could not be downloaded ({exc}).\n"
            f"Download {SAMPLE_URL}\nto {cached} (SHA-256 {SAMPLE_SHA256}), "
            "or run the demo on your own clip: squatpose demo --video MY_SQUATS.mp4") from None
    log.info("downloaded the sample clip to %s", cached)
    return cached
