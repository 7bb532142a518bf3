"""Python client of the CryptoScore REST API (``/api/v1``), used by the CLI.

Thin: it moves bytes and JSON over HTTP with a bearer token and turns problem-details errors
into :class:`ApiError` (one clear line). All cryptography is done by the caller with
``cryptoscore`` before upload and after download. Standard library only (``urllib``).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

__all__ = [
    "SIGNATURE_HEADER",
    "ApiError",
    "Client",
    "ProgressBody",
    "ProtocolClient",
    "ServiceCeremonyExchange",
    "Transfer",
]

API = "/api/v1"
SIGNATURE_HEADER = "X-CryptoScore-Signature"
"""The header of a bundle upload that carries its owner's signature (hex; ``sign_upload``)."""


Transfer = Callable[[int, int], None]
"""``transfer(done, total)``: the bytes of a request body sent, or of a response read, so far
(``total`` 0 when a response does not say its length)."""

DOWNLOAD_BLOCK = 1 << 20
"""Bytes read from a response at a time when a download reports its progress."""


class ProgressBody:
    """A request body that urllib reads block by block (``http.client`` sends a body with a
    ``read`` method so), telling ``transfer`` the bytes handed over so far; its length goes in
    the Content-Length header, so the upload is not chunked."""

    def __init__(self, data: bytes, transfer: Transfer) -> None:
        self._data = memoryview(data)
        self._sent = 0
        self._transfer = transfer

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._sent + size
        block = bytes(self._data[self._sent : end])
        if block:
            self._sent += len(block)
            self._transfer(self._sent, len(self._data))
        return block


class ApiError(Exception):
    """An error response: ``status`` and the problem's title/detail in one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Client:
    """One server and one bearer token (``token`` may be omitted for public reads)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 600) -> None:
        self.base = base_url.rstrip("/") + API
        self.token = token
        self.timeout = timeout

    # -- transport ------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        upload: Transfer | None = None,
        download: Transfer | None = None,
    ) -> tuple[int, bytes, str]:
        """Send one request; its status, body and content type. ``upload`` is told the bytes of
        ``body`` sent so far, ``download`` those of the response read so far."""
        data: bytes | ProgressBody | None = body
        if body is not None and upload is not None:
            data = ProgressBody(body, upload)
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        if isinstance(data, ProgressBody):
            req.add_header("Content-Length", str(len(data)))
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                content = resp.read() if download is None else _read_reporting(resp, download)
                return resp.status, content, resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _problem_text(exc.read())) from None
        except urllib.error.URLError as exc:
            raise ApiError(0, f"cannot reach {self.base}: {exc.reason}") from None
        except (http.client.HTTPException, OSError) as exc:  # e.g. RemoteDisconnected mid-reply
            raise ApiError(
                0, f"connection to {self.base} lost: {type(exc).__name__}: {exc}"
            ) from None

    def get_json(self, path: str) -> Any:
        return json.loads(self._request("GET", path)[1])

    def get_bytes(self, path: str, download: Transfer | None = None) -> bytes:
        return self._request("GET", path, download=download)[1]

    def post_json(self, path: str, obj: Mapping[str, Any]) -> Any:
        _, body, _ = self._request("POST", path, json.dumps(obj).encode(), "application/json")
        return json.loads(body) if body else None

    def delete_json(self, path: str) -> Any:
        return json.loads(self._request("DELETE", path)[1])

    def post_bytes(
        self,
        path: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        upload: Transfer | None = None,
    ) -> Any:
        _, body, _ = self._request(
            "POST", path, data, "application/octet-stream", headers, upload=upload
        )
        return json.loads(body) if body else None

    def post_multipart(
        self,
        path: str,
        json_parts: Mapping[str, Any],
        file_parts: Mapping[str, bytes],
        upload: Transfer | None = None,
    ) -> Any:
        boundary = uuid.uuid4().hex
        chunks: list[bytes] = []
        for name, value in json_parts.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                f"Content-Type: application/json\r\n\r\n".encode()
                + json.dumps(value).encode()
                + b"\r\n"
            )
        for name, data in file_parts.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        chunks.append(f"--{boundary}--\r\n".encode())
        _, body, _ = self._request(
            "POST",
            path,
            b"".join(chunks),
            f"multipart/form-data; boundary={boundary}",
            upload=upload,
        )
        return json.loads(body)

    # -- resources --------------------------------------------------------------------------------
    def health(self) -> Any:
        return self.get_json("/health/ready")

    def create_challenge(
        self,
        definition: Mapping[str, Any],
        ceremony_record: bytes,
        public_context: bytes,
        evaluation_keys: bytes,
        upload: Transfer | None = None,
    ) -> Any:
        """Create a challenge (organizer or admin); ``upload`` reports the ~30–150 MB sent."""
        return self.post_multipart(
            "/challenges",
            {"challenge": definition},
            {
                "ceremony_record": ceremony_record,
                "public_context": public_context,
                "evaluation_keys": evaluation_keys,
            },
            upload,
        )

    def create_token(self, role: str, name: str) -> Any:
        """Mint a token (admin): its metadata, and the token itself in ``token`` (once)."""
        return self.post_json("/tokens", {"role": role, "name": name})

    def tokens(self) -> Any:
        """Every token's metadata (admin), never the tokens."""
        return self.get_json("/tokens")["tokens"]

    def revoke_token(self, token_id: int) -> Any:
        """Revoke token ``token_id`` (admin; idempotent); its metadata."""
        return self.delete_json(f"/tokens/{token_id}")

    def challenge(self, challenge_id: str) -> Any:
        return self.get_json(f"/challenges/{challenge_id}")

    def public_context(self, challenge_id: str) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/public-context")

    def ceremony_record(self, challenge_id: str) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/ceremony-record")

    def evaluation_keys(self, challenge_id: str) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/evaluation-keys")


def _read_reporting(resp: Any, download: Transfer) -> bytes:
    """A response's body read a block at a time, each told to ``download``."""
    total = int(resp.headers.get("Content-Length") or 0)
    blocks: list[bytes] = []
    done = 0
    while block := resp.read(DOWNLOAD_BLOCK):
        blocks.append(block)
        done += len(block)
        download(done, total)
    return b"".join(blocks)


def _problem_text(body: bytes) -> str:
    try:
        problem = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace") or "error"
    if not isinstance(problem, dict):
        return "error"
    title = str(problem.get("title", "error"))
    detail = problem.get("detail")
    errors = _error_lines(problem.get("errors"), "")
    if errors:  # a 422: what is wrong with which field, instead of "see 'errors'"
        shown = errors[:_MAX_ERRORS]
        more = f"; and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        return f"{title}: " + "; ".join(shown) + more
    return f"{title}: {detail}" if detail else title


_MAX_ERRORS = 5


def _error_lines(errors: Any, where: str) -> list[str]:
    """A problem's ``errors`` (field → messages, nested for nested fields and lists) as
    ``"field: message"`` strings; list positions are said as items counted from 1."""
    if isinstance(errors, dict):
        lines: list[str] = []
        for key, value in errors.items():
            name = str(key)
            if name.isdigit():
                name = f"item {int(name) + 1}"
            elif name == "_schema":
                name = ""
            lines.extend(_error_lines(value, " ".join(p for p in (where, name) if p)))
        return lines
    if isinstance(errors, list):
        if all(isinstance(e, str) for e in errors):
            text = " ".join(e.strip() for e in errors)
            return [f"{where}: {text}" if where else text] if text else []
        return [line for e in errors for line in _error_lines(e, where)]
    if errors is None:
        return []
    return [f"{where}: {errors}" if where else str(errors)]


class ProtocolClient(Client):
    """The endpoints of the networked protocol: uploads, trustee tasks, results, audit."""

    def enrol(self, challenge_id: str, record: bytes) -> Any:
        """Post an enrolment record (``Enrolment.to_bytes()``) for the caller's token."""
        return self.post_bytes(f"/challenges/{challenge_id}/enrolment", record)

    def enrolment(self, challenge_id: str) -> Any:
        """The caller's enrolment in a challenge (:class:`ApiError` 404 if there is none)."""
        return self.get_json(f"/challenges/{challenge_id}/enrolment")

    def upload_labels(
        self, challenge_id: str, bundle: bytes, signature: bytes, upload: Transfer | None = None
    ) -> Any:
        """Upload a labels bundle with the organizer's ``sign_upload`` signature."""
        return self.post_bytes(
            f"/challenges/{challenge_id}/labels",
            bundle,
            {SIGNATURE_HEADER: signature.hex()},
            upload,
        )

    def submit(
        self, challenge_id: str, bundle: bytes, signature: bytes, upload: Transfer | None = None
    ) -> Any:
        """Submit a predictions bundle with the enrolled identity's ``sign_upload`` signature."""
        return self.post_bytes(
            f"/challenges/{challenge_id}/submissions",
            bundle,
            {SIGNATURE_HEADER: signature.hex()},
            upload,
        )

    def select_finals(
        self, challenge_id: str, sequence: int, submissions: list[str], signature: bytes
    ) -> Any:
        """Post a signed final selection (a split challenge, before its close)."""
        body = {"sequence": sequence, "submissions": submissions, "signature": signature.hex()}
        return self.post_json(f"/challenges/{challenge_id}/selections", body)

    def close(self, challenge_id: str) -> Any:
        """The organizer closes a split challenge: its finals' private parts are asked."""
        return self.post_json(f"/challenges/{challenge_id}/close", {})

    def labels_status(self, challenge_id: str) -> Any:
        """The labels' state, reason, what they wait for, and the organizer's pad quota use."""
        return self.get_json(f"/challenges/{challenge_id}/labels")

    def submission(self, challenge_id: str, digest: str) -> Any:
        return self.get_json(f"/challenges/{challenge_id}/submissions/{digest}")

    def leaderboard(self, challenge_id: str) -> Any:
        return self.get_json(f"/challenges/{challenge_id}/leaderboard")

    def bundle(self, challenge_id: str, digest: str) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/bundles/{digest}")

    def trustee_tasks(self) -> Any:
        return self.get_json("/trustee/tasks")

    def post_contribution(self, contribution: bytes) -> Any:
        return self.post_bytes("/trustee/contributions", contribution)

    def post_partial(self, partial: bytes) -> Any:
        return self.post_bytes("/trustee/partials", partial)

    def request_pads(
        self,
        challenge_id: str,
        kind: str,
        seed: bytes,
        recipient: bytes,
        trustees: list[str] | None = None,
        *,
        signature: bytes,
    ) -> Any:
        """Ask for a pad request; ``signature`` is the requester's ``sign_pad_request`` over
        (challenge, kind, seed, recipient): the organizer's for labels, the enrolled
        identity's for predictions."""
        body: dict[str, Any] = {
            "kind": kind,
            "seed": seed.hex(),
            "recipient": recipient.hex(),
            "signature": signature.hex(),
        }
        if trustees:
            body["trustees"] = trustees
        return self.post_json(f"/challenges/{challenge_id}/pads", body)

    def pad_request(self, challenge_id: str, digest: str) -> Any:
        return self.get_json(f"/challenges/{challenge_id}/pads/{digest}")

    def pad_share(self, challenge_id: str, digest: str, trustee: str) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/pads/{digest}/shares/{trustee}")

    def report_refusal(self, report: Mapping[str, str]) -> Any:
        """Tell the service why this trustee refused a task (``POST /trustee/refusals``)."""
        return self.post_json("/trustee/refusals", report)

    def post_pad_share(self, share: bytes) -> Any:
        return self.post_bytes("/trustee/pads", share)

    def round1_evidence(self, challenge_id: str, digest: str) -> Any:
        return self.get_json(f"/trustee/evidence/{challenge_id}/{digest}")

    def audit_bundle(self, challenge_id: str, download: Transfer | None = None) -> bytes:
        return self.get_bytes(f"/challenges/{challenge_id}/audit-bundle", download)

    def log_entries(self, challenge_id: str, start: int) -> Any:
        return self.get_json(f"/challenges/{challenge_id}/log/entries?from={start}")

    def consistency(self, challenge_id: str, old_size: int) -> Any:
        return self.get_json(f"/challenges/{challenge_id}/log/consistency?from={old_size}")

    # -- the ceremony relay (dealerless key ceremonies) --------------------------------------
    def create_ceremony(self, plan_bytes: bytes) -> Any:
        """Post a ceremony plan (organizer, admin): the ceremony (its id is the plan's
        SHA-256); the same plan again answers the same."""
        return self.post_bytes("/ceremonies", plan_bytes)

    def list_ceremonies(self, trustee: str | None = None) -> Any:
        """Every ceremony (oldest first), or those whose roster names ``trustee``."""
        query = "" if trustee is None else "?" + urlencode({"trustee": trustee})
        return self.get_json(f"/ceremonies{query}")["ceremonies"]

    def ceremony(self, ceremony_id: str) -> Any:
        """A ceremony: its plan's fields and, per kind, who posted and who has not."""
        return self.get_json(f"/ceremonies/{_segment(ceremony_id)}")

    def ceremony_plan(self, ceremony_id: str) -> bytes:
        return self.get_bytes(f"/ceremonies/{_segment(ceremony_id)}/plan")

    def post_ceremony_message(
        self, ceremony_id: str, raw: bytes, upload: Transfer | None = None
    ) -> Any:
        """Post this trustee's signed message (``SignedMessage.to_bytes()``)."""
        return self.post_bytes(f"/ceremonies/{_segment(ceremony_id)}/messages", raw, None, upload)

    def ceremony_messages(self, ceremony_id: str) -> Any:
        """Every posted message's kind, round, trustee_id, digest and size."""
        return self.get_json(f"/ceremonies/{_segment(ceremony_id)}/messages")["messages"]

    def ceremony_message(
        self, ceremony_id: str, kind: str, trustee_id: str, download: Transfer | None = None
    ) -> bytes:
        path = f"/ceremonies/{_segment(ceremony_id)}/messages/{_segment(kind)}/"
        return self.get_bytes(path + _segment(trustee_id), download)


def _segment(value: str) -> str:
    return quote(value, safe="")


class ServiceCeremonyExchange:
    """A trustee's exchange of one ceremony's messages over the relay: ``plan()`` the plan's
    bytes (checked against the ceremony id, its SHA-256), ``messages()`` every message posted
    so far in round order (each downloaded once; the bytes are checked against the listed
    digest, and kept in memory and, with ``cache_dir``, on disk by digest), ``post(raw)`` one
    of this trustee's messages. It checks nothing else: the caller parses every message with
    the library against the plan (signature, sender, ``previous``)."""

    def __init__(
        self, client: ProtocolClient, ceremony_id: str, cache_dir: Path | None = None
    ) -> None:
        self.client = client
        self.ceremony_id = ceremony_id
        self.cache_dir = cache_dir
        self._plan: bytes | None = None
        self._cache: dict[str, bytes] = {}

    def plan(self) -> bytes:
        if self._plan is None:
            raw = self.client.ceremony_plan(self.ceremony_id)
            if hashlib.sha256(raw).hexdigest() != self.ceremony_id:
                raise ApiError(0, f"the service sent a plan that is not {self.ceremony_id}")
            self._plan = raw
        return self._plan

    def messages(self) -> list[bytes]:
        listed = sorted(self.client.ceremony_messages(self.ceremony_id), key=lambda m: m["round"])
        return [self._message(m["kind"], m["trustee_id"], m["digest"]) for m in listed]

    def post(self, raw: bytes) -> None:
        self.client.post_ceremony_message(self.ceremony_id, raw)

    def _message(self, kind: str, trustee_id: str, digest: str) -> bytes:
        raw = self._cache.get(digest)
        if raw is None and self.cache_dir is not None:
            path = self.cache_dir / f"{digest}.msg"
            if path.is_file() and _message_digest(cached := path.read_bytes()) == digest:
                raw = cached
        if raw is None:
            raw = self.client.ceremony_message(self.ceremony_id, kind, trustee_id)
            if _message_digest(raw) != digest:
                raise ApiError(
                    0, f"the service sent a {kind} of {trustee_id!r} that is not {digest}"
                )
            if self.cache_dir is not None:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                (self.cache_dir / f"{digest}.msg").write_bytes(raw)
        self._cache[digest] = raw
        return raw


_SIGNATURE_BYTES = 64


def _message_digest(raw: bytes) -> str:
    """A ceremony message's digest: SHA-256 of the record without its 64-byte signature."""
    return hashlib.sha256(raw[:-_SIGNATURE_BYTES]).hexdigest()
