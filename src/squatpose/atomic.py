"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash mid-write leaves at most a hidden ``.<name>.<pid>-<random>.partial<suffix>`` file, never a
truncated file under the final name; an error or Ctrl-C (KeyboardInterrupt) leaves nothing. The
temporary name is unique to each write, so two processes writing the same target never share one.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def partial_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name for writing `path`: same folder, same suffix, hidden, unique to this call."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.partial{path.suffix}")


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Rename a finished temporary file onto its final name (atomic on POSIX and Windows)."""
    os.replace(tmp, path)
    return Path(path)


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """`with replacing(path) as tmp:` write `tmp`; on leaving the block it is renamed onto `path`. On any
    error, the rename's included (the target is a folder), the temporary file is removed."""
    tmp = partial_path(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_synced(tmp: Path, data: bytes) -> None:
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically and return the path."""
    with replacing(path) as tmp:
        _write_synced(tmp, data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically and return the path."""
    return write_bytes(path, text.encode("utf-8"))


class FileSet:
    """Files that appear together: each is written under a temporary name, and `commit()` renames them all
    onto their final names at the end, in the order given (so the one that marks the set complete goes
    last). Used as a context manager, an error before the commit removes every temporary file and leaves
    the files already there as they were."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)

    def path(self, final: str | os.PathLike) -> Path:
        """A temporary path for `final`, for writers that need a file name (video encoders)."""
        tmp = partial_path(final)
        self._staged.append((tmp, Path(final)))
        return tmp

    def write_bytes(self, final: str | os.PathLike, data: bytes) -> Path:
        _write_synced(self.path(final), data)
        return Path(final)

    def write_text(self, final: str | os.PathLike, text: str) -> Path:
        return self.write_bytes(final, text.encode("utf-8"))

    def commit(self) -> list[Path]:
        finals = []
        for tmp, final in self._staged:
            finals.append(commit(tmp, final))
        self._staged = []
        return finals

    def discard(self) -> None:
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged = []

    def __enter__(self) -> FileSet:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.discard()  # after commit() there is nothing left to discard
