"""Lambda deployment packages for tests: zips of Python modules, byte for byte the
same for the same sources (fixed file times), so CodeSha256 can be predicted."""

from __future__ import annotations

import io
import zipfile


def zip_package(**modules: str) -> bytes:
    """A zip with one `<name>.py` per keyword: zip_package(app="def handler...")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in modules.items():
            archive.writestr(zipfile.ZipInfo(f"{name}.py", date_time=(2026, 1, 1, 0, 0, 0)),
                             source)
    return buffer.getvalue()
