"""The OpenAPI 3 document, generated from the routes and the marshmallow schemas.

Each view declares its operation with :func:`doc` (summary, request body, success responses,
the problems it can answer with); :func:`build_spec` walks the application's URL map, so a
route without ``@doc`` is an error, and the document can never list a path the app does not
serve. ``require_roles`` marks guarded views; the builder adds the bearer security requirement,
the 401 and 403 responses and an ``x-roles`` list for them.

Served at ``GET /api/v1/openapi.json``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, jsonify
from marshmallow import Schema

from cryptoscore_server import schemas
from cryptoscore_server.problems import PROBLEM_MIME

__all__ = [
    "API_PREFIX",
    "binary_body",
    "binary_response",
    "binary_schema",
    "bp",
    "build_spec",
    "doc",
]

API_PREFIX = "/api/v1"
OPENAPI_VERSION = "3.0.3"
F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION = "cryptoscore.openapi"

_COMPONENTS: tuple[type[Schema], ...] = (
    schemas.ProblemSchema,
    schemas.HealthSchema,
    schemas.TokenCreateSchema,
    schemas.TokenSchema,
    schemas.TokenCreatedSchema,
    schemas.TokenListSchema,
    schemas.SplitCreateSchema,
    schemas.ChallengeCreateSchema,
    schemas.PolicySchema,
    schemas.TrusteeSchema,
    schemas.BlobRefSchema,
    schemas.ChallengeBlobsSchema,
    schemas.ChallengeSchema,
    schemas.ChallengeListSchema,
    schemas.QuotaUseSchema,
    schemas.QuotaSchema,
    schemas.EnrolmentSchema,
    schemas.LabelsStatusSchema,
    schemas.RefusalReportSchema,
    schemas.RefusalSchema,
    schemas.RefusalListSchema,
    schemas.LabelsUploadedSchema,
    schemas.SubmissionUploadedSchema,
    schemas.PrivatePartSchema,
    schemas.SubmissionStatusSchema,
    schemas.LeaderboardRowSchema,
    schemas.IntervalSchema,
    schemas.LeaderboardSplitSchema,
    schemas.LeaderboardSchema,
    schemas.SelectionCreateSchema,
    schemas.SelectionSchema,
    schemas.CloseSchema,
    schemas.ContributionTaskSchema,
    schemas.RequestTaskSchema,
    schemas.PadTaskSchema,
    schemas.Round1EvidenceSchema,
    schemas.TrusteeTasksSchema,
    schemas.PadRequestCreateSchema,
    schemas.PadRequestSchema,
    schemas.AcceptedSchema,
    schemas.LogHeadSchema,
    schemas.LogEntriesSchema,
    schemas.ConsistencySchema,
    schemas.LoggedEventSchema,
    schemas.LoggedSubmissionSchema,
    schemas.TrusteePresenceSchema,
    schemas.TrusteePresenceListSchema,
    schemas.CeremonyTrusteeSchema,
    schemas.CeremonySchema,
    schemas.CeremonyListSchema,
    schemas.CeremonyMessageSchema,
    schemas.CeremonyMessageListSchema,
    schemas.CeremonyPostedSchema,
    schemas.CeremonyKindSchema,
    schemas.CeremonyDetailSchema,
)
_STATUS_TEXT = {
    400: "Malformed request or input",
    401: "Missing, unknown or revoked bearer token",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Upload larger than MAX_UPLOAD_BYTES (a ceremony message: than its plan allows)",
    415: "Wrong content type",
    429: "Too many submissions in the last 24 hours",
    422: "Request does not match the schema or policy",
    503: "A dependency is unreachable",
}
_RULE_ARG = re.compile(r"<(?:(?P<conv>[a-zA-Z_]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def binary_schema(description: str | None = None) -> dict[str, Any]:
    """The OpenAPI schema of raw bytes (a wire record)."""
    schema: dict[str, Any] = {"type": "string", "format": "binary"}
    if description:
        schema["description"] = description
    return schema


def binary_body(description: str, media_type: str = "application/octet-stream") -> dict[str, Any]:
    """A required request body of raw bytes."""
    return {"required": True, "content": {media_type: {"schema": binary_schema(description)}}}


def binary_response(
    description: str,
    media_type: str = "application/octet-stream",
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A response of raw bytes."""
    response: dict[str, Any] = {
        "description": description,
        "content": {media_type: {"schema": binary_schema()}},
    }
    if headers:
        response["headers"] = headers
    return response


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def doc(
    *,
    summary: str,
    responses: Mapping[int, Any],
    description: str | None = None,
    tags: Iterable[str] = (),
    request_body: Mapping[str, Any] | None = None,
    problems: Iterable[int] = (),
    parameters: Iterable[Mapping[str, Any]] = (),
) -> Callable[[F], F]:
    """Attach an OpenAPI operation to a view.

    ``responses`` maps a status to a schema class (JSON body), to ``None`` (no body) or to a
    ready response object; ``problems`` lists the error statuses the view itself answers with.
    ``request_body`` is an OpenAPI request body object (schema classes are resolved).
    """

    def decorate(view: F) -> F:
        operation: dict[str, Any] = {"summary": summary, "responses": {}}
        if description:
            operation["description"] = description
        if tags:
            operation["tags"] = list(tags)
        if request_body is not None:
            operation["requestBody"] = dict(request_body)
        if parameters:
            operation["parameters"] = [dict(p) for p in parameters]
        for status, body in responses.items():
            if body is None:
                operation["responses"][str(status)] = {"description": "No content"}
            elif isinstance(body, type) and issubclass(body, Schema):
                operation["responses"][str(status)] = {
                    "description": body.__doc__.strip().splitlines()[0] if body.__doc__ else "OK",
                    "content": {"application/json": {"schema": _schema_name(body)}},
                }
            else:
                operation["responses"][str(status)] = dict(body)
        view.__dict__["openapi_operation"] = operation
        view.__dict__["openapi_problems"] = tuple(problems)
        return view

    return decorate


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Problem"),
        "content": {PROBLEM_MIME: {"schema": "Problem"}},
    }


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params: list[dict[str, Any]] = []

    def repl(match: re.Match[str]) -> str:
        kind = "integer" if match["conv"] == "int" else "string"
        params.append(
            {"name": match["name"], "in": "path", "required": True, "schema": {"type": kind}}
        )
        return "{" + match["name"] + "}"

    return _RULE_ARG.sub(repl, rule), params


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every ``/api/v1`` route of ``app``."""
    spec = APISpec(
        title="CryptoScore service",
        version="1",
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={
            "description": "Scores encrypted predictions against encrypted labels; every "
            "error is RFC 9457 problem details (application/problem+json)."
        },
    )
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "token from `cryptoscore token create`",
        },
    )
    for schema in _COMPONENTS:
        spec.components.schema(_schema_name(schema), schema=schema)

    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        base = view.__dict__.get("openapi_operation")
        if base is None:
            raise RuntimeError(f"route {rule.rule} ({rule.endpoint}) has no @doc operation")
        path, path_params = _openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            # deep copy: apispec resolves references in place
            operation: dict[str, Any] = copy.deepcopy(base)
            operation["operationId"] = rule.endpoint.replace(".", "_")
            if path_params:
                operation["parameters"] = path_params + list(base.get("parameters", []))
            statuses = set(view.__dict__.get("openapi_problems", ()))
            roles = view.__dict__.get("required_roles")
            if roles:
                operation["security"] = [{"bearerAuth": []}]
                operation["x-roles"] = list(roles)
                statuses |= {401, 403}
            else:
                operation["security"] = []
            for status in sorted(statuses):
                operation["responses"].setdefault(str(status), _problem_response(status))
            operation["responses"]["default"] = {
                "description": "Unexpected error",
                "content": {PROBLEM_MIME: {"schema": "Problem"}},
            }
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
@doc(
    summary="This API's OpenAPI 3 document",
    tags=["meta"],
    responses={200: {"description": "OpenAPI document", "content": {"application/json": {}}}},
)
def openapi_document() -> Response:
    # built once per app: the routes do not change after start-up
    document = current_app.extensions.get(_EXTENSION)
    if document is None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        document = current_app.extensions[_EXTENSION] = build_spec(app)
    return jsonify(document)
