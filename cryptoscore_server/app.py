"""The Flask application factory.

``create_app()`` reads the settings (``config.py``), opens the database and migrates it to the
newest schema (``db.py``), opens the blob store (``blobs.py``), installs the problem-details
error handlers (``problems.py``), CORS (``cors.py``) and the JSON request log (``logs.py``),
and registers one blueprint per resource under ``/api/v1``, and the web page at ``/``
(``routes/web.py``).

Adding a resource: write ``routes/<resource>.py`` with ``bp = Blueprint("<resource>",
__name__, url_prefix="/<resource>")``, decorate each view with ``@doc(...)`` (OpenAPI) and either
``@require_roles(...)`` or ``@public_read``, add the module to :data:`BLUEPRINTS`, and add its
endpoints to the access matrix in ``tests/server/test_access.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request

from cryptoscore_server import blobs, cors, db, logs, openapi, problems
from cryptoscore_server.config import SETTING_KEYS, load_settings
from cryptoscore_server.problems import Problem
from cryptoscore_server.routes import (
    bundles,
    ceremonies,
    challenges,
    enrolment,
    health,
    pad_requests,
    public_record,
    refusals,
    split,
    tokens,
    trustee_tasks,
    web,
    whoami,
)

__all__ = ["BLUEPRINTS", "create_app"]

#: Every resource's blueprint, registered under ``/api/v1``.
BLUEPRINTS = (
    health.bp,
    tokens.bp,
    whoami.bp,
    challenges.bp,
    enrolment.bp,
    bundles.bp,
    pad_requests.bp,
    split.bp,
    trustee_tasks.bp,
    refusals.bp,
    public_record.bp,
    ceremonies.bp,
    openapi.bp,
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the service. ``test_config`` overrides settings and Flask config keys."""
    app = Flask(__name__, static_folder=None)  # the web page serves its own (routes/web.py)
    settings = load_settings(overrides=test_config)
    app.config.update(settings.flask_config())
    if test_config:
        # settings were resolved above (with derived defaults); other keys go in as given
        app.config.update({k: v for k, v in test_config.items() if k not in SETTING_KEYS})
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    problems.register_error_handlers(app)
    db.init_app(app)
    blobs.init_app(app)
    cors.init_app(app)
    logs.init_app(app)  # first: every request is timed and logged, refused ones too
    app.before_request(_refuse_unstorable_text)
    app.after_request(_security_headers)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(
            blueprint, url_prefix=openapi.API_PREFIX + (blueprint.url_prefix or "")
        )
    app.register_blueprint(web.bp)
    return app


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL text cannot hold it) and no unpaired surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse_unstorable_text() -> None:
    """A path segment with a NUL or an unpaired surrogate names nothing (404); a query with
    one is malformed (400) — refused before any route queries a database with it."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and not _storable(value):
            raise Problem(
                404, "No resource has that name: it holds a NUL or an unpaired surrogate."
            )
    for key, value in request.args.items(multi=True):
        if not (_storable(key) and _storable(value)):
            raise Problem(400, f"Query parameter {key!r} holds a NUL or an unpaired surrogate.")


def _security_headers(response: Response) -> Response:
    # API responses are data, never documents a browser should sniff or frame
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
