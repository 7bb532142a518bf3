"""Opening, binding and serving the application; minting a token in its database.

These functions do the work and return results; printing and argument parsing are in
``commands.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from cryptoscore_server.app import create_app
from cryptoscore_server.auth import create_token
from cryptoscore_server.config import load_settings
from cryptoscore_server.db import dispose, get_session
from cryptoscore_server.job_outbox import Sweeper
from cryptoscore_server.jobs import enqueue, resume_unfinished, schedule_unfinished
from cryptoscore_server.models import Role

__all__ = [
    "StartupError",
    "bind",
    "create_token_command",
    "make_server",
    "open_app",
    "serve",
    "serving_in_thread",
    "start_sweeper",
]

# Slack over MAX_UPLOAD_BYTES for multipart boundaries and the JSON part, so that the app,
# not waitress, decides (and answers 413 as a problem) when an upload is too large.
_BODY_SLACK = 1 << 20


def make_server(
    host: str = "127.0.0.1", port: int = 8000, *, threads: int = 8, app: Flask | None = None
) -> Any:
    """A waitress server for ``app`` (default: ``create_app()``), bound but not yet running.

    ``port=0`` binds a free port (see ``server.effective_port``); ``server.run()`` serves until
    ``server.close()``. Request bodies are capped a little above ``MAX_UPLOAD_BYTES`` so the
    app, not waitress, answers an oversized upload (with a 413 problem).
    """
    # imported here: only the server process needs it (waitress ships no type hints)
    import waitress.server  # type: ignore[import-untyped]

    app = app or create_app()
    server = waitress.server.create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=app.config["MAX_UPLOAD_BYTES"] + _BODY_SLACK,
        ident="cryptoscore",
    )
    server.channel_class = _problem_channel()
    return server


_WAITRESS_DETAIL = {
    413: "The request body is larger than this service accepts (MAX_UPLOAD_BYTES).",
    431: "The request's header fields (or its URL) are too large.",
}


def _problem_channel() -> Any:
    """waitress's channel, answering waitress's own refusals — a body beyond its limit, headers
    or a URL too large, a malformed request, an application crash — as RFC 9457 problem
    details like every answer of the app, instead of waitress's text/plain."""
    import waitress.channel  # type: ignore[import-untyped]
    import waitress.task  # type: ignore[import-untyped]

    class ProblemErrorTask(waitress.task.ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            error = self.request.error
            detail = _WAITRESS_DETAIL.get(error.code) or " ".join(str(error.body).split())
            body = json.dumps(
                {
                    "type": "about:blank",
                    "title": error.reason,
                    "status": error.code,
                    "detail": detail or error.reason,
                }
            ).encode()
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/problem+json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class ProblemChannel(waitress.channel.HTTPChannel):  # type: ignore[misc]
        error_task_class = ProblemErrorTask

    return ProblemChannel


@contextmanager
def serving_in_thread(app: Flask, *, threads: int = 2) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yield its base URL.

    For tests and embedding; the server is stopped and joined on exit.
    """
    server = make_server("127.0.0.1", 0, threads=threads, app=app)
    thread = threading.Thread(target=server.run, name="cryptoscore-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # close from inside the server's own loop (closing its sockets from this thread races
        # with the poll call); the loop ends when it has no sockets left. If the loop closed its
        # wake-up pipe already (waitress closes a dispatcher whose callback failed), there is
        # nothing left to race with: close here.
        try:
            server.trigger.pull_trigger(server.close)
        except OSError:
            server.close()
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        if thread.is_alive():
            raise RuntimeError("the HTTP server thread did not stop")


class StartupError(Exception):
    """The service cannot start: one line naming the dependency and its path or address."""


def open_app() -> Flask:
    """``create_app()`` from the environment, with what stops it said in one line: a data
    folder that cannot be made or written, a database that cannot be opened (its URL with
    the password hidden)."""
    settings = load_settings()
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        return create_app()
    except OSError as exc:
        where = exc.filename or settings.data_dir
        raise StartupError(
            f"the data folder {where} cannot be created or written: {exc.strerror or exc}"
        ) from None
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = " ".join(str(cause).split("\n")[0].split())
        raise StartupError(f"cannot open the database {url}: {reason}") from None


def bind(host: str, port: int, app: Flask, *, threads: int = 8) -> Any:
    """The server bound to ``host:port`` (:func:`make_server`), or a one-line StartupError."""
    try:
        return make_server(host, port, threads=threads, app=app)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server there? "
            "choose --port)"
        ) from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    threads: int = 8,
    app: Flask | None = None,
    server: Any = None,
) -> None:
    """Serve the API with waitress on ``host:port`` (or with ``server``, already bound:
    :func:`bind`) until interrupted (blocks).

    Before serving, the next job of every unfinished bundle is queued again
    (:func:`cryptoscore_server.jobs.resume_unfinished`): work queued in memory by an earlier
    run that stopped is not lost; with Redis down it waits in the outbox, and the sweep
    (:func:`start_sweeper`) hands it over when Redis is back.
    """
    app = app or create_app()
    server = server or bind(host, port, app, threads=threads)
    resumed = resume_unfinished(app)
    if resumed:
        app.logger.warning("resumed %d unfinished release job(s)", len(resumed))
    sweeper = start_sweeper(app)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        sweeper.stop()
        server.close()
        dispose(app)


def start_sweeper(app: Flask) -> Sweeper:
    """The outbox sweep of this process (``job_outbox.Sweeper``): every ``OUTBOX_INTERVAL``
    seconds (default 10) the outbox is handed to the queue, every ``REQUEUE_INTERVAL`` (default
    300) every unfinished bundle's next job is scheduled again."""
    return Sweeper(
        app,
        enqueue,
        schedule_unfinished,
        interval=float(app.config.get("OUTBOX_INTERVAL", 10)),
        requeue_every=float(app.config.get("REQUEUE_INTERVAL", 300)),
    ).start()


def create_token_command(role: Role | str, name: str, *, app: Flask | None = None) -> str:
    """Create a token for ``role`` in the configured database; return it (shown once)."""
    own_app = app is None
    app = app or create_app()
    try:
        with app.app_context():
            session = get_session()
            _row, token = create_token(session, Role(role), name)
            session.commit()
        return token
    finally:
        if own_app:
            dispose(app)
