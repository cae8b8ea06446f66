"""Validate parsed input against the constraints of botocore's input shapes.

Types are already checked by the protocol parsers; this adds what the models
declare beyond types: required members, enum values, patterns, length and
value ranges.
Messages follow the wording AWS services use ("1 validation error detected:
Value 'X' at 'a.b' failed to satisfy constraint: Member must ...").
"""

from __future__ import annotations

import functools

import regex
from botocore.model import Shape


def validation_errors(shape: Shape, value) -> list[str]:
    errors: list[str] = []
    _check(shape, value, "", errors)
    return errors


def summarize(errors: list[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)


def _check(shape: Shape, value, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                              "Member must not be null")
        for name, item in value.items():
            _check(members[name], item, _join(path, name), errors)
    elif kind == "list":
        _check_length(shape, value, path, errors, len(value))
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{i}.member", errors)
    elif kind == "map":
        _check_length(shape, value, path, errors, len(value))
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors)
            _check(shape.value, item, f"{path}.{key}", errors)
    elif kind == "string":
        enum = shape.enum
        if enum and value not in enum:
            errors.append(f"Value '{_clip(value)}' at '{path}' failed to satisfy constraint: "
                          f"Member must satisfy enum value set: [{', '.join(enum)}]")
        _check_length(shape, value, path, errors, len(value))
        pattern = shape.metadata.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            errors.append(f"Value '{_clip(value)}' at '{path}' failed to satisfy constraint: "
                          f"Member must satisfy regular expression pattern: {pattern}")
    elif kind == "blob":
        _check_length(shape, value, path, errors, len(value))
    elif kind in ("integer", "long", "float", "double"):
        _check_range(shape, value, path, errors)


def _check_length(shape: Shape, value, path: str, errors: list[str], length: int) -> None:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    if low is not None and length < low:
        errors.append(f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                      f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        errors.append(f"Value {_shown(value)} at '{path}' failed to satisfy constraint: "
                      f"Member must have length less than or equal to {high}")


def _shown(value) -> str:
    if isinstance(value, str):
        return f"'{_clip(value)}'"
    return "list" if isinstance(value, list) else "map" if isinstance(value, dict) else "blob"


def _check_range(shape: Shape, value, path: str, errors: list[str]) -> None:
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                      f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                      f"Member must have value less than or equal to {high}")


@functools.cache
def _compiled(pattern: str) -> regex.Pattern:
    # The models' patterns are Java regexes (\p{L} and friends): `regex` reads them.
    return regex.compile(pattern)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _clip(text: str, limit: int = 128) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
