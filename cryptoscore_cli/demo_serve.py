"""``cryptoscore demo --serve``: the demo's story loaded into a running service, over its REST
API, as a real deployment does it — so that its leaderboard (and web page) shows a challenge.

With the service's admin token it makes, in a demo folder (``--out``, default a new
``./cryptoscore-<challenge>``), everything the README's flow has each party make on its own
machine: three trustee identities (one home folder each), a 2-of-3 key ceremony, a token per
party (``POST /tokens``), the challenge (open now, closing in three days; ``digits-demo``, or
``digits-demo-<n>`` when taken), then runs two of the trustees as background threads (the
agent and loop ``trustee run`` uses; the third stays offline, so every pad request names the
two online ones, as ``--trustees`` does: the challenge is created with ``pad_sets: "any"``,
and says so, since two of three answers are not checked), uploads the organizer's signed
labels, enrols and submits the three models' signed predictions and the malicious weighted
encoding, waits until each is released or rejected, and runs the audit over the API. The
trustees stop when the work is done: nothing keeps running after it returns.

The trustees' roster ids are the challenge's id with ``-t1`` … ``-t3``: a trustee token acts for
every challenge whose roster names it, so each demo's trustees are its own. The folder keeps
the passphrases the demo chose (``passphrases.env``, mode 0600) — a demo's shortcut, so that its
parties can be run again by hand; in a deployment each trustee alone knows its own.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

import cryptoscore as cs
from cryptoscore.identity import Identity
from cryptoscore.threshold.ceremony import CeremonyRecord, RosterEntry, open_share_file
from cryptoscore_cli.api import ApiError, Client, ProtocolClient
from cryptoscore_cli.commands.common import encrypt_for, progress_bar, transfer_bar, write_file
from cryptoscore_cli.demo import (
    CLASSES,
    MALLORY,
    audit_json,
    digits_split,
    model_predictions,
    plaintext_scores,
    released_vs_plaintext,
    weighted_vectors,
)
from cryptoscore_cli.errors import CliError

__all__ = ["DEMO_ID", "ServedDemo", "format_served", "run_served_demo"]

DEMO_ID = "digits-demo"
OPEN_DAYS = 3
"""The challenge closes this many days after the demo creates it."""
THRESHOLD, TRUSTEES, OFFLINE = 2, 3, 2
"""A 2-of-3 committee whose second trustee stays offline throughout."""
POLL_SECONDS = 1.0
TRUSTEE_INTERVAL = 0.5
"""Seconds between two passes of a demo trustee (``trustee run --interval``)."""
SAY = Callable[[str], None]


@dataclass
class ServedDemo:
    """Where and how: the service, its admin token, the demo folder (``None``: a new one)."""

    server: str
    admin_token: str
    out: Path | None = None
    n_items: int = 600
    params: str = cs.BFV8192.ID
    timeout: float = 1800.0
    quiet: bool = False


@dataclass
class _Party:
    name: str
    """Its folder's name (a trustee's: its roster id, also its token's name)."""
    home: Path
    identity: Identity
    token: str


def run_served_demo(demo: ServedDemo, say: SAY = print) -> dict[str, Any]:
    """Run the story against ``demo.server``; return the report (the in-process demo's shape,
    plus where to look)."""
    admin = _admin(demo)
    challenge = _free_id(admin)
    folder = _folder(demo.out, challenge)
    say(f"demo folder: {folder} (identities, ceremony, tokens, inputs, receipts, audit)")
    passphrase = os.urandom(16).hex().encode()
    env_lines = [f"DEMO_IDENTITY_PASSPHRASE={passphrase.decode()}"]

    def party(name: str, role: str, token_name: str) -> _Party:
        home = folder / name
        home.mkdir(parents=True, exist_ok=True)
        identity = Identity.generate()
        write_file(str(home / "identity.pem"), identity.to_pem(passphrase), private=True)
        write_file(str(home / "identity.pub"), (identity.public_key.hex() + "\n").encode())
        token = admin.create_token(role, token_name)["token"]
        _secret(folder / "tokens" / f"{name}.token", token)
        return _Party(name, home, identity, token)

    (folder / "tokens").mkdir()
    trustee_ids = [f"{challenge}-t{i}" for i in range(1, TRUSTEES + 1)]
    say(f"trustees {', '.join(trustee_ids)}: identities and trustee tokens")
    trustees = [party(tid, "trustee", tid) for tid in trustee_ids]  # named as on the roster
    shares = {tid: os.urandom(16).hex().encode() for tid in trustee_ids}
    env_lines += [f"DEMO_SHARE_{_env_name(t)}={p.decode()}" for t, p in shares.items()]
    _secret(folder / "passphrases.env", "\n".join(env_lines))
    ceremony = _ceremony(demo, folder / "ceremony", trustees, shares, say)
    organizer = party("organizer", "organizer", f"organizer of {challenge}")
    auditor = admin.create_token("auditor", f"auditor of {challenge}")["token"]
    _secret(folder / "tokens" / "auditor.token", auditor)
    say(f"challenge {challenge}: {demo.n_items} items, open now, closing in {OPEN_DAYS} days")
    _create_challenge(demo, challenge, organizer, ceremony)
    say(
        'pad_sets "any": with one trustee offline, pads name the other two (t of n), so '
        "releases are not checked against a lying trustee (docs/design.md, Checked pad sets)"
    )
    offline = trustee_ids[OFFLINE - 1]
    online = [t for t in trustees if t.name != offline]
    with _trustees_running(demo, online, ceremony, shares, passphrase, say) as failed:
        asked = [t.name for t in online]  # pads of the offline trustee would never come
        report = _story(demo, challenge, folder, organizer, party, failed, say, asked)
    say(f"trustees {', '.join(t.name for t in online)} stopped ({offline} stayed offline)")
    report["trustees"] = {"threshold": THRESHOLD, "n": TRUSTEES, "offline": [offline]}
    report["audit"] = _audit(demo, challenge, auditor, folder, say)
    report["folder"] = str(folder)
    return report


def _secret(path: Path, text: str) -> None:
    """A token or the passphrases, readable by this user alone."""
    write_file(str(path), (text + "\n").encode(), private=True)


def _admin(demo: ServedDemo) -> Client:
    if not demo.admin_token:
        raise CliError(
            "demo --serve needs the service's admin token (`make run` prints it): "
            "CRYPTOSCORE_TOKEN, --token-file or --token"
        )
    admin = Client(demo.server, demo.admin_token)
    try:
        me = admin.get_json("/whoami")
    except ApiError as exc:
        if exc.status in (401, 403):
            raise CliError(
                f"{demo.server} does not accept this token: demo --serve needs the admin "
                "token `make run` printed"
            ) from None
        raise
    if me.get("role") != "admin":
        raise CliError(
            f"the token is {me.get('role')} {me.get('name')}'s: demo --serve needs the admin "
            "token (it creates the demo's parties' tokens)"
        )
    return admin


def _free_id(admin: Client) -> str:
    """``digits-demo``, or the first ``digits-demo-<n>`` (n ≥ 2) the service does not have."""
    taken = {c["id"] for c in admin.get_json("/challenges")["challenges"]}
    n = 1
    while (cid := DEMO_ID if n == 1 else f"{DEMO_ID}-{n}") in taken:
        n += 1
    return cid


def _folder(out: Path | None, challenge: str) -> Path:
    if out is not None:
        if out.exists() and any(out.iterdir()):
            raise CliError(f"{out} is not empty: give --out a new folder")
        out.mkdir(parents=True, exist_ok=True)
        return out
    n = 1
    while (folder := Path(f"cryptoscore-{challenge}" + ("" if n == 1 else f"-{n}"))).exists():
        n += 1
    folder.mkdir()
    return folder.resolve()


def _env_name(trustee_id: str) -> str:
    """As ``ceremony --passphrase-env-prefix`` spells a trustee's variable."""
    return trustee_id.upper().replace("-", "_")


def _ceremony(
    demo: ServedDemo, out: Path, trustees: list[_Party], shares: dict[str, bytes], say: SAY
) -> Path:
    """The dealerless ceremony, every trustee's rounds in this process, written into ``out``
    as ``cryptoscore ceremony verify --out`` writes it (plus each trustee's share file)."""
    from cryptoscore.scoring.keys import galois_elements
    from cryptoscore.threshold.dkg import run_dealerless_ceremony

    params = cs.get_parameter_set(demo.params)
    roster = [RosterEntry(t.name, i + 1, t.identity.public_key) for i, t in enumerate(trustees)]
    identities = {t.name: t.identity for t in trustees}
    say(f"dealerless key ceremony ({params.ID}): {THRESHOLD} of {TRUSTEES} trustees decrypt")
    # run_dealerless_ceremony's steps: each contribution (RKG share, each Galois share, each
    # sealed share), then each trustee finished
    steps = len(roster) * (len(galois_elements(params)) + len(roster) + 1)
    with progress_bar(steps, "key ceremony", demo.quiet, "step") as progress:
        result = run_dealerless_ceremony(
            params, roster, THRESHOLD, shares, identities=identities, progress=progress
        )
    out.mkdir()
    write_file(str(out / "ceremony.record"), result.record.to_bytes())
    write_file(str(out / "public.ctx"), result.public.to_bytes())
    write_file(str(out / "evaluation.keys"), result.evaluation.to_bytes())
    for tid, blob in result.share_files.items():
        write_file(str(out / f"share-{tid}.bin"), blob, private=True)
    return out


def _create_challenge(demo: ServedDemo, challenge: str, organizer: _Party, ceremony: Path) -> None:
    from cryptoscore_cli.commands.organizer import create_challenge

    now = datetime.now(UTC).replace(microsecond=0)
    definition = {
        "id": challenge,
        "name": f"Handwritten digits (demo, {demo.n_items} test images)",
        "classes": CLASSES,
        "n_items": demo.n_items,
        "metrics": ["correct", "errors"],
        "submission_limit_per_day": 5,
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=OPEN_DAYS)).isoformat(),
        "organizer_key": organizer.identity.public_key.hex(),
        "enrolment": "open",
        "invited": [],
        "pad_sets": "any",  # one trustee stays offline: pad sets name the other two (t)
    }
    create_challenge(ProtocolClient(demo.server, organizer.token), definition, ceremony, demo.quiet)


@contextmanager
def _trustees_running(
    demo: ServedDemo,
    online: list[_Party],
    ceremony: Path,
    shares: dict[str, bytes],
    passphrase: bytes,
    say: SAY,
) -> Iterator[Callable[[], None]]:
    """Each online trustee as ``trustee run`` serves — its identity and share opened from its
    files, checked against the roster, its token checked — in a thread of its own, logging to
    ``<home>/trustee.log``; stopped and joined on exit. Yields a check that raises if one
    has stopped on an error."""
    from cryptoscore_cli.commands.trustee import check_identity_on_roster
    from cryptoscore_cli.trustee_loop import TrusteeLoop

    loops: list[TrusteeLoop] = []
    errors: dict[str, BaseException] = {}
    for trustee in online:
        identity = Identity.from_pem((trustee.home / "identity.pem").read_bytes(), passphrase)
        share_file = ceremony / f"share-{trustee.name}.bin"
        share = open_share_file(share_file.read_bytes(), shares[trustee.name])
        where = argparse.Namespace(ceremony_record=None, share=str(share_file), home=trustee.home)
        checked = check_identity_on_roster(identity, share, where)
        log = trustee.home / "trustee.log"
        loop = TrusteeLoop(
            ProtocolClient(demo.server, trustee.token),
            share,
            identity,
            trustee.home / "partials.journal",
            say=_log_to(log),
            show_progress=False,
        )
        loop.roster_checked_in = checked
        loop.check_token()
        loop.run_once()  # the service now knows it is online: pads are asked of it
        loops.append(loop)
    say(
        f"trustees {', '.join(t.name for t in online)} running (logs: <trustee folder>/trustee.log)"
    )

    def serve(name: str, loop: TrusteeLoop) -> None:
        try:
            loop.run(once=False, interval=TRUSTEE_INTERVAL, max_backoff=5.0)
        except BaseException as exc:  # surfaced in the main thread by failed()
            errors[name] = exc

    threads = [
        threading.Thread(target=serve, args=(t.name, loop), name=t.name, daemon=True)
        for t, loop in zip(online, loops, strict=True)
    ]
    for thread in threads:
        thread.start()

    def failed() -> None:
        for tid, exc in errors.items():
            raise CliError(f"trustee {tid} stopped: {exc}")

    try:
        yield failed
    finally:
        for loop in loops:
            loop.stop.set()
        for thread in threads:
            thread.join(timeout=120)
        for loop in loops:
            if loop.agent is not None:  # each was made with its share, so has its agent
                loop.agent.close()
    failed()


def _log_to(path: Path) -> SAY:
    def say(line: str) -> None:
        with path.open("a") as fh:
            fh.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}\n")

    return say


def _story(
    demo: ServedDemo,
    challenge: str,
    folder: Path,
    organizer: _Party,
    party: Callable[[str, str, str], _Party],
    failed: Callable[[], None],
    say: SAY,
    asked: list[str],
) -> dict[str, Any]:
    """Labels, three honest submissions and mallory's, each with pads of the ``asked``
    trustees; wait for every decision."""
    from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload

    x_train, x_test, y_train, y_test = digits_split(demo.n_items)
    info = ProtocolClient(demo.server).challenge(challenge)

    def upload(who: _Party, kind: str, values: Any) -> tuple[ProtocolClient, str, bytes, bytes]:
        """``values`` saved in ``who``'s folder, encrypted with pads and signed, as ``labels
        upload`` and ``submit`` do."""
        client = ProtocolClient(demo.server, who.token)
        path = who.home / f"{kind}.npy"
        np.save(path, values)
        args = argparse.Namespace(
            challenge=challenge,
            input=str(path),
            trustees=",".join(asked),
            pad_timeout=demo.timeout,
            quiet=demo.quiet,
        )
        bundle, digest = encrypt_for(args, client, info, kind, who.identity)
        return client, digest, bundle, sign_upload(who.identity, challenge, kind, digest)

    say(f"organizer: pads from the online trustees, encrypting {demo.n_items} test labels")
    client, labels, bundle, signature = upload(organizer, "labels", y_test)
    with transfer_bar("uploading labels", demo.quiet) as sent:
        client.upload_labels(challenge, bundle, signature, upload=sent)
    submitted: dict[str, tuple[ProtocolClient, str]] = {}
    plaintext: dict[str, dict[str, int]] = {}
    for display, predicted in model_predictions(x_train, y_train, x_test):
        plaintext[display] = plaintext_scores(predicted, y_test)
        say(f"{display}: enrolling, encrypting and submitting {demo.n_items} predictions")
        # the leaderboard names a participant by its token's name
        person = party(display.split()[0], "participant", display)
        enrolment = Enrolment.sign(person.identity, challenge, display)
        ProtocolClient(demo.server, person.token).enrol(challenge, enrolment.to_bytes())
        client, digest, bundle, signature = upload(person, "predictions", predicted)
        with transfer_bar("uploading predictions", demo.quiet) as sent:
            result = client.submit(challenge, bundle, signature, upload=sent)
        write_file(str(person.home / "receipt.json"), json.dumps(result["receipt"]).encode())
        submitted[display] = (client, digest)
        failed()
    say("mallory: submitting a weighted encoding (entry i = 2^i) to extract labels")
    mallory = party("mallory", "participant", MALLORY)
    submitted[MALLORY] = _mallory(demo, challenge, mallory, info, asked)
    decided = _wait(demo, challenge, labels, organizer, submitted, failed, say)
    board = ProtocolClient(demo.server).leaderboard(challenge)
    released = {n: s["values"] for n, s in decided.items() if s["state"] == "released"}
    return {
        "challenge": challenge,
        "server": demo.server,
        "web_page": demo.server.rstrip("/") + "/",
        "leaderboard_api": f"{demo.server.rstrip('/')}/api/v1/challenges/{challenge}/leaderboard",
        "test_items": demo.n_items,
        "leaderboard": board["rows"],
        "participants": released_vs_plaintext(released, plaintext),
        "rejected": {
            name: s.get("reason") or "invalid"
            for name, s in decided.items()
            if s["state"] == "invalid"
        },
    }


def _mallory(
    demo: ServedDemo, challenge: str, mallory: _Party, info: Any, asked: list[str]
) -> tuple[ProtocolClient, str]:
    """Enrolled and signing like anyone, mallory encrypts a weighted encoding with her own
    client code (the CLI never would); round 1 rejects it."""
    from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload
    from cryptoscore.scoring.encoding import Layout
    from cryptoscore_cli.pad_client import fetch_pads

    client = ProtocolClient(demo.server, mallory.token)
    client.enrol(challenge, Enrolment.sign(mallory.identity, challenge, MALLORY).to_bytes())
    public = cs.PublicContext.from_bytes(client.public_context(challenge))
    record = CeremonyRecord.from_bytes(client.ceremony_record(challenge))
    count = Layout.for_params(public.params, demo.n_items, CLASSES).ciphertexts
    pads = fetch_pads(
        client,
        challenge,
        "predictions",
        record,
        public,
        count,
        identity=mallory.identity,
        trustees=asked,
        timeout=demo.timeout,
    )
    bundle = cs.raw_encrypt_vectors(
        "predictions",
        weighted_vectors(public.params.PLAIN_MODULUS, demo.n_items),
        public,
        classes=CLASSES,
        n=demo.n_items,
        challenge=challenge,
        pads=pads,
    )
    signature = sign_upload(mallory.identity, challenge, "predictions", bundle.digest)
    with transfer_bar("uploading predictions", demo.quiet) as sent:
        result = client.submit(challenge, bundle.to_bytes(), signature, upload=sent)
    return client, str(result["submission"])


def _wait(
    demo: ServedDemo,
    challenge: str,
    labels: str,
    organizer: _Party,
    submitted: dict[str, tuple[ProtocolClient, str]],
    failed: Callable[[], None],
    say: SAY,
) -> dict[str, dict[str, Any]]:
    """Poll the labels and every submission until each is decided (a line for each, and a
    bar); the submissions' last statuses."""
    deadline = time.monotonic() + demo.timeout
    decided: dict[str, dict[str, Any]] = {}
    organizer_client = ProtocolClient(demo.server, organizer.token)
    labels_valid = False
    say(f"waiting for round 1 of the labels and of {len(submitted)} submissions, round 2 …")
    with progress_bar(len(submitted), "released or rejected", demo.quiet, "submission") as bar:
        while len(decided) < len(submitted):
            failed()
            if not labels_valid:
                status = organizer_client.labels_status(challenge)
                if status["state"] == "invalid":
                    raise CliError(f"the labels {labels[:16]}… are invalid: {status['reason']}")
                labels_valid = status["state"] == "valid"
                if labels_valid:
                    say("labels: valid (round 1 passed)")
            for name, (client, digest) in submitted.items():
                if name in decided:
                    continue
                status = client.submission(challenge, digest)
                if status["state"] == "released":
                    values = status["values"]
                    say(
                        f"{name}: released — correct {values['correct']}, errors {values['errors']}"
                    )
                elif status["state"] == "invalid":
                    say(f"{name}: rejected in round 1 — {status.get('reason') or 'invalid'}")
                else:
                    continue
                decided[name] = status
                bar(len(decided))
            if len(decided) < len(submitted):
                if time.monotonic() > deadline:
                    raise CliError(
                        f"not all decided after {demo.timeout:.0f} s: `cryptoscore status "
                        f"<digest> --challenge {challenge}` shows where each is"
                    )
                time.sleep(POLL_SECONDS)
    return decided


def _audit(
    demo: ServedDemo, challenge: str, auditor: str, folder: Path, say: SAY
) -> dict[str, Any]:
    """The auditor's `audit`: the service's audit bundle, downloaded and verified."""
    from cryptoscore.verify import CHECKS, verify_bundle

    say("auditor: downloading the audit bundle and running every check")
    with transfer_bar("downloading the audit bundle", demo.quiet) as received:
        data = ProtocolClient(demo.server, auditor).audit_bundle(challenge, received)
    path = folder / "audit.zip"
    write_file(str(path), data)
    with progress_bar(len(CHECKS), "audit", demo.quiet, "check") as progress:
        report = verify_bundle(path, progress)
    return audit_json(report) | {
        "ok": report.ok and not report.in_progress,  # and every round done
        "in_progress": report.in_progress,
        "bundle": str(path),
    }


def format_served(report: dict[str, Any]) -> str:
    """The leaderboard (the CLI's table), the audit's verdict and where to look."""
    from cryptoscore_cli.leaderboard_table import fetch_leaderboard, format_leaderboard

    challenge = report["challenge"]
    board = fetch_leaderboard(ProtocolClient(report["server"]), challenge, "best")
    audit = report["audit"]
    if audit["ok"]:
        verdict = f"all {len(audit['checks'])} checks pass"
    elif audit["first_failure"]:
        verdict = f"FAILED at {audit['first_failure']}"
    else:
        verdict = "checks pass, but in progress: " + ", ".join(audit["in_progress"])
    lines = [format_leaderboard(board)]
    lines += [
        f"rejected in round 1: {name} ({reason})" for name, reason in report["rejected"].items()
    ]
    lines += [
        f"audit ({audit['bundle']}): {verdict}",
        "",
        f"web page:          {report['web_page']}",
        f"leaderboard API:   {report['leaderboard_api']}",
        f"from the CLI:      cryptoscore leaderboard {challenge} --server {report['server']}",
        f"demo folder:       {report['folder']} (tokens in tokens/, passphrases.env)",
        "nothing is left running: the demo's trustees stopped when the work was done",
    ]
    return "\n".join(lines)
