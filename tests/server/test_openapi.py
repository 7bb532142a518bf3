"""The OpenAPI document: valid JSON, every served route, resolvable references, security."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from cryptoscore_server.openapi import build_spec
from tests.helpers.service import API


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document(app: Flask, client: FlaskClient) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.get_data())
    assert document["openapi"] == "3.0.3"
    assert document["info"]["title"] and document["info"]["version"]

    served = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path.replace("{", "<").replace("}", ">"), method)
        for path, ops in document["paths"].items()
        for method in ops
    }
    # the document uses {name}; Flask rules use <name> or <int:name>
    served_plain = {(r.replace("<int:", "<"), m) for r, m in served}
    assert documented == served_plain

    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref

    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}

    operation_ids = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            operation_ids.append(op["operationId"])
            assert op["summary"] and op["responses"], (path, method)
            assert any(code.startswith("2") for code in op["responses"]), (path, method)
            assert "default" in op["responses"]
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert f"{{{param['name']}}}" in path
            if op["security"]:
                assert op["security"] == [{"bearerAuth": []}]
                assert {"401", "403"} <= set(op["responses"]) and op["x-roles"]
            else:
                assert "401" not in op["responses"]
    assert len(operation_ids) == len(set(operation_ids))

    create = document["paths"]["/api/v1/challenges"]["post"]
    multipart = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(multipart["required"]) == {
        "challenge",
        "ceremony_record",
        "public_context",
        "evaluation_keys",
    }
    challenge_create = document["components"]["schemas"]["ChallengeCreate"]
    assert set(challenge_create["required"]) >= {"id", "classes", "n_items", "metrics"}
    assert create["x-roles"] == ["admin", "organizer"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}


def test_an_undocumented_route_is_an_error(app: Flask) -> None:
    app.add_url_rule(f"{API}/undocumented", "undocumented", lambda: "x")
    try:
        build_spec(app)
    except RuntimeError as exc:
        assert "undocumented" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("build_spec accepted a route without @doc")
