"""Every error response is RFC 9457 problem details (``application/problem+json``).

Members: ``type`` (a URI naming the kind of problem; ``about:blank`` when the HTTP status says
it all), ``title`` (short, the same for every problem of that type), ``status``, ``detail``
(this occurrence, for a human) and, where useful, ``instance`` (the request path) and
extension members: ``errors`` (field → messages, on 422) and ``part`` (the upload part at fault).

How exceptions map to problems (``urn:`` is short for ``urn:cryptoscore:problem:``):

| raised                                    | status   | type                           |
|-------------------------------------------|----------|--------------------------------|
| ``werkzeug`` ``HTTPException`` (404, ...) | its own  | ``about:blank``                |
| marshmallow ``ValidationError``           | 422      | ``urn:invalid-request``        |
| ``cryptoscore`` ``FormatError``           | 400      | ``urn:format-error``           |
| ``ParameterError``                        | 400      | ``urn:parameter-error``        |
| ``InputError``                            | 400      | ``urn:input-error``            |
| ``ComputationError``                      | 400      | ``urn:computation-error``      |
| ``VerificationError``                     | 400      | ``urn:verification-error``     |
| ``MismatchError``                         | 409      | ``urn:mismatch``               |
| ``PolicyError``                           | 422      | ``urn:policy-error``           |
| ``RefusedError``                          | 422      | ``urn:refused``                |
| ``StepError``                             | 409      | ``urn:out-of-order``           |
| any other ``CryptoScoreError``            | 400      | ``urn:cryptoscore-error``      |
| :class:`Problem` (raised by views)        | chosen   | chosen (default about:blank)   |
| the database unreachable                  | 503      | ``urn:database-unavailable``   |
| no space left (disk, or the database)     | 507      | ``urn:storage-full``           |
| anything else                             | 500      | ``about:blank`` + ``incident`` |

A mismatch (a public context another ceremony produced, a bundle for another challenge) is a
conflict between two well-formed inputs, hence 409; a policy the task cannot have is a
well-formed but unacceptable request, hence 422, and so is a request a protocol rule refuses;
a step asked before its turn (a partial for a round not open) conflicts with the state, 409.
Library messages describe the input, never secret material (``cryptoscore/errors.py``), so
they are safe to return as ``detail``.
Unexpected exceptions are logged with an incident id; the response carries only that id (503
adds ``Retry-After``). waitress's own refusals — a body beyond its limit, oversized headers or
URL, a malformed request — are problem details too (``launch.py``).
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from cryptoscore.errors import (
    ComputationError,
    CryptoScoreError,
    FormatError,
    InputError,
    MismatchError,
    ParameterError,
    PolicyError,
    RefusedError,
    StepError,
    VerificationError,
)

__all__ = [
    "PROBLEM_MIME",
    "Problem",
    "library_problem",
    "problem_response",
    "register_error_handlers",
]

PROBLEM_MIME = "application/problem+json"
_URN = "urn:cryptoscore:problem:"

# (status, type suffix, title) per library error class; the most specific class wins.
_LIBRARY_ERRORS: dict[type[CryptoScoreError], tuple[int, str, str]] = {
    FormatError: (400, "format-error", "Malformed record"),
    ParameterError: (400, "parameter-error", "Unsupported or mismatched parameters"),
    InputError: (400, "input-error", "Unusable input"),
    ComputationError: (400, "computation-error", "Computation refused"),
    VerificationError: (400, "verification-error", "Verification failed"),
    MismatchError: (409, "mismatch", "Inputs do not belong together"),
    PolicyError: (422, "policy-error", "Release policy not allowed"),
    RefusedError: (422, "refused", "Refused by the protocol"),
    StepError: (409, "out-of-order", "Not at this step of the protocol"),
    CryptoScoreError: (400, "cryptoscore-error", "Invalid input"),
}


class Problem(Exception):
    """Raise in a view to answer with a problem; the error handler renders it."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title
        self.type = type
        self.headers = dict(headers or {})
        self.extensions = extensions


def library_problem(exc: CryptoScoreError, *, part: str | None = None) -> Problem:
    """The problem for a library error; ``part`` names the upload part it came from."""
    status, suffix, title = next(
        _LIBRARY_ERRORS[cls] for cls in type(exc).__mro__ if cls in _LIBRARY_ERRORS
    )
    detail = str(exc) or title
    extensions: dict[str, Any] = {}
    if part is not None:
        detail = f"{part}: {detail}"
        extensions["part"] = part
    return Problem(status, detail, title=title, type=_URN + suffix, **extensions)


def _status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A ``application/problem+json`` response (usable outside error handlers too)."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or _status_title(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request:
        body["instance"] = request.path
    body.update(extensions)
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _from_problem(exc: Problem) -> Response:
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        type=exc.type,
        headers=exc.headers,
        **exc.extensions,
    )


def _from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    # keep the headers Werkzeug attaches for a reason (Allow on 405, WWW-Authenticate on 401)
    headers = {
        name: value
        for name, value in exc.get_headers()
        if name.lower() not in {"content-type", "content-length"}
    }
    if exc.response is not None and exc.response.headers.get("WWW-Authenticate"):
        headers["WWW-Authenticate"] = exc.response.headers["WWW-Authenticate"]
    return problem_response(status, exc.description, title=exc.name, headers=headers)


def _from_validation(exc: ValidationError) -> Response:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return problem_response(
        422,
        "The request does not match the schema; see 'errors'.",
        title="Invalid request",
        type=_URN + "invalid-request",
        errors=messages,
    )


def _from_library(exc: CryptoScoreError) -> Response:
    return _from_problem(library_problem(exc))


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _unavailable(exc: Exception) -> Response | None:
    """503 for a database that cannot be reached, 507 for a full disk (the data folder, or a
    database that says so); ``None`` for anything else. Logged with an incident id either way:
    the operator must act, the client can only retry later."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    text = " ".join(str(getattr(exc, "orig", exc)).split()).lower()
    full = (isinstance(exc, OSError) and exc.errno in _DISK_FULL) or (
        isinstance(exc, OperationalError) and ("disk is full" in text or "no space" in text)
    )
    down = isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if not full and not down:
        return None
    incident = uuid.uuid4().hex
    what = "storage is full" if full else "database is unavailable"
    current_app.logger.error("%s, incident %s: %s", what, incident, text[:300])
    if full:
        return problem_response(
            507,
            f"The service's storage is full; nothing was stored (incident {incident}).",
            type=_URN + "storage-full",
            incident=incident,
        )
    return problem_response(
        503,
        f"The service's database is unavailable; nothing was stored, try again later "
        f"(incident {incident}).",
        type=_URN + "database-unavailable",
        headers={"Retry-After": "5"},
        incident=incident,
    )


def _from_unexpected(exc: Exception) -> Response:
    unavailable = _unavailable(exc)
    if unavailable is not None:
        return unavailable
    incident = uuid.uuid4().hex
    current_app.logger.exception("unhandled error, incident %s", incident)
    return problem_response(
        500,
        f"The service failed to handle this request (incident {incident}).",
        incident=incident,
    )


def register_error_handlers(app: Flask) -> None:
    """Route every error the app can raise to a problem-details response."""
    app.register_error_handler(Problem, _from_problem)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(ValidationError, _from_validation)
    app.register_error_handler(CryptoScoreError, _from_library)
    app.register_error_handler(Exception, _from_unexpected)
