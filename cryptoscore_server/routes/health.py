"""Health: liveness (the process answers) and readiness (its dependencies answer).

``/health/live`` is for a supervisor deciding whether to restart the process: it touches
nothing. ``/health/ready`` is for a load balancer deciding whether to send traffic: it runs
``SELECT 1`` on the database and, when ``REDIS_URL`` is set, pings Redis; if either fails it
answers 503 problem naming the dependency (not the driver's message, which may hold hosts).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cryptoscore_server.db import get_session
from cryptoscore_server.openapi import doc
from cryptoscore_server.problems import Problem
from cryptoscore_server.schemas import HealthSchema, dump

__all__ = ["bp"]

bp = Blueprint("health", __name__, url_prefix="/health")
_PING_TIMEOUT_SECONDS = 2.0


@bp.get("/live")
@doc(summary="Liveness: the process is up", tags=["health"], responses={200: HealthSchema})
def live() -> dict[str, Any]:
    return dump(HealthSchema(), {"status": "ok"})


def _check_database() -> None:
    session = get_session()
    try:
        session.execute(text("SELECT 1")).scalar_one()
    finally:
        session.rollback()


def _check_redis(url: str) -> None:
    import redis  # imported here: only deployments with a queue need the client loaded

    client = redis.Redis.from_url(
        url, socket_connect_timeout=_PING_TIMEOUT_SECONDS, socket_timeout=_PING_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


@bp.get("/ready")
@doc(
    summary="Readiness: the database (and Redis, when configured) answer",
    tags=["health"],
    responses={200: HealthSchema},
    problems=[503],
)
def ready() -> dict[str, Any]:
    checks: dict[str, str] = {}
    try:
        _check_database()
    except SQLAlchemyError:
        current_app.logger.warning("readiness: database unreachable", exc_info=True)
        raise Problem(503, "The database is unreachable.", check="database") from None
    checks["database"] = "ok"
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            _check_redis(redis_url)
        except Exception:  # any client or socket error means: not ready
            current_app.logger.warning("readiness: redis unreachable", exc_info=True)
            raise Problem(503, "Redis (the job queue) is unreachable.", check="redis") from None
        checks["redis"] = "ok"
    else:
        checks["redis"] = "not configured"
    return dump(HealthSchema(), {"status": "ok", "checks": checks})
