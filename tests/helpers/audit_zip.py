"""Reading and rewriting audit bundles (zip files) in tamper tests: what a malicious service
holding its own log key can do — change the log and blobs, and sign a head over the result."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore.envelope import canonical_json
from cryptoscore.transparency.log import MerkleLog, sign_tree_head


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def log_entries(members: dict[str, bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in members["log.jsonl"].split(b"\n") if line]


def resigned(
    members: dict[str, bytes], entries: list[dict[str, Any]], service_key: Ed25519PrivateKey
) -> dict[str, bytes]:
    """``members`` with ``entries`` as the log and one head over it signed by ``service_key``."""
    raw = [canonical_json(e) for e in entries]
    members["log.jsonl"] = b"".join(r + b"\n" for r in raw)
    log = MerkleLog()
    for r in raw:
        log.append(r)
    manifest = json.loads(members["manifest.json"])
    now_ms = int(time.time() * 1000)  # after every entry's time, as a real head is
    sth = sign_tree_head(service_key, manifest["log_id"], log.size, log.root(), now_ms)
    manifest["tree_heads"] = [sth.to_json()]
    members["manifest.json"] = canonical_json(manifest)
    return members
