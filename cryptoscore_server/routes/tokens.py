"""Token administration (admin only): create, list, revoke.

A created token is returned once, in the ``token`` member of the 201 response (with
``Cache-Control: no-store``); afterwards only its metadata can be read. Revoking is
idempotent and keeps the first revocation time; a revoked token is refused everywhere at once
(every request looks its token up).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from cryptoscore_server.auth import create_token, require_roles, revoke_token
from cryptoscore_server.bodies import json_body
from cryptoscore_server.db import get_session
from cryptoscore_server.models import Role, Token
from cryptoscore_server.openapi import doc
from cryptoscore_server.problems import Problem
from cryptoscore_server.schemas import (
    TokenCreatedSchema,
    TokenCreateSchema,
    TokenListSchema,
    TokenSchema,
    dump,
)

__all__ = ["bp"]

bp = Blueprint("tokens", __name__, url_prefix="/tokens")


def _token_json(row: Token) -> dict[str, Any]:
    return {
        "id": row.id,
        "role": row.role,
        "name": row.name,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "active": row.active,
    }


@bp.post("")
@doc(
    summary="Create a bearer token for a role (the token is shown only in this response)",
    tags=["tokens"],
    request_body={"required": True, "content": {"application/json": {"schema": "TokenCreate"}}},
    responses={201: TokenCreatedSchema},
    problems=[400, 413, 415, 422],
)
@require_roles(Role.ADMIN)
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_body(TokenCreateSchema())
    session = get_session()
    row, token = create_token(session, body["role"], body["name"])
    session.commit()
    payload = dump(TokenCreatedSchema(), {**_token_json(row), "token": token})
    return payload, 201, {"Cache-Control": "no-store"}


@bp.get("")
@doc(
    summary="List tokens (never the tokens themselves)",
    tags=["tokens"],
    responses={200: TokenListSchema},
)
@require_roles(Role.ADMIN)
def list_tokens() -> dict[str, Any]:
    rows = get_session().scalars(select(Token).order_by(Token.id)).all()
    return dump(TokenListSchema(), {"tokens": [_token_json(r) for r in rows]})


@bp.delete("/<int:token_id>")
@doc(
    summary="Revoke a token (idempotent)",
    tags=["tokens"],
    responses={200: TokenSchema},
    problems=[404],
)
@require_roles(Role.ADMIN)
def revoke(token_id: int) -> dict[str, Any]:
    if not 0 < token_id < 1 << 63:  # ids are 64-bit: a larger one names no token
        raise Problem(404, f"There is no token {token_id}.")
    session = get_session()
    row = revoke_token(session, token_id)
    if row is None:
        raise Problem(404, f"There is no token {token_id}.")
    session.commit()
    return dump(TokenSchema(), _token_json(row))
