"""The trustee loop refuses malformed tasks one by one and keeps going (never crashes)."""

from __future__ import annotations

import base64
from typing import Any

from clients.trustee import TrusteeLoop


class _Service:
    """A service handing out garbage pad tasks; it must never be asked to store anything."""

    def __init__(self, tasks: dict[str, Any]) -> None:
        self.tasks = tasks
        self.posted: list[bytes] = []

    def trustee_tasks(self) -> dict[str, Any]:
        return self.tasks

    def post_pad_share(self, share: bytes) -> None:  # pragma: no cover - must not happen
        self.posted.append(share)


def test_malformed_tasks_are_refused_not_fatal(tmp_path):
    tasks = {
        "pads": [
            {"challenge": "c", "request": "ab" * 32, "record": "%%% not base64"},
            {"challenge": "c", "request": "ab" * 32, "record": base64.b64encode(b"x").decode()},
            {"challenge": "c", "request": "ab" * 32},
        ],
        "requests": [
            {"challenge": "c", "request_id": "r1", "request": "%%%"},
            {"challenge": "c", "request_id": "r2", "request": base64.b64encode(b"x").decode()},
        ],
    }
    said: list[str] = []
    service = _Service(tasks)
    loop = TrusteeLoop(
        service,  # type: ignore[arg-type]
        "t1",
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        tmp_path / "journal",
        said.append,
        False,
    )
    assert loop.run_once() == 0
    assert len(said) == 5 and all(line.startswith("refused") for line in said)
    assert service.posted == []
