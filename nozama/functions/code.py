"""Deployment packages: checking a zip, its CodeSha256, and unpacking it once per version.

Each version's code is unpacked into a directory of its own, named by function,
version and package digest, so a worker never sees files of another version and
a directory, once complete, never changes. Unpacking goes to a temporary
directory first and is renamed into place: a crash mid-way leaves no half tree.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

MAX_ZIPPED = 50 * 1024 * 1024       # Lambda's limit for a ZipFile in the request
MAX_UNZIPPED = 250 * 1024 * 1024


class BadPackage(Exception):
    """The bytes are not a deployment package Lambda would take."""


def sha256(package: bytes) -> str:
    """CodeSha256 as Lambda reports it: the base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def check(package: bytes) -> None:
    if len(package) > MAX_ZIPPED:
        raise BadPackage("Unzipped size must be smaller than 262144000 bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            members = archive.infolist()
            if archive.testzip() is not None:
                raise zipfile.BadZipFile
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError):
        raise BadPackage("Could not unzip uploaded file. Please check your file, then try "
                         "to upload again.") from None
    if sum(m.file_size for m in members) > MAX_UNZIPPED:
        raise BadPackage("Unzipped size must be smaller than 262144000 bytes")
    for member in members:
        target = Path("/root") / member.filename
        if ".." in Path(member.filename).parts or member.filename.startswith("/") \
                or not target.resolve().is_relative_to("/root"):
            raise BadPackage(f"The package has a file outside its root: {member.filename}")


def unpack(package: bytes, directory: Path) -> Path:
    """The package's files under `directory`, unpacked now unless they already are."""
    if directory.is_dir():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=directory.parent))
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            archive.extractall(staging)
            for member in archive.infolist():
                # Keep the modes zip tools record (an executable bootstrap, say).
                mode = member.external_attr >> 16
                if mode and not member.is_dir():
                    os.chmod(staging / member.filename, mode & 0o777 | 0o400)
        os.rename(staging, directory)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not directory.is_dir():
            raise
    return directory


def digest(package: bytes) -> str:
    """The package's key in the store and on disk: its SHA-256 in hex (file-name safe)."""
    return hashlib.sha256(package).hexdigest()
