"""Where commands write: never over one of their own inputs, and one run at a time per output folder.

`refuse_overwriting_inputs` is the one check every command makes before any work: an output that is an
input (the same path, a symbolic link to it or a hard link of it), or two outputs that are one file,
is a clear error naming both options. `FolderLock` keeps a second run out of a folder that a first run
is still writing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
LOCK_NAME = ".squatpose.lock"


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name one file: the same path once links are resolved, or (both existing) the
    same file on the same device (a hard link)."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symbolic-link loop: compare what stat says
        pass
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:  # one does not exist (yet): not the same file
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def refuse_overwriting_inputs(outputs: Mapping[str, PathLike | None],
                              inputs: Mapping[str, PathLike | None]) -> None:
    """ValueError when an output file is one of the inputs, or two outputs are one file. Keys are what
    the user typed (option names such as '--out'); None values are left out."""
    outs = [(name, Path(p)) for name, p in outputs.items() if p is not None]
    ins = [(name, Path(p)) for name, p in inputs.items() if p is not None]
    for out_name, out in outs:
        for in_name, source in ins:
            if same_file(out, source):
                typed_alike = os.path.normpath(out.absolute()) == os.path.normpath(source.absolute())
                link = "" if typed_alike else " (through a link)"
                raise ValueError(f"{out}: {out_name} is the same file as {in_name}{link}: refusing to "
                                 "overwrite the input; choose another output name")
    for i, (name_a, a) in enumerate(outs):
        for name_b, b in outs[i + 1:]:
            if same_file(a, b):
                raise ValueError(f"{a}: {name_a} and {name_b} are the same file: give them different names")


def outputs_in(folder: PathLike, names: Iterable[str], option: str = "--out") -> dict[str, Path]:
    """{'--out/<name>': path} for the files a command writes into an output folder (for the check above)."""
    return {f"{option} {Path(folder) / name}": Path(folder) / name for name in names}


def refuse_inputs_inside(folder: PathLike, inputs: Mapping[str, PathLike | None],
                         option: str = "--out") -> None:
    """ValueError when an input lies inside an output folder that the command replaces as a whole."""
    root = Path(folder).resolve()
    for name, path in inputs.items():
        if path is not None and Path(path).resolve().is_relative_to(root):
            raise ValueError(f"{path}: {name} lies inside {option} {folder}, which this command replaces as "
                             "a whole; move it out or choose another output folder")


class FolderBusy(OSError):
    """Another run (alive) is writing into the same output folder."""


class FolderLock:
    """An exclusive lock on an output folder for the length of a run: `<folder>/.squatpose.lock`, held with
    flock (the kernel releases it when the process dies however it dies, so a lock file left by a killed
    run is taken over, not obeyed), holding the owner's pid for the message, removed on release.

    Without fcntl (Windows) there is no lock: one run per folder is up to the user.
    """

    def __init__(self, folder: PathLike, what: str = "run") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self._fh = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:
            return self
        while True:
            fh = open(self.path, "a+")  # noqa: SIM115 - held open while the run lasts
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                owner = fh.read().strip()[:20] or "?"
                fh.close()
                raise FolderBusy(f"{self.path.parent}: another squatpose {self.what} (process {owner}) is "
                                 "writing into this folder; wait for it to finish or choose another "
                                 "--out") from None
            # The holder before us may have removed the file after we opened it: lock the file that is there.
            try:
                if os.fstat(fh.fileno()).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            fh.close()
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self.path.unlink(missing_ok=True)  # while still holding it: a waiting run then locks a new file
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
