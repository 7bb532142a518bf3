"""``cryptoscore demo --json``: released == plaintext for every honest participant, the
malicious one rejected, the audit bundle verified."""

from __future__ import annotations

import json

from cryptoscore_cli.main import main


def test_demo_json(capsys, tmp_path):
    """With ``--out`` the demo's folder stays, and its audit bundle is what README audits."""
    assert main(["demo", "--json", "--out", str(tmp_path / "demo")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["participants"]) == 3
    for name, row in report["participants"].items():
        assert row["equal"], name
        assert row["released"] == row["plaintext"]
    assert list(report["rejected"]) == ["mallory (weighted encoding)"]
    assert report["audit"]["ok"] and all(report["audit"]["checks"].values())
    assert [r["rank"] for r in report["leaderboard"]] == [1, 2, 3]
    assert report["audit_bundle"] == str(tmp_path / "demo" / "audit.zip")
    assert main(["audit", report["audit_bundle"]]) == 0
