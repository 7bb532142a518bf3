"""Bearer tokens and roles.

A token is ``cs_`` followed by 32 bytes from :mod:`secrets` in URL-safe base64 (46 characters
in all; the prefix keeps a token from starting with ``-``, which command lines would read as an
option, and lets secret scanners recognise it). It is shown to its
holder once, when created; the database keeps only its SHA-256, so a leaked database does not
leak working tokens (the token has 256 bits of entropy, so an unsalted hash is enough: there
is nothing to brute-force). A request carries it as ``Authorization: Bearer <token>``.

Checking a token looks its hash up (an index lookup on a digest of the secret, which reveals
nothing about the secret through timing) and then compares the stored and computed digests
with :func:`hmac.compare_digest`. Unknown, malformed and revoked tokens are refused alike
with 401 and ``WWW-Authenticate: Bearer ...`` (RFC 6750); a valid token of a role the endpoint
does not admit gets 403.

In a view::

    @bp.post("/things")
    @require_roles(Role.ORGANIZER, Role.ADMIN)
    def create_thing() -> ...:
        token = current_token()      # the caller's Token row
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cryptoscore_server.db import get_session
from cryptoscore_server.models import Role, Token, utcnow
from cryptoscore_server.problems import Problem

__all__ = [
    "Role",
    "a_role_token",
    "authenticate",
    "create_token",
    "current_token",
    "hash_token",
    "require_roles",
    "revoke_token",
]

P = ParamSpec("P")
R = TypeVar("R")

_TOKEN_BYTES = 32
TOKEN_PREFIX = "cs_"  # noqa: S105 - a public prefix, not a secret
_REALM = 'Bearer realm="cryptoscore"'


def a_role_token(role: str) -> str:
    """``"A participant token"``, ``"An admin token"``: a role's token, with its article."""
    return f"{'An' if role[:1] in 'aeiou' else 'A'} {role} token"


def hash_token(token: str) -> str:
    """SHA-256 (hex) of the token string: the only form of a token the service stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, role: Role | str, name: str) -> tuple[Token, str]:
    """Add a token for ``role`` to ``session``; return the row and the plaintext token.

    The caller commits. The plaintext is not recoverable afterwards: hand it over at once.
    """
    role = Role(role)  # ValueError for an unknown role
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise ValueError("a token name is 1-100 printable characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    row = Token(name=name, role=role.value, token_hash=hash_token(token))
    session.add(row)
    session.flush()  # assigns the id
    return row, token


def revoke_token(session: Session, token_id: int) -> Token | None:
    """Mark token ``token_id`` revoked (idempotent: the first revocation time is kept)."""
    row = session.get(Token, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def authenticate(session: Session, token: str) -> Token | None:
    """The active token row for ``token``, or None (unknown or revoked)."""
    digest = hash_token(token)
    row = session.scalars(select(Token).where(Token.token_hash == digest)).one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row if row.revoked_at is None else None


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 256:
        return None
    return value


def _unauthorized(detail: str, error: str | None) -> Problem:
    challenge = _REALM if error is None else f'{_REALM}, error="{error}"'
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


def require_roles(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Admit only requests with an active token of one of ``roles`` (401 / 403 otherwise)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(Role(r) for r in roles)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            presented = _bearer_token()
            if presented is None:
                raise _unauthorized("This endpoint needs an 'Authorization: Bearer' token.", None)
            token = authenticate(get_session(), presented)
            if token is None:
                raise _unauthorized("The bearer token is unknown or revoked.", "invalid_token")
            if Role(token.role) not in allowed:
                raise Problem(
                    403,
                    f"{a_role_token(token.role)} may not do this; it needs one of: "
                    + ", ".join(sorted(allowed)),
                )
            g.token = token
            return view(*args, **kwargs)

        # read by the OpenAPI builder and the access-matrix test
        wrapper.__dict__["required_roles"] = tuple(sorted(allowed))
        return wrapper

    return decorate


def current_token() -> Token:
    """The token of the request (inside a view guarded by :func:`require_roles`)."""
    token: Any = g.get("token")
    if not isinstance(token, Token):
        raise RuntimeError("current_token() outside a view guarded by require_roles")
    return token
