"""The trustee's outbox keeps answers until the service has them (``protocol/outbox.py``)."""

from __future__ import annotations

import stat

from cryptoscore.protocol.outbox import Outbox


def test_keep_get_forget(tmp_path):
    box = Outbox(tmp_path / "outbox")
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    assert box.get("partial:r1") is None and len(box) == 0
    box.put("partial:r1", b"answer one")
    box.put("pad:" + "ab" * 32, b"sealed share")
    assert box.get("partial:r1") == b"answer one" and len(box) == 2
    box.put("partial:r1", b"answer one")  # idempotent
    reopened = Outbox(tmp_path / "outbox")  # another process, after a restart
    assert reopened.get("pad:" + "ab" * 32) == b"sealed share"
    reopened.remove("partial:r1")
    reopened.remove("partial:r1")  # idempotent
    assert box.get("partial:r1") is None and len(box) == 1
    files = list((tmp_path / "outbox").iterdir())
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert not any(f.suffix == ".tmp" for f in files)  # written whole, then renamed
