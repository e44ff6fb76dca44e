"""Attachment files: kept under a folder beside the database, never as blobs in rows.

SQLite ``shop.db`` keeps them in ``shop.db.files/service/``; a PostgreSQL
database needs a folder named by ``CRM_FILES_DIR`` (the ``service/`` folder
is made inside it). Files are written atomically with mode 0600 in folders of
mode 0700; the database holds each file's path relative to the folder.
"""

import os
import re
import tempfile

from crmcore import CRMError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def root(crm, create=False):
    """The service desk's folder of files (``None`` when it cannot be known and ``create`` is false)."""
    base = os.environ.get("CRM_FILES_DIR")
    if not base:
        if crm.store.kind == "sqlite" and crm.location != ":memory:":
            base = crm.location + ".files"
        elif create:
            raise CRMError("attachments on this database need a folder for files: set CRM_FILES_DIR=/path/to/folder")
        else:
            return None
    folder = os.path.join(base, "service")
    if create:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise CRMError(f"cannot create the attachments folder {folder}: {exc.strerror}") from None
    return folder


def safe_name(name, fallback="attachment"):
    """A file name that cannot climb out of its folder or hide (``../x`` -> ``x``)."""
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = _UNSAFE.sub("_", name).strip("._")
    return (name or fallback)[:120]


def save(crm, case_id, message_id, index, filename, data):
    """Write one attachment atomically (mode 0600); returns its path relative to the folder."""
    folder = root(crm, create=True)
    relative = os.path.join(str(case_id), f"{message_id}-{index}-{safe_name(filename)}")
    path = os.path.join(folder, relative)
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.lexists(path) and not os.path.isfile(path):
            raise CRMError(f"{path} exists and is not a regular file; the CRM will not replace it")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".att.", suffix=".tmp")  # mkstemp gives mode 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise CRMError(f"cannot write attachment {path}: {exc.strerror}") from None
    return relative


def full_path(crm, relative):
    folder = root(crm)
    return None if folder is None else os.path.join(folder, relative)


def remove(crm, relatives):
    """Delete attachment files (missing ones are fine); empty case folders go too."""
    folder = root(crm)
    if folder is None:
        return
    for relative in relatives:
        path = os.path.join(folder, relative)
        if os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)
        parent = os.path.dirname(path)
        if parent != folder:
            try:
                os.rmdir(parent)
            except OSError:
                pass
