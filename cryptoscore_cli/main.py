"""The ``cryptoscore`` command line.

Thin: argument parsing, files, progress bars and error messages; every cryptographic step is
a call into ``cryptoscore``. Errors print one line (``cryptoscore: error: ...``) and exit 2.
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cryptoscore as cs
from cryptoscore.errors import FormatError
from cryptoscore.scoring.circuits import check_pair
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.encoding import Layout
from cryptoscore_cli.api import ApiError
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.identity import Identity

AUDIT_IN_PROGRESS = 3
"""``audit``'s exit status when every check passed but the challenge's rounds are not done
(0: passed and complete; 2: a check failed)."""

COMMANDS_ENTRY_POINT = "cryptoscore.commands"
"""Entry-point group of functions ``add(subparsers)`` that add commands (the server's)."""


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str, data: bytes, *, private: bool = False) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


@contextmanager
def _progress(
    total: int, desc: str, quiet: bool, unit: str = "ct"
) -> Iterator[Callable[[int], None]]:
    from tqdm import tqdm  # the [cli] extra; main() says so in one line if it is missing

    # the delay keeps input errors (raised before any work) to one line on stderr
    bar = tqdm(
        total=total, desc=desc, unit=unit, disable=quiet, file=sys.stderr, leave=False, delay=0.5
    )

    def advance(done: int) -> None:
        bar.update(done - bar.n)

    try:
        yield advance
    finally:
        bar.close()


# -- commands ---------------------------------------------------------------------------------
def cmd_params(args: argparse.Namespace) -> None:
    from cryptoscore.scoring.noise import smudging_is_proven, transcript_exposure
    from cryptoscore.scoring.validity import check_count
    from cryptoscore.threshold.lineage import BUDGETS

    described = []
    for p in (cs.BFV8192, cs.BFV16384):
        proven = smudging_is_proven(p)
        basis = "proven worst case" if proven else "heuristic (average-case) noise estimate"
        n = min(1 << 20, p.max_count())
        exposure = transcript_exposure(p, 10_000, n, 2, 1, 3, check_count(p))
        described.append(
            p.describe()
            | {
                "threshold_smudging": basis,
                "decryption_budget_per_lineage": dict(BUDGETS),
                "transcript_exposure": {
                    "challenge": f"10000 submissions of {n} binary items, 3 trustees",
                    "statistical_distance_log2": {
                        t.what: round(t.distance_log2, 1) for t in exposure.terms
                    }
                    | {"total": round(exposure.distance_log2, 1)},
                    "renyi_inf_factor": round(exposure.renyi_factor, 4),
                },
            }
        )
    print(json.dumps(described, indent=2))


def cmd_keygen(args: argparse.Namespace) -> None:
    params = cs.get_parameter_set(args.params)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = cs.generate_keys(params)
    _write(str(out / "public.ctx"), keys.public.to_bytes())
    _write(str(out / "evaluation.keys"), keys.evaluation.to_bytes())
    _write(str(out / "secret.key"), keys.secret.to_bytes(), private=True)
    print(f"key id {keys.public.key_id}")
    print(f"wrote {out}/public.ctx, {out}/evaluation.keys, {out}/secret.key (single-key mode:")
    print("for tests and local trials only; a real challenge uses the trustees' key ceremony)")


def _passphrase(env_var: str | None, prompt: str, *, confirm: bool = True) -> bytes:
    """A passphrase from the named environment variable, else typed at the terminal: twice
    for a new secret (``confirm``), once to open an existing one."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise CliError(f"environment variable {env_var} is not set")
        return value.encode()
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != first:
        raise CliError("the passphrases differ")
    return first.encode()


def _new_identity(out: Path, passphrase_env: str | None, what: str) -> Identity:
    """Generate an Ed25519 identity into ``out``: identity.pem (PKCS#8, encrypted with a
    passphrase typed twice or read from ``passphrase_env``) and identity.pub (hex). Never
    overwrites one; ``what`` names it in that refusal."""
    from cryptoscore.identity import Identity

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {out}: {exc.strerror}") from None
    if (out / "identity.pem").exists():
        raise CliError(f"{out}/identity.pem exists: refusing to overwrite {what}")
    identity = Identity.generate()
    pem = identity.to_pem(_passphrase(passphrase_env, "identity passphrase: "))
    _write(str(out / "identity.pem"), pem, private=True)
    _write(str(out / "identity.pub"), (identity.public_key.hex() + "\n").encode())
    return identity


def _open_identity(home: str, passphrase_env: str | None) -> Identity:
    """The identity in ``home``/identity.pem, opened with the passphrase from
    ``passphrase_env`` or typed once at the terminal."""
    from cryptoscore.identity import Identity

    path = Path(home) / "identity.pem"
    pem = _read(str(path))
    passphrase = _passphrase(passphrase_env, "identity passphrase: ", confirm=False)
    try:
        return Identity.from_pem(pem, passphrase)
    except FormatError as exc:
        raise CliError(f"{path}: {exc}") from None


def _public_key_hex(text: str, where: str) -> str:
    """A hex Ed25519 public key (either case, surrounding space ignored), as lower-case hex."""
    from cryptoscore.identity import PublicKey

    try:
        return PublicKey.from_hex(text.strip().lower()).hex()
    except FormatError:
        raise CliError(f"{where}: not an Ed25519 public key (64 hex digits)") from None


def read_invited(path: str) -> list[str]:
    """The public keys (hex) of an ``--invite`` file: one a line; blank lines and ``#``
    comments (whole lines or after a key) are ignored. At least one key, none twice."""
    from cryptoscore.protocol.rules import MAX_INVITED

    try:
        text = _read(path).decode()
    except UnicodeDecodeError:
        raise CliError(f"{path}: not a text file of hex public keys") from None
    keys: list[str] = []
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        key = _public_key_hex(entry, f"{path}:{number}")
        if key in lines:
            raise CliError(f"{path}:{number}: {key[:16]}… is already invited on line {lines[key]}")
        lines[key] = number
        keys.append(key)
    if not keys:
        raise CliError(f"{path}: no public keys to invite")
    if len(keys) > MAX_INVITED:
        raise CliError(f"{path}: {len(keys)} keys; a challenge invites at most {MAX_INVITED}")
    return keys


def cmd_trustee_init(args: argparse.Namespace) -> None:
    out = Path(args.out)
    identity = _new_identity(out, args.passphrase_env, "a trustee identity")
    print(f"trustee identity written to {out}/identity.pem (encrypted)")
    print(f"give the dealer your public key: {identity.public_key.hex()}")


def cmd_identity_init(args: argparse.Namespace) -> None:
    out = Path(args.out)
    identity = _new_identity(out, args.passphrase_env, "an identity")
    print(f"identity written to {out}/identity.pem (encrypted) and {out}/identity.pub")
    print(f"public key: {identity.public_key.hex()}")


def cmd_ceremony(args: argparse.Namespace) -> None:
    from cryptoscore.identity import TrusteePublicKey
    from cryptoscore.threshold.ceremony import RosterEntry, run_ceremony

    try:
        roster_json = json.loads(_read(args.roster))
        if not isinstance(roster_json, list):
            raise TypeError("not a list")
        roster = [
            RosterEntry(str(e["id"]), i + 1, TrusteePublicKey.from_hex(str(e["public_key"])))
            for i, e in enumerate(roster_json)
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(
            f"{args.roster}: expected a JSON list of {{id, public_key}} ({exc})"
        ) from None
    passphrases = {}
    for entry in roster:
        env = (
            f"{args.passphrase_env_prefix}{entry.trustee_id.upper().replace('-', '_')}"
            if (args.passphrase_env_prefix)
            else None
        )
        passphrases[entry.trustee_id] = _passphrase(
            env, f"share-file passphrase for {entry.trustee_id} (typed by that trustee): "
        )
    params = cs.get_parameter_set(args.params)
    from cryptoscore.scoring.noise import smudging_is_proven

    if not smudging_is_proven(params):
        print(
            f"cryptoscore: note: {params.ID}: decryption smudging rests on a heuristic noise "
            "estimate, not a proof (SECURITY.md); bfv-16384 has a proven one",
            file=sys.stderr,
        )
    result = run_ceremony(params, roster, args.threshold, passphrases)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(str(out / "ceremony.record"), result.record.to_bytes())
    _write(str(out / "public.ctx"), result.public.to_bytes())
    _write(str(out / "evaluation.keys"), result.evaluation.to_bytes())
    for tid, blob in result.share_files.items():
        _write(str(out / f"share-{tid}.bin"), blob, private=True)
    print(f"ceremony {result.record.digest[:16]}…: {args.threshold} of {len(roster)} trustees")
    print(
        f"wrote {out}/ceremony.record, public.ctx, evaluation.keys and one share file per "
        "trustee; the dealer erased the key (see SECURITY.md)"
    )


def cmd_encrypt(args: argparse.Namespace) -> None:
    public = cs.PublicContext.from_bytes(_read(args.public))
    indices = cs.load_class_indices(args.input)
    layout = Layout.for_params(public.params, int(indices.size), args.classes)
    encrypt = cs.encrypt_labels if args.kind == "labels" else cs.encrypt_predictions
    with _progress(layout.ciphertexts, f"encrypting {args.kind}", args.quiet) as progress:
        bundle = encrypt(
            indices,
            public,
            classes=args.classes,
            challenge=args.challenge,
            out=args.output,
            progress=progress,
        )
    size = Path(args.output).stat().st_size
    print(f"{args.output}: {bundle.header.n} {args.kind}, {size} bytes, sha256 {bundle.digest}")


def cmd_validity(args: argparse.Namespace) -> None:
    keys = cs.EvaluationKeys.from_bytes(_read(args.evaluation_keys))
    bundle = cs.EncryptedBundle.open(args.bundle)
    seed = bytes.fromhex(args.seed) if args.seed else secrets.token_bytes(32)
    with _progress(bundle.layout.chunks, "validity", args.quiet) as progress:
        aggregate = cs.validity(bundle, seed, keys, progress=progress)
    _write(args.output, aggregate.to_bytes())
    print(f"{args.output}: validity aggregate, seed {seed.hex()}, sha256 {aggregate.digest}")


def cmd_score(args: argparse.Namespace) -> None:
    keys = cs.EvaluationKeys.from_bytes(_read(args.evaluation_keys))
    preds = cs.EncryptedBundle.open(args.predictions)
    labels = cs.EncryptedBundle.open(args.labels)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    policy = cs.ReleasePolicy(preds.header.classes, metrics)
    check_pair(preds, labels)
    with _progress(preds.layout.chunks, "scoring", args.quiet) as progress:
        aggregate = cs.score(preds, labels, policy, keys, progress=progress)
    _write(args.output, aggregate.to_bytes())
    names = ", ".join(aggregate.names[:4]) + ("…" if len(aggregate.names) > 4 else "")
    print(f"{args.output}: {names}; sha256 {aggregate.digest}")


def cmd_decrypt(args: argparse.Namespace) -> None:
    secret = cs.SecretKey.from_bytes(_read(args.secret_key))
    aggregate = cs.AggregateCiphertext.from_bytes(_read(args.aggregate))
    print(json.dumps(decrypt_aggregate(aggregate, secret), indent=2))


def cmd_demo(args: argparse.Namespace) -> None:
    from cryptoscore_cli.demo import format_leaderboard, run_demo

    if importlib.util.find_spec("sklearn") is None:  # the demo's dataset and models
        raise CliError("the demo needs scikit-learn: pip install 'cryptoscore[demo]'")
    report = run_demo(say=(lambda _msg: None) if args.json else print)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(format_leaderboard(report))
    if not report["audit"]["ok"]:
        raise CliError(f"audit failed at {report['audit']['first_failure']}")


def cmd_audit(args: argparse.Namespace) -> None:
    from cryptoscore.verify import verify_bundle

    if not args.bundle:
        raise CliError("give an audit bundle file, or --server URL and --challenge ID")
    report = verify_bundle(args.bundle)
    for check in report.checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name:24} {check.detail}")
    if not report.ok:
        failed = report.first_failure
        raise CliError(f"audit failed at check {failed.name if failed else '?'}")
    for item in report.in_progress:
        print(f"WAIT  {item}")
    if report.in_progress:
        # not a failure: nothing logged is wrong, but the challenge's rounds are not done
        print(
            f"audit passed so far; {len(report.in_progress)} item(s) in progress: "
            "audit again when the rounds are done",
            file=sys.stderr,
        )
        raise SystemExit(AUDIT_IN_PROGRESS)


def cmd_receipt_verify(args: argparse.Namespace) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from cryptoscore.transparency.log import ConsistencyProof, SignedTreeHead
    from cryptoscore.transparency.receipts import Receipt, verify_receipt, verify_receipt_against

    receipt = Receipt.from_bytes(_read(args.receipt))
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(args.service_key))
    except ValueError:
        raise CliError("--service-key must be 64 hex digits (the service's Ed25519 key)") from None
    later_json: Any = None
    if args.later:
        later_json = json.loads(_read(args.later))
    elif args.server and args.challenge:
        later_json = _protocol(args).consistency(args.challenge, receipt.tree_head.size)
    if later_json is not None:
        later = later_json
        verify_receipt_against(
            receipt,
            SignedTreeHead.from_json(later["tree_head"]),
            ConsistencyProof.from_json(later["consistency"]),
            key,
        )
        print(f"receipt valid; the log of size {later['tree_head']['size']} still contains it")
    else:
        verify_receipt(receipt, key)
        print(f"receipt valid: entry {receipt.index} in the log of size {receipt.tree_head.size}")


def _client(args: argparse.Namespace) -> Any:
    from cryptoscore_cli.api import Client

    if not args.server:
        raise CliError("no server: pass --server URL or set CRYPTOSCORE_SERVER")
    return Client(args.server, args.token)


def cmd_challenge_create(args: argparse.Namespace) -> None:
    ceremony = Path(args.ceremony)
    organizer_pub = str(Path(args.organizer) / "identity.pub")
    organizer = _public_key_hex(_read(organizer_pub).decode("utf-8", "replace"), organizer_pub)
    if args.enrolment == "invite":
        if not args.invite:
            raise CliError("--enrolment invite needs --invite FILE (the invited public keys)")
        invited = read_invited(args.invite)
    elif args.invite:
        raise CliError("--invite is only for --enrolment invite")
    else:
        invited = []
    definition: dict[str, Any] = {
        "id": args.id,
        "name": args.name or args.id,
        "classes": args.classes,
        "n_items": args.n_items,
        "metrics": [m.strip() for m in args.metrics.split(",") if m.strip()],
        "submission_limit_per_day": args.limit_per_day,
        "opens_at": args.opens,
        "closes_at": args.closes,
        "organizer_key": organizer,
        "enrolment": args.enrolment,
        "invited": invited,
    }
    if args.pad_requests_per_day is not None:
        definition["pad_requests_per_day"] = args.pad_requests_per_day
    created = _client(args).create_challenge(
        definition,
        _read(str(ceremony / "ceremony.record")),
        _read(str(ceremony / "public.ctx")),
        _read(str(ceremony / "evaluation.keys")),
    )
    print(json.dumps(created, indent=2, sort_keys=True))


def cmd_challenge_show(args: argparse.Namespace) -> None:
    print(json.dumps(_client(args).challenge(args.id), indent=2, sort_keys=True))


def _protocol(args: argparse.Namespace) -> Any:
    from cryptoscore_cli.api import ProtocolClient

    if not args.server:
        raise CliError("no server: pass --server URL or set CRYPTOSCORE_SERVER")
    return ProtocolClient(args.server, args.token)


def _encrypt_for(
    args: argparse.Namespace, client: Any, info: Any, kind: str, identity: Identity
) -> tuple[bytes, str]:
    """Encrypt a file of class indices for a challenge on the server (``info``: its
    definition), with pads the trustees make for a pad request ``identity`` signs (progress
    bars while waiting and encrypting). Returns the bundle's bytes and digest."""
    from cryptoscore.threshold.ceremony import CeremonyRecord
    from cryptoscore_cli.pad_client import fetch_pads

    public = cs.PublicContext.from_bytes(client.public_context(args.challenge))
    record = CeremonyRecord.from_bytes(client.ceremony_record(args.challenge))
    if public.key_id != info["key_id"] or record.key_id != info["key_id"]:
        raise CliError("the server's public files do not match the challenge's key id")
    indices = cs.load_class_indices(args.input)
    layout = Layout.for_params(public.params, int(indices.size), info["classes"])
    trustees = [t.strip() for t in args.trustees.split(",") if t.strip()] if args.trustees else None
    with _progress(record.threshold, "trustee pads", args.quiet, "trustee") as answered:
        pads = fetch_pads(
            client,
            args.challenge,
            kind,
            record,
            public,
            layout.ciphertexts,
            identity=identity,
            trustees=trustees,
            timeout=args.pad_timeout,
            on_answer=lambda done, _t: answered(done),
        )
    encrypt = cs.encrypt_labels if kind == "labels" else cs.encrypt_predictions
    with (
        tempfile.TemporaryDirectory() as tmp,
        _progress(layout.ciphertexts, f"encrypting {kind}", args.quiet) as progress,
    ):
        bundle = encrypt(
            indices,
            public,
            classes=info["classes"],
            challenge=args.challenge,
            out=Path(tmp) / "bundle",
            progress=progress,
            pads=pads,
        )
        return bundle.to_bytes(), bundle.digest


def cmd_enrol(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import Enrolment

    client = _protocol(args)
    identity = _open_identity(args.identity, args.passphrase_env)
    record = Enrolment.sign(identity, args.challenge, args.name)
    client.enrol(args.challenge, record.to_bytes())
    print(f"enrolled {args.name} in {args.challenge} as {identity.public_key.hex()[:16]}…")


def cmd_labels_upload(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import sign_upload

    client = _protocol(args)
    info = client.challenge(args.challenge)
    rules = info.get("rules")
    if not rules:
        raise CliError(
            f"challenge {args.challenge} predates signed inputs: it names no organizer key"
        )
    identity = _open_identity(args.identity, args.passphrase_env)
    if rules.get("organizer") != identity.public_key.hex():
        raise CliError("this identity is not the challenge's organizer key")
    bundle, digest = _encrypt_for(args, client, info, "labels", identity)
    signature = sign_upload(identity, args.challenge, "labels", digest)
    result = client.upload_labels(args.challenge, bundle, signature)
    print(json.dumps(result, indent=2, sort_keys=True))


def _enrolled_identity(client: Any, challenge_id: str) -> str:
    """The public key (hex) the caller's token enrolled in the challenge."""
    try:
        enrolment = client.enrolment(challenge_id)
    except ApiError as exc:
        if exc.status == 404:
            raise CliError(
                f"not enrolled in {challenge_id}: run `cryptoscore enrol` first"
            ) from None
        raise
    return str(enrolment["identity"])


def cmd_submit(args: argparse.Namespace) -> None:
    from cryptoscore.protocol.signed_inputs import sign_upload

    client = _protocol(args)
    info = client.challenge(args.challenge)  # first: an unknown challenge is not "not enrolled"
    enrolled = _enrolled_identity(client, args.challenge)
    identity = _open_identity(args.identity, args.passphrase_env)
    if identity.public_key.hex() != enrolled:
        raise CliError(
            f"this identity is not the one enrolled in {args.challenge} ({enrolled[:16]}…)"
        )
    bundle, digest = _encrypt_for(args, client, info, "predictions", identity)
    signature = sign_upload(identity, args.challenge, "predictions", digest)
    result = client.submit(args.challenge, bundle, signature)
    if args.receipt:
        _write(args.receipt, json.dumps(result["receipt"], sort_keys=True).encode())
    print(f"submission {result['submission']}: {result['state']}")
    if args.receipt:
        print(f"receipt written to {args.receipt}")


def cmd_status(args: argparse.Namespace) -> None:
    print(json.dumps(_protocol(args).submission(args.challenge, args.submission), indent=2))


def cmd_leaderboard(args: argparse.Namespace) -> None:
    rows = _protocol(args).leaderboard(args.challenge)
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return
    for row in rows:
        values = ", ".join(f"{k} {v}" for k, v in sorted(row["values"].items()))
        print(f"{row['rank']:>4}  {row['participant']:24} {values}")


def cmd_trustee_run(args: argparse.Namespace) -> None:
    from cryptoscore.threshold.ceremony import open_share_file
    from cryptoscore_cli.trustee_loop import TrusteeLoop

    home = Path(args.home)
    identity = _open_identity(args.home, args.passphrase_env)
    share = open_share_file(
        _read(args.share),
        _passphrase(args.share_passphrase_env, "share-file passphrase: ", confirm=False),
    )
    loop = TrusteeLoop(_protocol(args), share, identity, home / "partials.journal")
    loop.run(once=args.once, interval=args.interval)


def cmd_audit_dispatch(args: argparse.Namespace) -> None:
    """``audit BUNDLE`` verifies a file; ``audit --server --challenge`` verifies the server's
    bundle; ``audit export --server --challenge -o FILE`` downloads it."""
    if args.bundle == "export":
        if not (args.challenge and args.output):
            raise CliError("audit export needs --server, --challenge and -o FILE")
        data = _protocol(args).audit_bundle(args.challenge)
        _write(args.output, data)
        print(f"wrote {args.output} ({len(data)} bytes)")
    elif args.challenge and not args.bundle:
        cmd_audit_server(args)
    else:
        cmd_audit(args)


def cmd_audit_server(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.zip"
        path.write_bytes(_protocol(args).audit_bundle(args.challenge))
        args.bundle = str(path)
        cmd_audit(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptoscore", description="Encrypted benchmark scoring with threshold release."
    )
    parser.add_argument("--version", action="version", version=cs.__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", default=os.environ.get("CRYPTOSCORE_SERVER"))
        p.add_argument("--token", default=os.environ.get("CRYPTOSCORE_TOKEN"))

    def pad_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--trustees",
            help="comma-separated roster ids of the t trustees to ask for encryption pads "
            "(default: the service picks the t seen most recently)",
        )
        p.add_argument(
            "--pad-timeout",
            type=float,
            default=600.0,
            help="seconds to wait for the trustees' pads (default 600)",
        )

    def identity_options(p: argparse.ArgumentParser, identity_help: str) -> None:
        p.add_argument("--identity", required=True, metavar="DIR", help=identity_help)
        p.add_argument(
            "--passphrase-env",
            metavar="VAR",
            help="read the identity passphrase from this variable (default: type it once)",
        )

    p = sub.add_parser("identity", help="organizer and participant identities")
    identity_sub = p.add_subparsers(dest="identity_command", required=True, metavar="ACTION")
    p = identity_sub.add_parser(
        "init", help="create an organizer's or participant's Ed25519 identity"
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="directory for identity.pem / identity.pub"
    )
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the passphrase from this variable (default: type it twice)",
    )
    p.set_defaults(func=cmd_identity_init)

    p = sub.add_parser("challenge", help="challenges on a server")
    challenge_sub = p.add_subparsers(dest="challenge_command", required=True, metavar="ACTION")
    p = challenge_sub.add_parser("create", help="create a challenge from a ceremony directory")
    server_options(p)
    p.add_argument("--id", required=True)
    p.add_argument("--name")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--n-items", type=int, required=True)
    p.add_argument("--metrics", default="correct,errors")
    p.add_argument("--limit-per-day", type=int, default=5)
    p.add_argument("--opens", required=True, help="ISO 8601 with offset")
    p.add_argument("--closes", required=True, help="ISO 8601 with offset")
    p.add_argument("--ceremony", required=True, help="directory written by `ceremony`")
    p.add_argument(
        "--organizer",
        required=True,
        metavar="DIR",
        help="directory with the organizer's identity.pub (from `identity init`): the key "
        "that must sign the labels",
    )
    p.add_argument(
        "--enrolment",
        choices=("open", "invite"),
        default="open",
        help="who may enrol: open (any identity) or invite (only the --invite keys); default open",
    )
    p.add_argument(
        "--invite",
        metavar="FILE",
        help="with --enrolment invite: the invited public keys, one hex key a line "
        "(blank lines and # comments ignored)",
    )
    p.add_argument(
        "--pad-requests-per-day",
        type=int,
        metavar="N",
        help="pad requests each enrolled identity may make in any 24 hours "
        "(default: twice --limit-per-day)",
    )
    p.set_defaults(func=cmd_challenge_create)
    p = challenge_sub.add_parser("show", help="a challenge's public definition")
    server_options(p)
    p.add_argument("id")
    p.set_defaults(func=cmd_challenge_show)

    p = sub.add_parser("enrol", help="enrol an identity in a challenge (before submitting)")
    server_options(p)
    p.add_argument("--challenge", required=True, help="the challenge to enrol in")
    identity_options(p, "directory with the identity.pem to enrol (from `identity init`)")
    p.add_argument(
        "--name", required=True, help="the name to enrol under (1..64 printable characters)"
    )
    p.set_defaults(func=cmd_enrol)

    p = sub.add_parser("labels", help="the organizer's labels")
    labels_sub = p.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    p = labels_sub.add_parser("upload", help="encrypt labels locally and upload them")
    server_options(p)
    p.add_argument("input", help="CSV with one column, or .npy")
    p.add_argument("--challenge", required=True)
    identity_options(
        p,
        "directory with the organizer's identity.pem (its identity.pub went to `challenge "
        "create --organizer`): signs the pad request and the labels",
    )
    pad_options(p)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_labels_upload)

    p = sub.add_parser("submit", help="encrypt predictions locally and submit them")
    server_options(p)
    p.add_argument("input", help="CSV with one column, or .npy")
    p.add_argument("--challenge", required=True)
    p.add_argument("--receipt", help="write the submission receipt (JSON) here")
    identity_options(
        p,
        "directory with the identity.pem you enrolled (`enrol`): signs the pad request and "
        "the predictions",
    )
    pad_options(p)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", help="a submission's state and released scores")
    server_options(p)
    p.add_argument("submission")
    p.add_argument("--challenge", required=True)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("leaderboard", help="released scores, ranked")
    server_options(p)
    p.add_argument("challenge")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("params", help="list the parameter sets")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("keygen", help="single-key mode key set (tests, local trials)")
    p.add_argument("--params", default=cs.DEFAULT.ID)
    p.add_argument("--out", required=True, help="directory for the key files")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("trustee", help="trustee identity")
    trustee_sub = p.add_subparsers(dest="trustee_command", required=True, metavar="ACTION")
    p = trustee_sub.add_parser("init", help="create this trustee's Ed25519 identity")
    p.add_argument("--out", required=True, help="directory for identity.pem / identity.pub")
    p.add_argument("--passphrase-env", help="read the passphrase from this variable")
    p.set_defaults(func=cmd_trustee_init)
    p = trustee_sub.add_parser("run", help="answer what awaits this trustee (recompute first)")
    server_options(p)
    p.add_argument("--home", required=True, help="directory with identity.pem (and the journal)")
    p.add_argument("--share", required=True, help="this trustee's share file")
    p.add_argument("--passphrase-env", help="identity passphrase from this variable")
    p.add_argument("--share-passphrase-env", help="share-file passphrase from this variable")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=2.0)
    p.set_defaults(func=cmd_trustee_run)

    p = sub.add_parser("ceremony", help="key ceremony v1 (trusted dealer, run offline)")
    p.add_argument("--roster", required=True, help='JSON: [{"id": ..., "public_key": hex}]')
    p.add_argument("--threshold", type=int, required=True)
    p.add_argument(
        "--params",
        default=cs.BFV16384.ID,
        help="parameter set (default bfv-16384, whose decryption smudging is proven; "
        "bfv-8192 is faster and rests on a heuristic noise estimate: see `params`)",
    )
    p.add_argument("--out", required=True)
    p.add_argument(
        "--passphrase-env-prefix",
        help="read each trustee's passphrase from PREFIX<ID> (id upper-cased, - as _)",
    )
    p.set_defaults(func=cmd_ceremony)

    p = sub.add_parser("encrypt", help="encrypt class indices (CSV with one column or .npy)")
    p.add_argument("input")
    p.add_argument("--public", required=True, help="public context file")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--challenge", required=True)
    p.add_argument("--kind", choices=("predictions", "labels"), default="predictions")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_encrypt)

    p = sub.add_parser("validity", help="compute a bundle's validity aggregate")
    p.add_argument("bundle")
    p.add_argument("--evaluation-keys", required=True)
    p.add_argument("--seed", help="64 hex digits (default: fresh random)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_validity)

    p = sub.add_parser("score", help="run the score circuit on predictions and labels")
    p.add_argument("predictions")
    p.add_argument("labels")
    p.add_argument("--evaluation-keys", required=True)
    p.add_argument("--metrics", default="correct", help="comma list: correct,errors,confusion")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("demo", help="the whole story on scikit-learn's digits, locally")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "audit",
        help="verify an audit bundle (named checks); `audit export` downloads one",
        description="audit BUNDLE | audit --server URL --challenge ID | "
        "audit export --server URL --challenge ID -o FILE. Exit status 0: every check passed "
        "and the challenge's rounds are done; 3: every check passed, some work is still in "
        "progress (listed as WAIT); 2: a check failed.",
    )
    p.add_argument("bundle", nargs="?", help="an audit bundle file, or the word export")
    server_options(p)
    p.add_argument("--challenge", help="the challenge on --server")
    p.add_argument("-o", "--output", help="with export: where to write the bundle")
    p.set_defaults(func=cmd_audit_dispatch)

    p = sub.add_parser("receipt", help="submission receipts")
    receipt_sub = p.add_subparsers(dest="receipt_command", required=True, metavar="ACTION")
    p = receipt_sub.add_parser("verify", help="check a receipt (and a later tree head)")
    p.add_argument("receipt")
    p.add_argument("--service-key", required=True, help="the service's Ed25519 public key (hex)")
    p.add_argument("--later", help="JSON with a later tree_head and a consistency proof")
    server_options(p)
    p.add_argument("--challenge", help="with --server: check against the server's latest head")
    p.set_defaults(func=cmd_receipt_verify)

    p = sub.add_parser("decrypt", help="single-key decryption of an aggregate ciphertext")
    p.add_argument("aggregate")
    p.add_argument("--secret-key", required=True)
    p.set_defaults(func=cmd_decrypt)
    # commands other packages add (the server's serve, worker and token create), found by
    # entry point so that this command line never imports them itself
    for command_set in entry_points(group=COMMANDS_ENTRY_POINT):
        command_set.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if importlib.util.find_spec("tqdm") is None:  # installed without the [cli] extra
        print(
            "cryptoscore: error: the command line needs its extra: pip install 'cryptoscore[cli]'",
            file=sys.stderr,
        )
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (cs.CryptoScoreError, CliError, ApiError) as exc:
        print(f"cryptoscore: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # e.g. a malformed --seed
        print(f"cryptoscore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cryptoscore: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
