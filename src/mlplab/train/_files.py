"""Atomic file replacement: a reader (or a process killed mid-write) sees the old file or the
new one, never a mix; used by checkpoints."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import stat
from collections.abc import Callable
from typing import BinaryIO

_TEMP = ".tmp-"
_NAME_MAX = 200  # of the target's name inside a temp name (file names stop at 255 bytes)

_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, owner: str) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it over ``path``.

    A symlink is followed: the link stays and its target gets the new content. A target that
    exists and is not a regular file (directory, FIFO, device) is refused with a ValueError
    naming ``owner``. The file gets the process umask's permissions (``0o666 & ~umask``), it is
    fsync'ed before the rename and its folder after it (so the rename survives a power cut); a
    failed write removes its temporary file, and temporaries left by killed writers are removed
    by the next write to the same path.
    """
    target = _regular_target(os.fspath(path), owner)
    folder, name = os.path.split(target)
    _remove_stale_temps(folder, name)
    tmp, fd = _create_temp(folder, name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _regular_target(path: str, owner: str) -> str:
    """The real path behind ``path`` (symlinks resolved); refuses existing non-regular files."""
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    kind = file_kind(mode)
    if kind != "regular file":
        raise ValueError(
            f"{owner}: {path!r} is a {kind}, not a regular file; refusing to "
            "replace it (give the path of a file)"
        )
    return target


def file_kind(mode: int) -> str:
    """``"regular file"``, ``"directory"``, ``"FIFO (named pipe)"``, ... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "special file")


def _temp_prefix(name: str) -> str:
    return f"{_TEMP}{name[:_NAME_MAX]}."


def _host_tag() -> str:
    """8 hex digits naming this machine: a pid means something only on the host that owns it
    (on a shared or network folder another host's live writer would look dead here)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _create_temp(folder: str, name: str) -> tuple[str, int]:
    """A new file ``.tmp-<name>.<pid>.<host tag>.<random>``; created with mode 0o666 so that the
    kernel applies the umask (``tempfile.mkstemp`` would always give 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(
            folder, f"{_temp_prefix(name)}{os.getpid()}.{_host_tag()}.{secrets.token_hex(4)}"
        )
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:  # a name clash (2^-32): draw another
            continue


def _remove_stale_temps(folder: str, name: str) -> None:
    """Remove temporaries of ``name`` written on this host by a process that no longer exists
    (killed mid-save); another host's temporaries are left alone."""
    prefix, host = _temp_prefix(name), _host_tag()
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return  # the write itself will report an unusable folder
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        pid, _, rest = entry[len(prefix) :].partition(".")
        if (
            pid.isdigit()
            and rest.startswith(host + ".")
            and int(pid) != os.getpid()
            and not _alive(int(pid))
        ):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) sends CTRL_C_EVENT on Windows: never probe there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or we cannot tell: keep its file
    return True


def _fsync_folder(folder: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows cannot open a folder to fsync it
    try:
        fd = os.open(folder or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename itself was atomic
    finally:
        os.close(fd)
