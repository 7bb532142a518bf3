"""The key ceremony's commands: ``ceremony plan | start | step | status | verify`` — the
dealerless ceremony (docs/design.md, "Key ceremony v2 (dealerless)"), in which the trustees
generate the key together and nobody ever holds it — and ``ceremony deal``, the legacy dealer
ceremony (``dealer.py``).

Who runs what:

* the organizer makes the plan (the roster, t, the parameter set): ``ceremony plan --dir D``
  writes it into a folder for air-gapped trustees, ``ceremony start`` posts it to the service;
* each trustee steps its part (``ceremony step --home H --dir D | --id ID``; over the service
  ``trustee run`` does it too), until finished: then its home holds its share file and the
  ceremony's record;
* anyone follows it (``ceremony status``) and checks it (``ceremony verify --out O``: the
  record, the public context and the evaluation keys, as ``ceremony deal`` writes them, so
  ``challenge create --ceremony O`` takes either); on abort both name the culprits.

Thin: the protocol is the library's (``threshold.dkg``); the medium is a
``ceremony_exchange.CeremonyExchange``; the trustee's files are ``ceremony_trustee``'s.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cryptoscore as cs
from cryptoscore.errors import CryptoScoreError
from cryptoscore_cli.ceremony_exchange import CeremonyExchange, FolderExchange
from cryptoscore_cli.ceremony_trustee import (
    CeremonyTrustee,
    TranscriptBuilder,
    culprit_lines,
    message_cache,
)
from cryptoscore_cli.commands import dealer
from cryptoscore_cli.commands.common import (
    MIN_PASSPHRASE_BYTES,
    ask_passphrase,
    progress_bar,
    protocol_client,
    server_options,
    unlock_identity,
    write_file,
)
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.threshold.dkg.plan import CeremonyPlan
    from cryptoscore.threshold.dkg.transcript import Transcript
    from cryptoscore_cli.commands.common import Subparsers

__all__ = ["add_ceremony", "exchange_of", "new_share_passphrase"]

_CEREMONY_ID = re.compile(r"^[0-9a-f]{64}$")


# -- shared -------------------------------------------------------------------------------------
def exchange_of(args: argparse.Namespace, cache_home: Path | None = None) -> CeremonyExchange:
    """The folder of ``--dir``, else the service's relay of ceremony ``--id`` (with
    ``cache_home``, a trustee's home, its downloads kept there: ``message_cache``)."""
    if args.dir is not None:
        return FolderExchange(args.dir)
    if not _CEREMONY_ID.match(args.id):
        raise CliError(
            f"{args.id!r} is not a ceremony id: 64 hex digits, as `ceremony start` prints"
        )
    from cryptoscore_cli.api import ServiceCeremonyExchange

    cache = None if cache_home is None else message_cache(cache_home, args.id)
    return ServiceCeremonyExchange(protocol_client(args), args.id, cache_dir=cache)


def _where(args: argparse.Namespace) -> list[str]:
    """How the ceremony was named on this command line, for the next commands it prints."""
    return ["--dir", args.dir] if args.dir is not None else ["--id", args.id]


def new_share_passphrase(env_var: str | None) -> Any:
    """A function asking the new share file's passphrase once (twice if typed), when first
    called."""
    asked: list[bytes] = []

    def passphrase() -> bytes:
        if not asked:
            asked.append(
                ask_passphrase(
                    env_var,
                    "share-file passphrase: ",
                    option="--share-passphrase-env VAR",
                    new=True,
                    minimum=MIN_PASSPHRASE_BYTES,
                )
            )
        return asked[0]

    return passphrase


def _new_plan(args: argparse.Namespace) -> CeremonyPlan:
    from cryptoscore.scoring.noise import smudging_is_proven
    from cryptoscore.threshold.dkg.plan import CeremonyPlan

    roster = dealer.read_roster(args.roster)
    params = cs.get_parameter_set(args.params)
    plan = CeremonyPlan.create(params, roster, args.threshold)
    if not smudging_is_proven(params, committee=plan.n):
        print(
            f"cryptoscore: note: {params.ID}: decryption smudging rests on a heuristic noise "
            "estimate, not a proof (SECURITY.md); bfv-16384 has a proven one",
            file=sys.stderr,
        )
    return plan


def _describe(plan: CeremonyPlan) -> str:
    trustees = ", ".join(e.trustee_id for e in plan.roster)
    return f"{plan.threshold} of {plan.n} trustees ({trustees}) at {plan.params.ID}"


def _final_kind() -> str:
    return "completion"


# -- organizer ----------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> None:
    plan = _new_plan(args)
    FolderExchange(args.dir).write_plan(plan.to_bytes())
    print(f"ceremony {plan.digest}")
    print(f"  {_describe(plan)}; wrote {args.dir}/plan.bin")
    print(
        f"next, each trustee in turn, on its own machine with the folder {args.dir} (carry it "
        "from one to the next until every one says finished):"
    )
    print(f"  cryptoscore ceremony step --home <its home> --dir {args.dir}")
    print(f"then anyone: cryptoscore ceremony verify --dir {args.dir} --out ceremony")


def cmd_start(args: argparse.Namespace) -> None:
    plan = _new_plan(args)
    protocol_client(args).create_ceremony(plan.to_bytes())
    print(f"ceremony {plan.digest}")
    print(f"  {_describe(plan)}; posted to the service")
    print(
        "next, each trustee: `cryptoscore trustee run --home <its home> --token-file "
        "<its token>` takes part (or `cryptoscore ceremony step --home <its home> --id "
        f"{plan.digest}`)"
    )
    print(f"then the organizer: cryptoscore ceremony verify --id {plan.digest} --out ceremony")


# -- trustee ------------------------------------------------------------------------------------
def cmd_step(args: argparse.Namespace) -> int:
    identity, passphrase = unlock_identity(args.home, args.passphrase_env)
    trustee = CeremonyTrustee(
        Path(args.home),
        exchange_of(args, cache_home=Path(args.home)),
        identity,
        passphrase,
        new_share_passphrase(args.share_passphrase_env),
        say=print,
        bar=lambda total, desc, unit: progress_bar(total, desc, args.quiet, unit),
    )
    outcome = trustee.run(wait=args.wait, interval=args.interval)
    if outcome.due == "aborted":
        for line in culprit_lines(outcome.culprits):
            print(f"cryptoscore: culprit {line}", file=sys.stderr)
        return 1
    return 0


# -- anyone -------------------------------------------------------------------------------------
def _lenient(plan: CeremonyPlan, messages: list[bytes]) -> tuple[Transcript, list[str]]:
    """The transcript of every message the library accepts, and one line a refused one."""
    from cryptoscore.threshold.dkg.transcript import Transcript

    transcript = Transcript(plan)
    refused = []
    for raw in messages:
        try:
            transcript.add(raw)
        except CryptoScoreError as exc:
            refused.append(str(exc))
    return transcript, refused


def _aborted(transcript: Transcript) -> bool:
    """A reveal, or a complaint: the ceremony will not finish."""
    if transcript.messages("reveal"):
        return True
    return any(
        getattr(m.payload, "verdict", "ack") == "complaint"
        for m in transcript.messages("confirmation")
    )


def _culprits(transcript: Transcript) -> tuple[list[str], list[str]]:
    """After an abort: one line a culprit (blame by replay), or — while reveals are still
    due — who has not revealed yet."""
    from cryptoscore.threshold.dkg.blame import blame, reveals_needed

    needed = reveals_needed(transcript)
    if needed:
        return [], needed
    return culprit_lines(blame(transcript)), []


def _relay_status(args: argparse.Namespace) -> int | None:
    """``status --id`` from the relay's own account of who posted what, downloading only the
    small confirmations (to see complaints) — not the contributions, tens to hundreds of MB
    each. ``None`` when the ceremony has aborted: blame needs every message."""
    from cryptoscore.threshold.dkg.messages import SignedMessage
    from cryptoscore.threshold.dkg.plan import CeremonyPlan

    client = protocol_client(args)
    detail = client.ceremony(args.id)
    if detail["state"] == "aborted":
        return None
    exchange = exchange_of(args)
    plan = CeremonyPlan.from_bytes(exchange.plan())
    kinds = {k["kind"]: k for k in detail["kinds"]}
    for posted in kinds.get("confirmation", {}).get("posted", []):
        raw = client.ceremony_message(args.id, "confirmation", posted["trustee_id"])
        message = SignedMessage.from_bytes(raw, plan)
        if getattr(message.payload, "verdict", "ack") == "complaint":
            return None
    print(f"ceremony {plan.digest}: {_describe(plan)}")
    waiting = ""
    for kind in _rounds():
        entry = kinds.get(kind, {"posted": [], "missing": [e.trustee_id for e in plan.roster]})
        posted_ids = [p["trustee_id"] for p in entry["posted"]]
        missing = list(entry["missing"])
        print(
            f"  round {entry.get('round', '?')} {kind}: posted {', '.join(posted_ids) or 'none'}; "
            f"missing {', '.join(missing) or 'none'}"
        )
        if missing and not waiting:
            waiting = f"{kind} from {', '.join(missing)}"
    if not waiting:
        print("complete: `ceremony verify` checks it and writes the keys")
    else:
        print(f"waiting for {waiting}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from cryptoscore.threshold.dkg.messages import KINDS
    from cryptoscore.threshold.dkg.plan import CeremonyPlan

    if args.dir is None:
        exchange_of(args)  # refuses a malformed id first
        told = _relay_status(args)
        if told is not None:
            return told
    exchange = exchange_of(args)
    plan = CeremonyPlan.from_bytes(exchange.plan())
    transcript, refused = _lenient(plan, exchange.messages())
    print(f"ceremony {plan.digest}: {_describe(plan)}")
    waiting: list[str] = []
    for kind, round_ in KINDS.items():
        posted = [m.trustee_id for m in transcript.messages(kind)]
        missing = transcript.missing(kind)
        if kind == "reveal" and not posted:
            continue
        print(
            f"  round {round_} {kind}: posted {', '.join(posted) or 'none'}; "
            f"missing {', '.join(missing) or 'none'}"
        )
        if missing and not waiting and kind != "reveal":
            waiting = [f"{kind} from {', '.join(missing)}"]
    for line in refused:
        print(f"  refused: {line}")
    if _aborted(transcript):
        culprits, reveals = _culprits(transcript)
        print("aborted" + (f": waiting for reveals from {', '.join(reveals)}" if reveals else ""))
        for line in culprits:
            print(f"  culprit {line}")
        return 1
    if not waiting:
        print("complete: `ceremony verify` checks it and writes the keys")
    else:
        print(f"waiting for {waiting[0]}")
    return 0


def _wait_until_settled(
    exchange: CeremonyExchange, builder: TranscriptBuilder, args: argparse.Namespace
) -> None:
    """Poll until the last round is in or the ceremony aborted (``--wait``)."""
    final = _final_kind()
    deadline = time.monotonic() + args.timeout
    said = ""
    while True:
        transcript = builder.update(exchange.messages())
        if transcript.complete(final) or _aborted(transcript):
            return
        missing = next(k for k in _rounds() if not transcript.complete(k))
        line = f"waiting for the {missing}s of {', '.join(transcript.missing(missing))}"
        if line != said and not args.quiet:
            print(line, file=sys.stderr)
            said = line
        if time.monotonic() >= deadline:
            raise CliError(f"timed out after {args.timeout:g} s {line}")
        time.sleep(args.interval)


def _rounds() -> list[str]:
    from cryptoscore.threshold.dkg.messages import KINDS

    return [k for k in KINDS if k != "reveal"]


def cmd_verify(args: argparse.Namespace) -> int:
    from cryptoscore.threshold.dkg.plan import CeremonyPlan
    from cryptoscore.threshold.dkg.transcript import CeremonyAbort

    exchange = exchange_of(args)
    plan = CeremonyPlan.from_bytes(exchange.plan())
    builder = TranscriptBuilder(plan)
    if args.wait:
        _wait_until_settled(exchange, builder, args)
    messages = exchange.messages()
    with progress_bar(len(messages) + 2, "checking the ceremony", args.quiet, "step") as bar:
        transcript = builder.transcript
        for done, raw in enumerate(messages, 1):
            builder.update([raw])
            bar(done)
        try:
            if transcript.complete("response"):
                transcript.assemble_keys()
            bar(len(messages) + 1)
            record = transcript.check_transcript(created_at=plan.created_at)
            public, evaluation = transcript.assemble_keys()
        except CeremonyAbort as exc:
            abort: CeremonyAbort | None = exc
        else:
            abort = None
        bar(len(messages) + 2)
    if abort is not None:
        print(f"cryptoscore: ceremony aborted: {abort}", file=sys.stderr)
        culprits = culprit_lines(abort.culprits)
        if not culprits and abort.needs_reveal:
            culprits, reveals = _culprits(transcript)
            if reveals:
                print(
                    f"cryptoscore: waiting for reveals from {', '.join(reveals)}: then "
                    "`ceremony verify` names who deviated",
                    file=sys.stderr,
                )
        for line in culprits:
            print(f"cryptoscore: culprit {line}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {out}: {exc.strerror}") from None
    write_file(str(out / "ceremony.record"), record.to_bytes())
    write_file(str(out / "public.ctx"), public.to_bytes())
    write_file(str(out / "evaluation.keys"), evaluation.to_bytes())
    print(f"ceremony {plan.digest[:16]}… verified: {_describe(plan)}, key {public.key_id[:16]}…")
    print(
        f"wrote {out}/ceremony.record, public.ctx, evaluation.keys "
        f"(`challenge create --ceremony {out}` uses them)"
    )
    return 0


# -- the parser ---------------------------------------------------------------------------------
def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--roster",
        required=True,
        help='JSON: [{"id": ..., "public_key": hex}] in Shamir order, each key what that '
        "trustee's `trustee init` printed",
    )
    p.add_argument("--threshold", type=int, required=True, help="t: trustees needed to decrypt")
    p.add_argument(
        "--params",
        default=cs.BFV16384.ID,
        help="parameter set (default bfv-16384, whose decryption smudging is proven; "
        "bfv-8192 is faster and rests on a heuristic noise estimate: see `params`)",
    )


def _exchange_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", metavar="D", help="the ceremony's folder (offline ceremony)")
    where.add_argument(
        "--id", metavar="ID", help="the ceremony's id on the service (`ceremony start` prints it)"
    )
    server_options(p)


def _poll_options(p: argparse.ArgumentParser, wait_help: str, interval: float) -> None:
    p.add_argument("--wait", action="store_true", help=wait_help)
    p.add_argument(
        "--interval",
        type=float,
        default=interval,
        help=f"seconds between polls with --wait ({interval:g})",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_ceremony(sub: Subparsers) -> None:
    p = sub.add_parser(
        "ceremony",
        help="key ceremony: dealerless (plan/start, step, status, verify) or legacy dealer (deal)",
        description="The dealerless key ceremony: the organizer plans it (`plan` into a folder "
        "for air-gapped trustees, `start` on the service), each trustee steps its part "
        "(`step`; over the service `trustee run` does it), anyone follows it (`status`) and "
        "checks it (`verify`: the public files `challenge create --ceremony` reads). Nobody "
        "ever holds the whole key. `deal` is the legacy dealer ceremony.",
    )
    actions = p.add_subparsers(dest="ceremony_command", required=True, metavar="ACTION")

    def action(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_)
        a.set_defaults(func=func)
        return a

    a = action(
        "plan", cmd_plan, "organizer, offline: write a ceremony's plan into a folder for trustees"
    )
    _plan_options(a)
    a.add_argument("--dir", required=True, metavar="D", help="the ceremony's folder (new)")

    a = action("start", cmd_start, "organizer: post a ceremony's plan to the service; its id")
    _plan_options(a)
    server_options(a)

    a = action(
        "step",
        cmd_step,
        "trustee: do what is due in a ceremony (again until it says finished); its seed, then "
        "its share and the record, are kept in --home",
    )
    a.add_argument(
        "--home",
        required=True,
        help="this trustee's folder (identity.pem; ceremony-<id>.seed, share-<id>.bin and "
        "ceremony-<id>.record are written there)",
    )
    _exchange_options(a)
    a.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="identity passphrase from this variable (it also seals the ceremony's seed file)",
    )
    a.add_argument(
        "--share-passphrase-env",
        metavar="VAR",
        help="the new share file's passphrase from this variable (default: typed twice when "
        "the share is written)",
    )
    _poll_options(a, "keep polling while waiting for other trustees", 5.0)

    _exchange_options(
        action(
            "status",
            cmd_status,
            "anyone: per round, which trustees have posted and which are missing; the culprits "
            "if aborted",
        )
    )

    a = action(
        "verify",
        cmd_verify,
        "anyone (the organizer): check the whole ceremony and write its record, public context "
        "and evaluation keys; names the culprits if aborted",
    )
    _exchange_options(a)
    a.add_argument(
        "--out",
        required=True,
        metavar="O",
        help="folder for ceremony.record, public.ctx, evaluation.keys",
    )
    _poll_options(a, "first wait until every trustee has done its part (or it aborted)", 2.0)
    a.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds --wait waits at most (3600)"
    )

    dealer.add_deal(actions)
