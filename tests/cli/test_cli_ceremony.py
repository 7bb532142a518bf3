"""The dealerless ceremony's command line: offline over a folder (plan, step, status, verify)
and over the service (start, `trustee run`, verify --id); each trustee's share opens and the
committee releases exact counts; aborts and refusals are named in one line; `ceremony deal`
warns that its dealer sees the key."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from cryptoscore_cli.main import main
from tests.cli.conftest import IDENTITY_PASSPHRASE_ENV, TRUSTEES, share_passphrase_env

PARAMS = "bfv-8192"


def _committee(root: Path) -> Path:
    """`trustee init` for each of TRUSTEES in root/<id> (passphrase in $ID_PASS), and the
    roster root/roster.json."""
    keys = {}
    for tid in TRUSTEES:
        home = root / tid
        if not (home / "identity.pem").exists():
            assert main(["trustee", "init", "--out", str(home), "--passphrase-env", "ID_PASS"]) == 0
        keys[tid] = (home / "identity.pub").read_text().strip()
    roster = root / "roster.json"
    roster.write_text(json.dumps([{"id": t, "public_key": k} for t, k in keys.items()]))
    return roster


def _step(root: Path, tid: str, where: list[str], *extra: str) -> int:
    return main(
        [
            *("ceremony", "step", "--home", str(root / tid), *where),
            *("--passphrase-env", IDENTITY_PASSPHRASE_ENV),
            *("--share-passphrase-env", share_passphrase_env(tid), "-q", *extra),
        ]
    )


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> dict[str, object]:
    """A whole 2-of-3 offline ceremony at bfv-8192: the folder carried from trustee to trustee
    until each says finished, then `ceremony verify`."""
    root = tmp_path_factory.mktemp("offline")
    env = {IDENTITY_PASSPHRASE_ENV: "identity passphrase"}
    env.update({share_passphrase_env(t): f"share passphrase {t}" for t in TRUSTEES})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        roster = _committee(root)
        folder = root / "exchange"
        plan = ["ceremony", "plan", "--roster", str(roster), "--threshold", "2"]
        out = _capture(lambda: main([*plan, "--params", PARAMS, "--dir", str(folder)]))
        ceremony_id = re.search(r"^ceremony ([0-9a-f]{64})$", out, re.M).group(1)
        lines: dict[str, list[str]] = {t: [] for t in TRUSTEES}
        passes = 0
        while not all((root / t / f"share-{ceremony_id[:16]}.bin").exists() for t in TRUSTEES):
            passes += 1
            assert passes <= 8, lines
            for tid in TRUSTEES:
                said = _capture(lambda tid=tid: _step(root, tid, ["--dir", str(folder)]))
                lines[tid] += said.splitlines()
        verified = _capture(
            lambda: main(["ceremony", "verify", "--dir", str(folder), "--out", str(root / "out")])
        )
        status = _capture(lambda: main(["ceremony", "status", "--dir", str(folder)]))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {
        "root": root,
        "folder": folder,
        "id": ceremony_id,
        "plan_out": out,
        "lines": lines,
        "passes": passes,
        "verified": verified,
        "status": status,
    }


def _capture(run) -> str:
    """Run a command, asserting exit 0; its stdout (stdout is redirected through a pipe)."""
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = run()
    assert code == 0, buffer.getvalue()
    return buffer.getvalue()


def test_offline_ceremony_writes_files_that_open_and_match(offline):
    from cryptoscore import EvaluationKeys, PublicContext
    from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file

    root, ceremony_id = offline["root"], offline["id"]
    id16 = ceremony_id[:16]
    assert (offline["folder"] / "plan.bin").is_file()
    assert f"ceremony step --home <its home> --dir {offline['folder']}" in offline["plan_out"]
    out = root / "out"
    record = CeremonyRecord.from_bytes((out / "ceremony.record").read_bytes())
    public = PublicContext.from_bytes((out / "public.ctx").read_bytes())
    evaluation = EvaluationKeys.from_bytes((out / "evaluation.keys").read_bytes())
    assert record.mode == "dealerless" and record.plan == ceremony_id
    assert record.threshold == 2 and [e.trustee_id for e in record.roster] == list(TRUSTEES)
    record.check_keys(public, evaluation)
    assert "verified" in offline["verified"] and f"--ceremony {out}" in offline["verified"]
    for tid in TRUSTEES:
        home = root / tid
        share_file = home / f"share-{id16}.bin"
        assert share_file.stat().st_mode & 0o077 == 0
        assert (home / f"ceremony-{id16}.seed").stat().st_mode & 0o077 == 0
        record.check_share_file(tid, share_file.read_bytes())
        share = open_share_file(share_file.read_bytes(), f"share passphrase {tid}".encode())
        assert (share.trustee_id, share.key_id) == (tid, record.key_id)
        mine = CeremonyRecord.from_bytes((home / f"ceremony-{id16}.record").read_bytes())
        assert mine.key_id == record.key_id and mine.transcript == record.transcript
    # each trustee said one line a step; nothing is due after finishing
    assert any("contribution" in line for line in offline["lines"]["trustee-1"])
    assert offline["passes"] <= 6
    assert "complete" in offline["status"] and "missing none" in offline["status"]


def test_the_offline_shares_release_exact_counts(offline, tmp_path):
    from cryptoscore import EvaluationKeys, PublicContext
    from cryptoscore.identity import Identity
    from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file
    from tests.helpers.dkg import accuracy_aggregate, release

    root, id16 = offline["root"], offline["id"][:16]
    out = root / "out"
    record = CeremonyRecord.from_bytes((out / "ceremony.record").read_bytes())
    public = PublicContext.from_bytes((out / "public.ctx").read_bytes())
    evaluation = EvaluationKeys.from_bytes((out / "evaluation.keys").read_bytes())
    shares = {
        tid: open_share_file(
            (root / tid / f"share-{id16}.bin").read_bytes(), f"share passphrase {tid}".encode()
        )
        for tid in TRUSTEES
    }
    identities = {
        tid: Identity.from_pem((root / tid / "identity.pem").read_bytes(), b"identity passphrase")
        for tid in TRUSTEES
    }
    for i, subset in enumerate([("trustee-1", "trustee-3"), ("trustee-2", "trustee-3")]):
        aggregate, want = accuracy_aggregate(public, evaluation, seed=5 + i)
        got = release(aggregate, public, record, shares, identities, subset, tmp_path, f"r{i}")
        assert got == want


def test_an_edited_message_is_refused_in_one_line(offline, tmp_path, capsys):
    folder = tmp_path / "edited"
    shutil.copytree(offline["folder"], folder)
    victim = folder / "2-contribution-trustee-2.msg"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 1
    victim.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["ceremony", "verify", "--dir", str(folder), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cryptoscore: error: refused a ceremony message")
    assert "contribution said to be from trustee-2" in err[0]
    assert not (tmp_path / "o").exists()
    # status lists what it refused and what is therefore missing
    assert main(["ceremony", "status", "--dir", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "refused:" in shown and "waiting for contribution from trustee-2" in shown


def test_a_folder_never_holds_two_messages_of_one_trustee_in_a_round(offline, tmp_path):
    from cryptoscore_cli.ceremony_exchange import FolderExchange
    from cryptoscore_cli.errors import CliError

    folder = tmp_path / "copy"
    shutil.copytree(offline["folder"], folder)
    hello = folder / "1-hello-trustee-1.msg"
    genuine = hello.read_bytes()
    exchange = FolderExchange(folder)
    exchange.post(genuine)  # the same bytes again: nothing happens
    hello.write_bytes((folder / "1-hello-trustee-2.msg").read_bytes())
    with pytest.raises(CliError, match="equivocation"):
        exchange.post(genuine)
    (folder / "notes.txt").write_text("ignored")
    (folder / ".1-hello-trustee-3.msg.99.partial").write_bytes(b"half")
    assert len(exchange.messages()) == len(FolderExchange(offline["folder"]).messages())


def test_a_missing_trustee_is_named(tmp_path, monkeypatch, capsys):
    """Two of three trustees step: status names the third; verify names it as the culprit
    (exit 1); a wrong passphrase is one line; a second plan into the folder is refused."""
    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "identity passphrase")
    roster = _committee(tmp_path)
    folder = tmp_path / "exchange"
    plan = ["ceremony", "plan", "--roster", str(roster), "--threshold", "2", "--params", PARAMS]
    assert main([*plan, "--dir", str(folder)]) == 0
    assert main([*plan, "--dir", str(folder)]) == 2  # another plan (another nonce)
    assert "refusing to overwrite" in capsys.readouterr().err
    for tid in TRUSTEES[:2]:
        assert _step(tmp_path, tid, ["--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "waiting" in out
    assert main(["ceremony", "status", "--dir", str(folder)]) == 0
    shown = capsys.readouterr().out
    assert "round 1 hello: posted trustee-1, trustee-2; missing trustee-3" in shown
    assert "waiting for hello from trustee-3" in shown
    assert main(["ceremony", "verify", "--dir", str(folder), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "cryptoscore: culprit trustee-3: sent no hello" in err
    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "not the passphrase")
    assert _step(tmp_path, "trustee-3", ["--dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wrong passphrase" in err[0], err
    assert main(["ceremony", "step", "--home", str(tmp_path / "t9"), "--dir", str(folder)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_ceremony_deal_warns_that_the_dealer_sees_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "identity passphrase")
    for tid in TRUSTEES:
        monkeypatch.setenv(share_passphrase_env(tid), f"share passphrase {tid}")
    roster = _committee(tmp_path)
    deal = ["ceremony", "deal", "--roster", str(roster), "--threshold", "2", "--params", PARAMS]
    capsys.readouterr()
    assert main([*deal, "--out", str(tmp_path / "o"), "--passphrase-env-prefix", "S_", "-q"]) == 0
    err = capsys.readouterr().err
    assert "legacy dealer ceremony" in err and "whole secret key" in err
    assert (tmp_path / "o" / "share-trustee-1.bin").exists()


def test_the_ceremony_over_the_service(server, tmp_path, monkeypatch, capsys):
    """`ceremony start` (organizer), then `trustee run --once` passes for three trustees
    (each takes part, then serves its share), then `ceremony verify --id`."""
    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "identity passphrase")
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    for tid in TRUSTEES:
        monkeypatch.setenv(share_passphrase_env(tid), f"share passphrase {tid}")
    roster = _committee(tmp_path)
    tokens = {}
    for role, name in [("organizer", "org"), *(("trustee", t) for t in TRUSTEES)]:
        capsys.readouterr()
        assert main(["token", "create", "--local", "--role", role, "--name", name]) == 0
        tokens[name] = tmp_path / f"{name}.token"
        tokens[name].write_text(capsys.readouterr().out)
    org = ["--token-file", str(tokens["org"])]
    start = ["ceremony", "start", "--roster", str(roster), "--threshold", "2"]
    assert main([*start, "--params", PARAMS, *org]) == 0
    ceremony_id = re.search(r"^ceremony ([0-9a-f]{64})$", capsys.readouterr().out, re.M).group(1)
    id16 = ceremony_id[:16]

    def run_once(tid: str) -> str:
        argv = ["trustee", "run", "--once", "--home", str(tmp_path / tid)]
        argv += ["--token-file", str(tokens[tid]), "--passphrase-env", IDENTITY_PASSPHRASE_ENV]
        argv += ["--share-passphrase-env", share_passphrase_env(tid)]
        capsys.readouterr()
        assert main(argv) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    said: dict[str, list[str]] = {t: [] for t in TRUSTEES}
    for _ in range(8):
        for tid in TRUSTEES:
            said[tid] += run_once(tid).splitlines()
        if all((tmp_path / t / f"share-{id16}.bin").exists() for t in TRUSTEES):
            break
    assert all((tmp_path / t / f"share-{id16}.bin").exists() for t in TRUSTEES), said
    assert any(f"serving the share {tmp_path / 'trustee-1'}" in line for line in said["trustee-1"])
    # a later run serves the share it finished, and takes part in nothing more
    again = run_once("trustee-2")
    assert "trustee trustee-2 serving" in again and f"ceremony-{id16}.record" in again
    assert f"ceremony {id16}" not in again
    # each trustee keeps what it downloaded, by digest: a restart downloads nothing again
    cached = sorted((tmp_path / "trustee-1" / f"ceremony-{id16}.messages").glob("*.msg"))
    assert len(cached) == 5 * len(TRUSTEES)  # every message of the five rounds
    # status over the service reads the relay's account, downloading only the confirmations
    from cryptoscore_cli.api import ProtocolClient

    fetched: list[str] = []
    original = ProtocolClient.ceremony_message

    def spy(self, ceremony, kind, trustee_id, download=None):
        fetched.append(kind)
        return original(self, ceremony, kind, trustee_id, download)

    monkeypatch.setattr(ProtocolClient, "ceremony_message", spy)
    out = tmp_path / "ceremony"
    assert main(["ceremony", "status", "--id", ceremony_id, *org]) == 0
    status = capsys.readouterr().out
    assert "complete" in status and "round 2 contribution: posted trustee-1" in status
    assert fetched == ["confirmation"] * len(TRUSTEES)
    monkeypatch.setattr(ProtocolClient, "ceremony_message", original)
    verify = ["ceremony", "verify", "--id", ceremony_id, "--out", str(out), "--wait", "-q"]
    assert main([*verify, *org]) == 0
    assert "verified" in capsys.readouterr().out
    from cryptoscore.threshold.ceremony import CeremonyRecord

    record = CeremonyRecord.from_bytes((out / "ceremony.record").read_bytes())
    assert record.plan == ceremony_id and record.mode == "dealerless"
    for tid in TRUSTEES:
        record.check_share_file(tid, (tmp_path / tid / f"share-{id16}.bin").read_bytes())
    # an id that is not one: one line
    assert main(["ceremony", "status", "--id", "abc", *org]) == 2
    assert "not a ceremony id" in capsys.readouterr().err


def test_a_cheating_trustee_is_named_by_every_party(tmp_path, monkeypatch, capsys):
    """trustee-2 deals trustee-3 a share off its polynomial (its contribution made by the
    library, not the CLI; every other message by `ceremony step`): trustee-3 complains, every
    trustee reveals, and `step`, `status` and `verify` each name trustee-2 and exit 1."""
    from cryptoscore.identity import Identity
    from cryptoscore.threshold.dkg import CeremonyPlan, DkgTrustee
    from cryptoscore.threshold.dkg.seed_file import SeedFile
    from cryptoscore_cli.ceremony_exchange import FolderExchange
    from cryptoscore_cli.ceremony_trustee import build_transcript

    class InconsistentDealer(DkgTrustee):
        def _dealt_share(self, recipient_index, f, m0, m1):
            out = super()._dealt_share(recipient_index, f, m0, m1)
            if recipient_index == 3:
                q = self.params.DATA_PRIMES[0]
                out[:8] = ((int.from_bytes(out[:8], "little") + 1) % q).to_bytes(8, "little")
            return out

    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "identity passphrase")
    for tid in TRUSTEES:
        monkeypatch.setenv(share_passphrase_env(tid), f"share passphrase {tid}")
    roster = _committee(tmp_path)
    folder = tmp_path / "exchange"
    plan_argv = ["ceremony", "plan", "--roster", str(roster), "--threshold", "2"]
    assert main([*plan_argv, "--params", PARAMS, "--dir", str(folder)]) == 0
    where = ["--dir", str(folder)]
    for tid in ("trustee-2", "trustee-1"):
        assert _step(tmp_path, tid, where) == 0  # hellos
    exchange = FolderExchange(folder)
    plan = CeremonyPlan.from_bytes(exchange.plan())
    home = tmp_path / "trustee-2"
    seed = SeedFile.open(
        next(home.glob("ceremony-*.seed")).read_bytes(), b"identity passphrase"
    ).seed
    identity = Identity.from_pem((home / "identity.pem").read_bytes(), b"identity passphrase")
    assert _step(tmp_path, "trustee-3", where) == 0  # its hello, then its contribution
    cheat = InconsistentDealer(plan, "trustee-2", identity, seed)
    exchange.post(cheat.contribute(build_transcript(plan, exchange.messages())).to_bytes())
    codes: dict[str, int] = {}
    for _ in range(6):
        for tid in TRUSTEES:
            if codes.get(tid) != 1:
                codes[tid] = _step(tmp_path, tid, where)
        if set(codes.values()) == {1}:
            break
    err = capsys.readouterr().err
    assert codes == dict.fromkeys(TRUSTEES, 1), err
    assert "cryptoscore: culprit trustee-2: its contribution (round 2)" in err
    assert not list(tmp_path.glob("trustee-*/share-*.bin"))
    assert main(["ceremony", "status", *where]) == 1
    shown = capsys.readouterr().out
    assert "aborted" in shown and "culprit trustee-2: its contribution" in shown
    assert main(["ceremony", "verify", *where, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "cryptoscore: ceremony aborted" in err
    assert "cryptoscore: culprit trustee-2: its contribution (round 2)" in err
    assert "culprit trustee-1" not in err and "culprit trustee-3" not in err
    assert not (tmp_path / "o").exists()
