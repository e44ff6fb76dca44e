"""Where the CRM's output goes: a regular file replaced atomically, or a stream.

``-o FILE`` writes to a private (0600) temporary file and renames it over
``FILE`` only when complete. That rename must never hit anything but a
regular file: renaming over ``/dev/null`` (as root) leaves a regular file full
of personal data in ``/dev``, and renaming over a FIFO or a symlink to
``/dev/stdout`` silently detaches the reader. So ``-`` (standard output),
character devices, FIFOs and ``/dev/stdout``, ``/dev/stderr`` and ``/dev/fd/N``
are written to as streams; folders, block devices and sockets are refused;
a symlink to a regular file keeps the link and its target is replaced.
"""

import contextlib
import glob
import os
import shutil
import stat
import sys
import tempfile

from .errors import CRMError

STREAM, FILE = "stream", "file"


def output_kind(path, what="file"):
    """``"stream"`` or ``"file"`` for an output path; a one-line ``CRMError``
    for a path that is neither (a folder, a block device, a socket)."""
    if path == "-":
        return STREAM
    absolute = os.path.abspath(path)
    if absolute in ("/dev/stdout", "/dev/stderr") or absolute.startswith(("/dev/fd/", "/proc/self/fd/")):
        return STREAM  # an open file descriptor, even when it is a regular file (a shell's "> file" or ">> log")
    try:
        mode = os.stat(absolute).st_mode  # follows symlinks: a link to /dev/null is a device
    except FileNotFoundError:
        if os.path.islink(absolute):  # a dangling link: write where it points, never over it
            raise CRMError(f"cannot write {what} {path}: it is a symbolic link to a missing file") from None
        return FILE
    except OSError as exc:
        raise CRMError(f"cannot write {what} {path}: {exc.strerror}") from None
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return STREAM
    if stat.S_ISDIR(mode):
        raise CRMError(f"cannot write {what} {path}: it is a folder")
    if not stat.S_ISREG(mode):
        raise CRMError(f"cannot write {what} {path}: it is not a regular file, a device or a pipe")
    return FILE


def replace_target(path):
    """The file an atomic rename must replace: a symlink's target, never the link."""
    return os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)


def private_temp(path, what="file", suffix=".tmp"):
    """``(fd, name)`` of a new private (0600) temporary file: next to ``path``
    (so the final rename is atomic) when ``path`` is a file, in the system's
    temporary folder when it is a stream."""
    if output_kind(path, what) == STREAM:
        folder, prefix = None, ".crm-output."
    else:
        target = replace_target(path)
        folder, prefix = os.path.dirname(target), f".{os.path.basename(target)}."
        if not os.path.isdir(folder):
            raise CRMError(f"cannot write {what} {path}: folder {folder} does not exist")
    try:
        return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    except OSError as exc:
        raise CRMError(f"cannot write {what} {path}: {exc.strerror}") from None


def put_in_place(tmp, path, what="file"):
    """Move the finished temporary file ``tmp`` to ``path``: renamed over a
    regular file, copied into a stream (and removed)."""
    try:
        if output_kind(path, what) == STREAM:
            with open(tmp, "rb") as source:
                if path == "-":
                    sys.stdout.flush()
                    shutil.copyfileobj(source, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
                else:
                    with open(path, "wb") as sink:
                        shutil.copyfileobj(source, sink)
            os.unlink(tmp)
        else:
            os.replace(tmp, replace_target(path))
    except OSError as exc:
        raise CRMError(f"cannot write {what} {path}: {exc.strerror}") from None


@contextlib.contextmanager
def open_stream(path, what="file"):
    """A text stream for ``-``, a device or a FIFO (not closed for ``-``)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as exc:
        raise CRMError(f"cannot write {what} {path}: {exc.strerror}") from None


def clean_partials(dest, suffix=".partial"):
    """Remove temporary copies that killed runs left next to ``dest``
    (``.NAME.*.partial``); a run still writing holds a lock on its file and
    is left alone. Returns the names removed."""
    import fcntl

    folder, name = os.path.split(os.path.abspath(dest))
    removed = []
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*{suffix}")):
        try:
            fd = os.open(leftover, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(leftover)
            removed.append(leftover)
        except OSError:
            pass  # a backup in progress holds the lock
        finally:
            os.close(fd)
    return removed


def hold(fd):
    """Lock a temporary file this run is writing, so ``clean_partials`` of
    another run leaves it alone (released when ``fd`` is closed)."""
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
