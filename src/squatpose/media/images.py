"""Image reading with clear errors: a file that is missing, not an image, too large to decode, or (for
one user photo) a JPEG the decoder calls corrupt or cut off."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

import cv2
import numpy as np

MAX_IMAGE_PIXELS = 100_000_000  # 10000 x 10000; decoded as RGB that is 300 MB already


def check_image_size(path: str) -> None:
    """Refuse an image whose header claims more than MAX_IMAGE_PIXELS, before decoding it (a small
    file can decode to gigabytes). Reads the header only."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow warns above 89 megapixels; the check below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
        size = f"{width} x {height} pixels" if width * height > MAX_IMAGE_PIXELS else None
    except Image.DecompressionBombError:  # over Pillow's own limit (179 megapixels), so over ours too
        size = "more than 179 megapixels"
    except (OSError, ValueError, SyntaxError):  # not an image Pillow knows: OpenCV has the last word
        return
    if size:
        raise OSError(f"{path}: the image is too large ({size}; the limit is "
                      f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels): scale it down first")


def read_image_rgb(path: str) -> np.ndarray:
    """Read an image as RGB uint8 `(H,W,3)`; a clear error naming the file when it can't be decoded
    or is larger than MAX_IMAGE_PIXELS."""
    check_image_size(path)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"{path}: cannot read image (missing, empty or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_photo_rgb(path: str) -> np.ndarray:
    """read_image_rgb for one user photo: a JPEG the decoder calls corrupt or truncated (it would
    fill the missing part with grey and carry on) is an error, not a silent analysis."""
    with _stderr_captured() as messages:
        image = read_image_rgb(path)
    problems = [line.strip() for line in messages if "JPEG" in line]
    if problems:
        raise OSError(f"{path}: the image is corrupt or cut off ({problems[0]})")
    sys.stderr.write("".join(line + "\n" for line in messages))  # anything else is passed on
    return image


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect the lines C libraries (libjpeg inside OpenCV) write to file descriptor 2."""
    sys.stderr.flush()
    saved, lines = os.dup(2), []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())
