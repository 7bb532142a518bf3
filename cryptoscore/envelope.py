"""The one envelope every CryptoScore wire record uses.

A record is::

    magic (8 bytes, names the record type) | u16 format version | u32 header length |
    header: canonical JSON (UTF-8, keys sorted, no whitespace, ASCII only) | body (binary)

Canonical JSON is checked on parsing — the header bytes must equal the re-serialization of
the parsed object — so one record has exactly one byte string, and its SHA-256 identifies it
in the log, in trustee journals and in audit bundles. Everything about the body (its length
above all) follows from the header, so parsers can check the length before reading anything.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from cryptoscore.errors import FormatError

__all__ = ["canonical_json", "pack_record", "parse_json", "unpack_record"]

_PREFIX = struct.Struct("<8sHI")
MAX_HEADER = 1 << 20


def canonical_json(obj: Mapping[str, Any] | list[Any]) -> bytes:
    """The canonical serialization: sorted keys, no whitespace, ASCII escapes, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def parse_json(raw: bytes, what: str) -> dict[str, Any]:
    """Parse canonical JSON that must be an object, refusing any other spelling of it."""
    try:
        obj = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"{what}: header is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: header must be a JSON object")
    if canonical_json(obj) != raw:
        raise FormatError(f"{what}: header is not in canonical JSON form")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def pack_record(magic: bytes, version: int, header: Mapping[str, Any], body: bytes = b"") -> bytes:
    """Serialize one record; see the module docstring for the layout."""
    head = canonical_json(header)
    return _PREFIX.pack(magic, version, len(head)) + head + body


def record_prefix(magic: bytes, version: int, header: Mapping[str, Any]) -> bytes:
    """Everything of a record before its body (for writers that stream the body)."""
    head = canonical_json(header)
    return _PREFIX.pack(magic, version, len(head)) + head


def unpack_record(
    raw: bytes | memoryview, magic: bytes, version: int, what: str
) -> tuple[dict[str, Any], memoryview]:
    """Split a record into its parsed header and body, checking magic and version."""
    view = memoryview(raw)
    if len(view) < _PREFIX.size:
        raise FormatError(f"{what}: truncated ({len(view)} bytes, the prefix alone needs 14)")
    got_magic, got_version, hlen = _PREFIX.unpack_from(view)
    if got_magic != magic:
        raise FormatError(f"{what}: wrong record type (magic {bytes(got_magic)!r}, want {magic!r})")
    if got_version != version:
        raise FormatError(
            f"{what}: unsupported format version {got_version} (this library reads {version})"
        )
    if hlen > MAX_HEADER or _PREFIX.size + hlen > len(view):
        raise FormatError(f"{what}: truncated or oversized header ({hlen} bytes)")
    header = parse_json(bytes(view[_PREFIX.size : _PREFIX.size + hlen]), what)
    return header, view[_PREFIX.size + hlen :]


def known_version(raw: bytes | memoryview, versions: Sequence[int]) -> int:
    """The format version of record ``raw`` if it is one of ``versions``, else the first of
    them, so that :func:`unpack_record` then names what is wrong (for record types that read
    more than one version)."""
    version = int.from_bytes(bytes(raw[8:10]), "little") if len(raw) >= _PREFIX.size else 0
    return version if version in versions else versions[0]


def header_length(raw: bytes | memoryview) -> int:
    """Length of the prefix plus header of a record (where its body starts)."""
    view = memoryview(raw)
    if len(view) < _PREFIX.size:
        raise FormatError("record truncated")
    _, _, hlen = _PREFIX.unpack_from(view)
    return int(_PREFIX.size + hlen)


class Fields:
    """Typed access to a parsed header that names the missing or mistyped field."""

    def __init__(self, header: Mapping[str, Any], what: str, allowed: set[str]) -> None:
        extra = set(header) - allowed
        if extra:
            raise FormatError(f"{what}: unknown header field(s) {sorted(extra)}")
        missing = allowed - set(header)
        if missing:
            raise FormatError(f"{what}: missing header field(s) {sorted(missing)}")
        self._h = header
        self._what = what

    def integer(self, key: str, lo: int = 0, hi: int = 1 << 62) -> int:
        v = self._h[key]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise FormatError(f"{self._what}: field {key!r} must be an integer in [{lo}, {hi}]")
        return v

    def string(self, key: str, max_len: int = 256) -> str:
        v = self._h[key]
        if not isinstance(v, str) or len(v) > max_len:
            raise FormatError(f"{self._what}: field {key!r} must be a string of <= {max_len}")
        return v

    def hex(self, key: str, nbytes: int) -> bytes:
        v = self.string(key, 2 * nbytes)
        try:
            out = bytes.fromhex(v)
        except ValueError:
            raise FormatError(f"{self._what}: field {key!r} is not hex") from None
        if len(out) != nbytes or v != out.hex():
            raise FormatError(f"{self._what}: field {key!r} must be {nbytes} bytes of lower hex")
        return out

    def str_list(self, key: str, max_items: int = 4096) -> list[str]:
        v = self._h[key]
        if (
            not isinstance(v, list)
            or len(v) > max_items
            or not all(isinstance(x, str) and len(x) <= 256 for x in v)
        ):
            raise FormatError(f"{self._what}: field {key!r} must be a list of strings")
        return list(v)

    def int_list(self, key: str, lo: int, hi: int, max_items: int = 4096) -> list[int]:
        v = self._h[key]
        if (
            not isinstance(v, list)
            or len(v) > max_items
            or not all(isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi for x in v)
        ):
            raise FormatError(f"{self._what}: field {key!r} must be a list of integers")
        return list(v)
