"""The whole story over real HTTP, with the CLI: ceremony -> identities -> challenge ->
enrolments -> signed labels -> three signed submissions (one malicious) -> trustees (2 of 3,
one offline) -> leaderboard -> audit."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np

from cryptoscore import PublicContext, raw_encrypt_vectors
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload
from cryptoscore.scoring.encoding import Layout
from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file
from cryptoscore_cli.api import ProtocolClient
from cryptoscore_cli.main import main
from cryptoscore_cli.pad_client import fetch_pads
from cryptoscore_cli.trustee_loop import TrusteeLoop

N_ITEMS = 300
CLASSES = 3


def _token(role: str, name: str, capsys) -> str:
    capsys.readouterr()
    assert main(["token", "create", "--local", "--role", role, "--name", name]) == 0
    return capsys.readouterr().out.strip()


def _identity(tmp_path, name: str, capsys) -> str:
    """`identity init` into tmp_path/name (passphrase in $ID_PASS); its public key."""
    out = tmp_path / name
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", "ID_PASS"]) == 0
    capsys.readouterr()
    return (out / "identity.pub").read_text().strip()


def _trustees_pass(tmp_path, server, tokens, online, share_envs) -> None:
    for tid in online:
        assert (
            main(
                [
                    "trustee",
                    "run",
                    "--once",
                    "--server",
                    server,
                    "--token",
                    tokens[tid],
                    "--home",
                    str(tmp_path / tid),
                    "--share",
                    str(tmp_path / "ceremony" / f"share-{tid}.bin"),
                    "--passphrase-env",
                    "ID_PASS",
                    "--share-passphrase-env",
                    share_envs[tid],
                ]
            )
            == 0
        )


@contextmanager
def _trustees_in_background(tmp_path, server, tokens, online, share_envs) -> Iterator[None]:
    """The online trustees keep running (as `trustee run` does) while parties encrypt: the
    parties' pad requests are answered as they come."""
    loops = []
    for tid in online:
        share = open_share_file(
            (tmp_path / "ceremony" / f"share-{tid}.bin").read_bytes(),
            os.environ[share_envs[tid]].encode(),
        )
        identity = TrusteeIdentity.from_pem(
            (tmp_path / tid / "identity.pem").read_bytes(), os.environ["ID_PASS"].encode()
        )
        client = ProtocolClient(server, tokens[tid])
        journal = tmp_path / tid / "partials.journal"
        loops.append(TrusteeLoop(client, share, identity, journal, lambda _m: None, False))
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        while not stop.is_set():
            try:
                for loop in loops:
                    loop.run_once()
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)
                return
            stop.wait(0.2)

    for loop in loops:  # one pass first: the service now knows which trustees are online
        loop.run_once()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(120)
        assert not errors, errors


def _wait(predicate, what: str, step) -> None:
    deadline = time.monotonic() + 300
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        step()
        time.sleep(0.2)


def test_whole_story_over_http(server, cli_committee, tmp_path, capsys):
    trustees = list(cli_committee)
    organizer = _token("organizer", "org", capsys)
    tokens = {tid: _token("trustee", tid, capsys) for tid in trustees}
    people = {name: _token("participant", name, capsys) for name in ("ann", "bob", "eve")}
    organizer_key = _identity(tmp_path, "org", capsys)
    now = datetime.now(UTC)
    assert (
        main(
            [
                "challenge",
                "create",
                "--server",
                server,
                "--token",
                organizer,
                "--id",
                "e2e",
                "--classes",
                str(CLASSES),
                "--n-items",
                str(N_ITEMS),
                "--opens",
                (now - timedelta(minutes=1)).isoformat(),
                "--closes",
                (now + timedelta(days=1)).isoformat(),
                "--ceremony",
                str(tmp_path / "ceremony"),
                "--organizer",
                str(tmp_path / "org"),
                "--max-enrolled",
                "10",
                # trustee-2 stays offline: every bundle names the two online trustees, a pad set
                # of t that Shamir answers cannot check (the default "checked" would refuse it)
                "--pad-sets",
                "any",
            ]
        )
        == 0
    )
    rules = ProtocolClient(server).challenge("e2e")["rules"]
    assert rules["organizer"] == organizer_key and rules["enrolment"] == "open"
    for name in ("ann", "bob"):  # each participant enrols an identity of their own
        key = _identity(tmp_path, name, capsys)
        enrol = ["enrol", "--challenge", "e2e", "--identity", str(tmp_path / name)]
        enrol += ["--name", name, "--passphrase-env", "ID_PASS"]
        assert main([*enrol, "--server", server, "--token", people[name]]) == 0
        assert capsys.readouterr().out == f"enrolled {name} in e2e as {key[:16]}…\n"
    gen = np.random.default_rng(11)
    y = gen.integers(0, CLASSES, N_ITEMS)
    np.save(tmp_path / "labels.npy", y)
    online = ["trustee-1", "trustee-3"]  # trustee-2 is offline throughout
    labels_upload = ["labels", "upload", str(tmp_path / "labels.npy"), "--challenge", "e2e"]
    labels_upload += ["--server", server, "--token", organizer, "--identity", str(tmp_path / "org")]
    labels_upload += ["--passphrase-env", "ID_PASS", "--trustees", ",".join(online)]
    with _trustees_in_background(tmp_path, server, tokens, online, cli_committee):
        assert main([*labels_upload, "-q"]) == 0
        # the labels are there now: `labels status` shows them, a second upload is refused
        # before any pad request
        capsys.readouterr()
        labels_status = ["labels", "status", "--challenge", "e2e", "--server", server]
        assert main([*labels_status, "--token", organizer]) == 0
        shown = capsys.readouterr().out.splitlines()
        assert shown[0].startswith("labels ") and "pad requests: 1 of 10" in shown[-1], shown
        assert main(labels_upload) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "has its labels already" in err[0], err
        assert ProtocolClient(server, organizer).labels_status("e2e")["pad_requests"]["used"] == 1
        expected = {}
        digests = {}
        for name, accuracy in (("ann", 0.9), ("bob", 0.6)):
            p = np.where(gen.random(N_ITEMS) < accuracy, y, gen.integers(0, CLASSES, N_ITEMS))
            expected[name] = int(np.count_nonzero(p == y))
            np.save(tmp_path / f"{name}.npy", p)
            capsys.readouterr()
            assert (
                main(
                    [
                        "submit",
                        str(tmp_path / f"{name}.npy"),
                        "--challenge",
                        "e2e",
                        "--server",
                        server,
                        "--token",
                        people[name],
                        "--identity",
                        str(tmp_path / name),
                        "--passphrase-env",
                        "ID_PASS",
                        "--receipt",
                        str(tmp_path / f"{name}.receipt"),
                        "--trustees",
                        ",".join(online),
                        # bob follows his submission until it is released (not -q: each
                        # change of state is a line)
                        *(["--wait", "--timeout", "300"] if name == "bob" else ["-q"]),
                    ]
                )
                == 0
            )
            out = capsys.readouterr().out
            digests[name] = out.split()[1].rstrip(":")
            if name == "bob":
                lines = out.splitlines()
                assert any("awaiting-contributions" in line for line in lines[2:]), lines
                assert lines[-2:] == [
                    f"submission {digests[name]}: released",
                    f"  correct {expected[name]}, errors {N_ITEMS - expected[name]}",
                ], lines
        # eve submits a weighted encoding with her own client code (the CLI never would)
        # (enrolled and signing like anyone else: the trustees' validity check catches her)
        eve = ProtocolClient(server, people["eve"])
        eve_identity = Identity.generate()
        eve.enrol("e2e", Enrolment.sign(eve_identity, "e2e", "eve").to_bytes())
        public = PublicContext.from_bytes(eve.public_context("e2e"))
        record = CeremonyRecord.from_bytes(eve.ceremony_record("e2e"))
        count = Layout.for_params(public.params, N_ITEMS, CLASSES).ciphertexts
        pads = fetch_pads(
            eve,
            "e2e",
            "predictions",
            record,
            public,
            count,
            identity=eve_identity,
            trustees=online,
            timeout=120,
        )
        weighted = [np.array([pow(2, i % 19, 1032193) for i in range(N_ITEMS)])] * CLASSES
        bundle = raw_encrypt_vectors(
            "predictions", weighted, public, classes=CLASSES, n=N_ITEMS, challenge="e2e", pads=pads
        )
        signature = sign_upload(eve_identity, "e2e", "predictions", bundle.digest)
        digests["eve"] = eve.submit("e2e", bundle.to_bytes(), signature)["submission"]

    def state(name: str) -> str:
        return ProtocolClient(server, people[name]).submission("e2e", digests[name])["state"]

    _wait(
        lambda: all(state(n) in ("released", "invalid") for n in ("ann", "bob", "eve")),
        "every submission to be decided",
        lambda: _trustees_pass(tmp_path, server, tokens, online, cli_committee),
    )
    for name in ("ann", "bob"):
        status = ProtocolClient(server, people[name]).submission("e2e", digests[name])
        assert status["state"] == "released"
        assert status["values"]["correct"] == expected[name]
    capsys.readouterr()
    status_argv = ["status", digests["ann"], "--challenge", "e2e", "--server", server]
    assert main([*status_argv, "--token", people["ann"]]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == f"submission {digests['ann']}: released"
    assert shown[-1] == f"  correct {expected['ann']}, errors {N_ITEMS - expected['ann']}"
    eve_status = eve.submission("e2e", digests["eve"])
    assert eve_status["state"] == "invalid" and eve_status["values"] is None
    capsys.readouterr()
    assert main(["leaderboard", "e2e", "--server", server, "--json"]) == 0
    board = json.loads(capsys.readouterr().out)["rows"]
    assert [row["participant"] for row in board] == ["ann", "bob"]
    auditor = _token("auditor", "aud", capsys)
    assert main(["audit", "--server", server, "--token", auditor, "--challenge", "e2e"]) == 0
    assert "FAIL" not in capsys.readouterr().out
    exported = str(tmp_path / "audit.zip")
    assert (
        main(
            [
                "audit",
                "export",
                "--server",
                server,
                "--token",
                auditor,
                "--challenge",
                "e2e",
                "-o",
                exported,
            ]
        )
        == 0
    )
    assert main(["audit", exported]) == 0
    assert (
        main(
            [
                "audit",
                "export",
                "--server",
                server,
                "--token",
                people["ann"],
                "--challenge",
                "e2e",
                "-o",
                exported,
            ]
        )
        == 2
    )  # participants may not
    # ann's receipt: valid now, and the latest log still contains her submission
    log_key = ProtocolClient(server).challenge("e2e")["log_key"]
    receipt = str(tmp_path / "ann.receipt")
    assert main(["receipt", "verify", receipt, "--service-key", log_key]) == 0
    assert (
        main(
            [
                "receipt",
                "verify",
                receipt,
                "--service-key",
                log_key,
                "--server",
                server,
                "--challenge",
                "e2e",
            ]
        )
        == 0
    )
    assert "still contains it" in capsys.readouterr().out
    assert main(["receipt", "verify", receipt, "--service-key", "00" * 32]) == 2
