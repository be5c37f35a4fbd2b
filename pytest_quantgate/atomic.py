"""Files written whole or not at all: a temporary file in the same folder, flushed to disk,
then renamed over the target. A fault (a full disk, a file-size limit) leaves the old file
byte-identical and raises; readers never see half a record or report."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; on success it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _sync(tmp)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, path)
        _sync_folder(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_with(path: Path, writer: Callable[[Path], Any]) -> None:
    """`writer(tmp)` writes the file (a plotting library's savefig, say)."""
    with replacing(path) as tmp:
        writer(tmp)


def built_once(target: Path, make: Callable[[Path], Any], done: Callable[[Path], bool] = Path.exists, force: bool = False) -> Path:
    """`target` (a file or a folder), made once: `make(tmp)` writes a temporary sibling that is
    renamed into place under a file lock, so concurrent builders (xdist workers) wait for the
    first and a failed build leaves nothing behind."""
    import shutil

    from filelock import FileLock

    if done(target) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if done(target) and not force:
            return target
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            make(tmp)
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
    return target


def _sync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def unwritable(path: Path) -> str | None:
    """Why `path` could not be written (None when it could), found without writing anything."""
    if path.is_dir():
        return f"{path} is a folder"
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder} (permission denied)"
    if path.exists() and not os.access(path, os.W_OK) and not os.access(path.parent, os.W_OK):
        return f"cannot replace {path} (permission denied)"
    return None
