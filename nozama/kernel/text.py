"""Text that can be stored and sent back, checked once for every protocol."""

from __future__ import annotations

from nozama.kernel.errors import SerializationException


def checked_text(value: str, path: str) -> str:
    """Text that can be stored and sent back: valid Unicode without NUL characters."""
    if "\x00" in value:
        raise SerializationException(f"Value at '{path}' contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SerializationException(
            f"Value at '{path}' is not valid Unicode (a lone surrogate).") from None
    return value
