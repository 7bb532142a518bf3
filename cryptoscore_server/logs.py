"""Structured logs: one JSON line on stderr per request and per job run.

A request line::

    {"event": "request", "time": "...Z", "request_id": "9f…", "method": "GET",
     "path": "/api/v1/challenges/<challenge_id>", "status": 200, "duration_ms": 3.1,
     "role": "participant", "token_id": 7}

``path`` is the route's template when the request matched one (no challenge ids or digests in
it), else the path as sent, without its query. ``role`` and ``token_id`` are those of the
caller's token once it was accepted (``null`` otherwise). A job line::

    {"event": "job", "time": "...Z", "job": "round1_start", "challenge": "digits",
     "digest": "3fa4c2d19b0e7a55", "attempt": 1, "duration_ms": 812.4, "outcome": "ok"}

with ``"outcome": "error"`` and ``"exception": "<class name>"`` when it raised. Only these
fields are written: never a token, a body, a header or a passphrase. The request id is
answered in the ``X-Request-ID`` header, so a client can quote it.

``LOG_REQUESTS=0`` (the setting, or the Flask config key) turns both kinds off.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request

__all__ = ["REQUEST_ID_HEADER", "init_app", "job_run", "rq_attempt"]

REQUEST_ID_HEADER = "X-Request-ID"
_LOGGER_NAME = "cryptoscore.events"
_DIGEST_PREFIX = 16


class _StderrLines(logging.Handler):
    """Writes each record's message as one line to the *current* ``sys.stderr`` (a test
    that captures stderr swaps it after the handler was made)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - a closed stderr must not fail a request
            self.handleError(record)


def _logger() -> logging.Logger:
    logger = logging.getLogger(_LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(_StderrLines())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def _enabled(app: Flask) -> bool:
    return bool(app.config.get("LOG_REQUESTS", True))


def _write(fields: dict[str, Any]) -> None:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _logger().info("%s", json.dumps({"event": fields.pop("event"), "time": now, **fields}))


# -- requests --------------------------------------------------------------------------------------
def _start() -> None:
    g.log_started = time.perf_counter()
    g.request_id = uuid.uuid4().hex


def _finish(response: Response) -> Response:
    started = g.get("log_started")
    if started is None:  # pragma: no cover - before_request did not run
        return response
    request_id = str(g.get("request_id"))
    response.headers[REQUEST_ID_HEADER] = request_id
    if _enabled(current_app):
        token = g.get("token")
        _write(
            {
                "event": "request",
                "request_id": request_id,
                "method": request.method,
                "path": request.url_rule.rule if request.url_rule is not None else request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "role": getattr(token, "role", None),
                "token_id": getattr(token, "id", None),
            }
        )
    return response


def init_app(app: Flask) -> None:
    """Time every request of ``app`` and log it when it is answered."""
    app.before_request(_start)
    app.after_request(_finish)


# -- jobs ------------------------------------------------------------------------------------------
@contextmanager
def job_run(app: Flask, name: str, challenge_id: str, digest: str, attempt: int) -> Iterator[None]:
    """Log one run of a job when it ends, with its outcome (the exception is re-raised)."""
    started = time.perf_counter()
    fields: dict[str, Any] = {
        "event": "job",
        "job": name,
        "challenge": challenge_id,
        "digest": digest[:_DIGEST_PREFIX],
        "attempt": attempt,
    }
    try:
        yield
    except BaseException as exc:
        fields["outcome"], fields["exception"] = "error", type(exc).__name__
        raise
    else:
        fields["outcome"] = "ok"
    finally:
        if _enabled(app):
            fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            _write(fields)


def rq_attempt() -> int:
    """Which attempt of the current RQ job this is (1 outside RQ)."""
    from rq import get_current_job

    job = get_current_job()
    return (job.number_of_retries or 0) + 1 if job is not None else 1
