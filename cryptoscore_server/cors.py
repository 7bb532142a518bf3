"""CORS for the public read endpoints, so a leaderboard frontend on another origin can read.

Only views marked :func:`public_read` take part, and only for origins listed in
``CORS_ORIGINS`` (``*`` admits any origin). Such responses get
``Access-Control-Allow-Origin`` (the request's origin, with ``Vary: Origin``, or ``*``), and a
preflight ``OPTIONS`` is answered for ``GET``/``HEAD``. Credentials are never allowed: the
public endpoints need none, and guarded endpoints are not reachable cross-origin from a browser,
which keeps bearer tokens out of reach of other sites' scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

__all__ = ["init_app", "public_read"]

F = TypeVar("F", bound=Callable[..., Any])

_METHODS = "GET, HEAD, OPTIONS"
# Request headers a read-only client may send beyond the CORS-safelisted ones.
_ALLOWED_HEADERS = "Accept, If-None-Match, If-Modified-Since, Range"
_EXPOSED_HEADERS = "ETag, Content-Disposition"
_PREFLIGHT_MAX_AGE = "600"


def public_read(view: F) -> F:
    """Mark a view as a public read endpoint (CORS-enabled for the configured origins)."""
    view.__dict__["cors_public"] = True
    return view


def _allowed_origin(origin: str) -> str | None:
    origins: tuple[str, ...] = current_app.config.get("CORS_ORIGINS", ())
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _add_cors_headers(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if not origin or request.endpoint is None:
        return response
    view = current_app.view_functions.get(request.endpoint)
    if view is None or not view.__dict__.get("cors_public"):
        return response
    allowed = _allowed_origin(origin)
    response.vary.add("Origin")
    if allowed is None:
        return response
    response.headers["Access-Control-Allow-Origin"] = allowed
    if request.method == "OPTIONS":
        wanted = request.headers.get("Access-Control-Request-Method", "")
        if wanted in {"GET", "HEAD"}:
            response.headers["Access-Control-Allow-Methods"] = _METHODS
            response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
    else:
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_cors_headers)
