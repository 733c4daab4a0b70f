"""One-photo pose (`squatpose predict`, web photo jobs) on bad photos: no person, corrupt or cut-off
JPEG, and images that would decode to gigabytes."""
import struct
import zlib

import cv2
import numpy as np
import pytest

from squatpose.cli import main
from squatpose.media.images import MAX_IMAGE_PIXELS, read_image_rgb
from squatpose.photo import predict_image


def _noise_jpeg(path, size_wh=(320, 240)):
    image = (np.random.default_rng(0).random((size_wh[1], size_wh[0], 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(path), image)
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["blank", "tiny"])
def test_photo_without_a_person_says_so(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), np.full((480, 640, 3), 128, np.uint8) if kind == "blank"
                else np.full((12, 9, 3), 200, np.uint8))
    with pytest.raises(ValueError, match=rf"{kind}\.png: no person found"):
        predict_image(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("damage", ["cut off", "flipped bytes"])
def test_corrupt_jpeg_is_reported_not_analysed(tmp_path, damage, capsys):
    data = bytearray(_noise_jpeg(tmp_path / "ok.jpg"))
    if damage == "cut off":
        data = data[: len(data) // 2]
    else:
        for i in range(len(data) // 2, len(data) // 2 + 200, 7):
            data[i] ^= 0x55
    path = tmp_path / "photo.jpg"
    path.write_bytes(bytes(data))
    assert main(["predict", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: the image is corrupt or cut off (") and err.count("\n") == 1


def _png_bomb(path, side):
    """A valid 1-bit grey PNG of side x side pixels: a few hundred kB that OpenCV decodes to 3 bytes a
    pixel."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_huge_image_is_refused_before_decoding(tmp_path):
    path = _png_bomb(tmp_path / "bomb.png", 20000)
    assert path.stat().st_size < 1_000_000 and MAX_IMAGE_PIXELS < 20000 * 20000
    with pytest.raises(OSError, match=r"bomb\.png: the image is too large \(.*; the limit is 100 "
                                      r"megapixels\)"):
        read_image_rgb(str(path))
    medium = _png_bomb(tmp_path / "medium.png", 12000)
    with pytest.raises(OSError, match=r"medium\.png: the image is too large \(12000 x 12000 pixels;"):
        read_image_rgb(str(medium))
    small = _png_bomb(tmp_path / "small.png", 64)
    assert read_image_rgb(str(small)).shape == (64, 64, 3)
