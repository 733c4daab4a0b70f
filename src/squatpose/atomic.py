"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash mid-write leaves at most a hidden ``.<name>.partial<suffix>`` file, never a truncated file
under the final name.
"""
from __future__ import annotations

import os
from pathlib import Path


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name used while `path` is being written (same folder, same suffix)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Rename a finished temporary file onto its final name (atomic on POSIX and Windows)."""
    os.replace(tmp, path)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically and return the path."""
    tmp = partial_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return commit(tmp, path)
    except BaseException:  # also when the rename fails (the target is a folder): no stray temporary file
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically and return the path."""
    return write_bytes(path, text.encode("utf-8"))
