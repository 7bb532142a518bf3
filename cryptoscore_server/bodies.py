"""Reading request bodies: JSON through a schema, uploads as named multipart parts.

The status codes are part of the API: a body of the wrong media type is 415, JSON that does
not parse (or is nested past the parser's recursion limit) is 400, JSON that parses but does
not fit the schema is 422, a body above
``MAX_UPLOAD_BYTES`` is 413 (raised by Werkzeug while reading it).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import FileStorage

from cryptoscore_server.problems import Problem

__all__ = ["json_body", "multipart_file_parts", "multipart_json_part", "require_multipart"]

_JSON_MIME = "application/json"
_MULTIPART_MIME = "multipart/form-data"


OCTET_STREAM = "application/octet-stream"


def octet_body(what: str) -> bytes:
    """The raw body of an ``application/octet-stream`` upload of ``what`` (415 otherwise)."""
    if request.mimetype != OCTET_STREAM:
        raise Problem(
            415, f"Send the {what} as {OCTET_STREAM}, not {request.mimetype or 'nothing'}."
        )
    return request.get_data(cache=False)


def json_body(schema: Schema) -> dict[str, Any]:
    """The request's JSON body, loaded (validated) by ``schema``."""
    if request.mimetype != _JSON_MIME:
        raise Problem(415, f"Send the body as {_JSON_MIME}, not {request.mimetype or 'nothing'}.")
    return _load(schema, request.get_data(cache=False), "the request body")


def _load(schema: Schema, raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(400, f"{what} is not valid JSON: {exc}", title="Malformed JSON") from None
    except RecursionError:
        raise Problem(400, f"{what} is nested too deeply", title="Malformed JSON") from None
    if not isinstance(data, dict):
        raise Problem(400, f"{what} must be a JSON object", title="Malformed JSON")
    loaded: dict[str, Any] = schema.load(data)
    return loaded


def require_multipart(parts: tuple[str, ...]) -> None:
    """Refuse (415) any body but ``multipart/form-data``; ``parts`` go into the message."""
    if request.mimetype != _MULTIPART_MIME:
        raise Problem(
            415,
            f"Send {_MULTIPART_MIME} with the parts {', '.join(parts)}, "
            f"not {request.mimetype or 'an empty body'}.",
        )


def multipart_json_part(name: str, schema: Schema) -> dict[str, Any]:
    """Multipart part ``name`` (a form field or a file part) as JSON loaded by ``schema``."""
    upload = request.files.get(name)
    if upload is not None:
        raw = upload.read()
    elif name in request.form:
        raw = request.form[name].encode("utf-8")
    else:
        raise ValidationError({name: ["Missing part."]})
    return _load(schema, raw, f"part {name!r}")


def multipart_file_parts(names: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of each file part in ``names`` (422 naming every part the request lacks)."""
    uploads: dict[str, FileStorage | None] = {n: request.files.get(n) for n in names}
    missing = [n for n, upload in uploads.items() if upload is None]
    if missing:
        raise ValidationError({n: ["Missing file part."] for n in missing})
    return {n: upload.read() for n, upload in uploads.items() if upload is not None}
