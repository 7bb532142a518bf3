"""Who am I: the role and name of the bearer token of the request.

``GET /whoami`` (any role) answers ``{"role", "name"}``, so a client can check that the token
it was given is the one it means to use before doing any work: ``trustee run`` refuses to start
when its token is not a trustee token named as its share's roster id (a token's name is how
the service knows which roster entry a trustee is). Never the token itself.
"""

from __future__ import annotations

from flask import Blueprint

from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.models import Role
from cryptoscore_server.openapi import doc
from cryptoscore_server.schemas import ROLES

__all__ = ["bp"]

bp = Blueprint("whoami", __name__)

_WHOAMI_RESPONSE = {
    "description": "The token's role and name",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["role", "name"],
                "properties": {
                    "role": {"type": "string", "enum": ROLES},
                    "name": {
                        "type": "string",
                        "description": "the name the token was created with (a trustee's: "
                        "its roster id)",
                    },
                },
            }
        }
    },
}


@bp.get("/whoami")
@doc(
    summary="The role and name of the request's bearer token",
    tags=["tokens"],
    responses={200: _WHOAMI_RESPONSE},
)
@require_roles(*Role)
def whoami() -> dict[str, str]:
    token = current_token()
    return {"role": str(token.role), "name": token.name}
