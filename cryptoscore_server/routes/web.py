"""The web frontend: one page at ``/`` and its files at ``/static/...`` (``../web``).

The page (``index.html``, ``app.js``, ``app.css``; no build step, nothing from another origin)
reads only the public API under ``/api/v1`` — challenges, leaderboard, trustee presence, the
log's head, consistency proofs and a submission's log entries — and routes by URL fragment
(``#/challenges/<id>``, ``…/leaderboard``, ``…/submissions/<digest>``, ``…/audit``), so the
service serves the same page for every view. Its responses carry a Content-Security-Policy
that admits scripts, styles and requests from this origin only.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

__all__ = ["CONTENT_SECURITY_POLICY", "WEB_DIR", "bp"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The page's files (package data)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Everything from this origin, nothing inline, nothing from elsewhere."""

bp = Blueprint("web", __name__)


@bp.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.cache_control.no_cache = True  # revalidated (ETag) on every load: never stale
    return response


@bp.get("/")
def index() -> Response:
    return send_from_directory(WEB_DIR, "index.html")


@bp.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    return send_from_directory(WEB_DIR, filename)
