"""What an upload is, judged by its first bytes (magic numbers), never by its name or content type."""
from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 64  # enough for every signature below


@dataclass(frozen=True)
class FileType:
    """kind: 'video' or 'image'; ext: the suffix the server stores it under (with the dot)."""

    kind: str
    ext: str
    label: str


_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _iso_media(head: bytes) -> FileType | None:
    """MP4 / MOV / M4V: a box size then 'ftyp' (or an old QuickTime atom) at offset 4."""
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return FileType("video", ".mov", "QuickTime video")
        if brand[:3] in (b"hei", b"mif", b"avi", b"msf"):  # HEIF/AVIF stills: not supported here
            return None
        return FileType("video", ".mp4", "MP4 video")
    if box in _QUICKTIME_ATOMS:
        return FileType("video", ".mov", "QuickTime video")
    return None


def sniff(head: bytes) -> FileType | None:
    """The type of a file from its first HEAD_BYTES bytes, or None when it is not a supported
    video (MP4, MOV, WebM, MKV, AVI) or image (JPEG, PNG, BMP, WebP)."""
    if len(head) < 12:
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("image", ".jpg", "JPEG image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image", ".png", "PNG image")
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # reserved bytes are zero
        return FileType("image", ".bmp", "BMP image")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return FileType("image", ".webp", "WebP image")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return FileType("video", ".avi", "AVI video")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM, the doc type says which
        if b"webm" in head:
            return FileType("video", ".webm", "WebM video")
        return FileType("video", ".mkv", "Matroska video")
    return _iso_media(head)
