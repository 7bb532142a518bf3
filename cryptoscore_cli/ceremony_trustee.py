"""A trustee's part in one dealerless ceremony, from its home folder: ``ceremony step`` and
``trustee run`` drive it.

Thin: what is due and every message come from the library's ``threshold.dkg.session.step``.
This module keeps the trustee's files in its home, ``<id16>`` being the ceremony id's first
16 hex digits:

* ``ceremony-<id16>.seed`` — the trustee's ceremony seed and how far it got (``SeedFile``),
  sealed with the identity's passphrase; created on first use (the seed from the OS CSPRNG);
  the new state is written before any message that depends on it is posted (a completion, a
  reveal), and messages are deterministic from the seed, so posting again after a crash is
  harmless;
* ``share-<id16>.bin`` — the key share once finished (the usual share file, sealed with the
  share passphrase) and ``ceremony-<id16>.record`` beside it, the ceremony's public record;
* ``ceremony-<id16>.messages/`` — over the service, every message downloaded, by digest (each
  checked against its digest when read back): a restarted trustee does not download the
  other trustees' contributions again (up to ~1.2 GB at bfv-16384 with 10 trustees).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptoscore.errors import CryptoScoreError
from cryptoscore_cli.ceremony_exchange import CeremonyExchange
from cryptoscore_cli.commands.common import write_file
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore.identity import Identity
    from cryptoscore.threshold.dkg.plan import CeremonyPlan
    from cryptoscore.threshold.dkg.session import StepOutcome
    from cryptoscore.threshold.dkg.transcript import Transcript

__all__ = [
    "CeremonyTrustee",
    "build_transcript",
    "culprit_lines",
    "finished_shares",
    "record_file",
    "seed_file",
    "share_file",
]

Bar = Callable[[int, str, str], AbstractContextManager[Callable[[int], None]]]
"""``bar(total, desc, unit)``: a progress bar, told the work done so far."""


def short_id(plan_digest: str) -> str:
    return plan_digest[:16]


def seed_file(home: Path, ceremony_id: str) -> Path:
    return home / f"ceremony-{short_id(ceremony_id)}.seed"


def share_file(home: Path, ceremony_id: str) -> Path:
    return home / f"share-{short_id(ceremony_id)}.bin"


def record_file(home: Path, ceremony_id: str) -> Path:
    return home / f"ceremony-{short_id(ceremony_id)}.record"


def message_cache(home: Path, ceremony_id: str) -> Path:
    return home / f"ceremony-{short_id(ceremony_id)}.messages"


def finished_shares(home: Path) -> list[Path]:
    """The share files in ``home`` a ceremony finished (its record beside it: ``share-X.bin``
    with ``ceremony-X.record``), newest first."""
    found = [
        p
        for p in home.glob("share-*.bin")
        if p.with_name(f"ceremony-{p.name[len('share-') : -len('.bin')]}.record").is_file()
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def culprit_lines(culprits: Mapping[str, str] | Any) -> list[str]:
    """One line a culprit (trustee id → what it did)."""
    if isinstance(culprits, Mapping):
        return [f"{tid}: {reason}" for tid, reason in culprits.items()]
    return [str(c) for c in culprits or ()]


class TranscriptBuilder:
    """The transcript of an exchange, kept between reads: each message is checked and added
    once (by its bytes' hash); a message the library refuses is named in one line."""

    def __init__(self, plan: CeremonyPlan) -> None:
        from cryptoscore.threshold.dkg.transcript import Transcript

        self.transcript: Transcript = Transcript(plan)
        self._seen: set[bytes] = set()

    def update(self, messages: list[bytes]) -> Transcript:
        for raw in messages:
            key = hashlib.sha256(raw).digest()
            if key in self._seen:
                continue
            try:
                self.transcript.add(raw)
            except CryptoScoreError as exc:
                raise CliError(f"refused a ceremony message ({_about(raw)}): {exc}") from None
            self._seen.add(key)
        return self.transcript


def _about(raw: bytes) -> str:
    """What an unverified message says it is (kind and sender), for an error line."""
    from cryptoscore.envelope import unpack_record
    from cryptoscore.threshold.dkg.messages import MESSAGE_MAGIC, SIGNATURE_BYTES

    try:
        header, _ = unpack_record(
            bytes(raw[:-SIGNATURE_BYTES]), MESSAGE_MAGIC, _version(raw), "ceremony message"
        )
        return f"a {header.get('kind')} said to be from {header.get('trustee_id')}"
    except (CryptoScoreError, ValueError, IndexError):
        return f"{len(raw)} bytes, not a ceremony message"


def _version(raw: bytes) -> int:
    from cryptoscore.envelope import known_version
    from cryptoscore.threshold.dkg.messages import LEGACY_MESSAGE_VERSION, MESSAGE_VERSION

    return known_version(raw, (MESSAGE_VERSION, LEGACY_MESSAGE_VERSION))


def build_transcript(plan: CeremonyPlan, messages: list[bytes]) -> Transcript:
    return TranscriptBuilder(plan).update(messages)


@dataclass
class CeremonyTrustee:
    """This trustee (``identity``, whose key the roster names) in the ceremony of ``exchange``,
    with its files in ``home`` (module docstring)."""

    home: Path
    exchange: CeremonyExchange
    identity: Identity
    identity_passphrase: bytes
    share_passphrase: Callable[[], bytes]
    """The share file's passphrase, asked only when the share is to be written."""
    say: Callable[[str], None] = print
    bar: Bar | None = None
    plan: CeremonyPlan = field(init=False)
    trustee_id: str = field(init=False)
    _builder: TranscriptBuilder = field(init=False)

    def __post_init__(self) -> None:
        from cryptoscore.threshold.dkg.plan import CeremonyPlan

        self.plan = CeremonyPlan.from_bytes(self.exchange.plan())
        mine = [e for e in self.plan.roster if e.public_key == self.identity.public_key]
        if not mine:
            raise CliError(
                f"{self.home}/identity.pem is not on the roster of ceremony "
                f"{self.plan.digest[:16]}… ({', '.join(e.trustee_id for e in self.plan.roster)})"
            )
        self.trustee_id = mine[0].trustee_id
        self._builder = TranscriptBuilder(self.plan)

    @property
    def ceremony_id(self) -> str:
        return self.plan.digest

    @property
    def seed_path(self) -> Path:
        return seed_file(self.home, self.ceremony_id)

    @property
    def share_path(self) -> Path:
        return share_file(self.home, self.ceremony_id)

    @property
    def record_path(self) -> Path:
        return record_file(self.home, self.ceremony_id)

    # -- the seed file --------------------------------------------------------------------
    def seed(self) -> Any:
        """The seed file (opened, or created from the OS CSPRNG and written first)."""
        from cryptoscore.threshold.dkg.seed_file import SeedFile

        path = self.seed_path
        if not path.exists():
            created = SeedFile.new(self.plan, self.trustee_id, rng=os.urandom)
            self._save(created)
            return created
        try:
            opened = SeedFile.open(path.read_bytes(), self.identity_passphrase)
            opened.check_plan(self.plan)
        except CryptoScoreError as exc:
            raise CliError(f"{path}: {exc}") from None
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from None
        if opened.trustee_id != self.trustee_id:
            raise CliError(f"{path} is the seed of {opened.trustee_id}, not {self.trustee_id}")
        return opened

    def _save(self, seed: Any) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {self.home}: {exc.strerror}") from None
        write_file(
            str(self.seed_path), seed.seal(self.identity_passphrase, rng=os.urandom), private=True
        )

    # -- stepping -------------------------------------------------------------------------
    def status(self) -> Any:
        """The seed file's state, without creating one (``None`` before the first step)."""
        return self.seed().status if self.seed_path.exists() else None

    def step_once(self) -> StepOutcome:
        """Read the exchange, do the one thing due now (post its message after saving the new
        state; write the share when finished) and return the outcome."""
        from cryptoscore.threshold.dkg.session import step

        seed = self.seed()
        transcript = self._builder.update(self.exchange.messages())
        with self._contribution_bar() as progress:
            outcome = step(
                self.plan,
                self.trustee_id,
                self.identity,
                seed.seed,
                seed.status,
                transcript,
                progress=progress,
            )
        if outcome.share is not None:
            self._write_share(outcome)
        if outcome.status != seed.status:
            self._save(seed.with_status(outcome.status))  # before any message it implies
        if outcome.message is not None:
            self.exchange.post(outcome.message.to_bytes())
        return outcome

    def run(
        self,
        *,
        wait: bool = False,
        interval: float = 5.0,
        stop: Callable[[], bool] = lambda: False,
    ) -> StepOutcome:
        """Step while something is due, saying each step's summary; return the last outcome
        (done, aborted, or waiting — unless ``wait``: then poll every ``interval`` seconds
        until done or aborted)."""
        last = ""
        while True:
            outcome = self.step_once()
            line = self.line(outcome)
            if line != last or outcome.message is not None:
                self.say(line)
                last = line
            if outcome.share is not None:
                self.say(f"wrote {self.share_path} (this trustee's share) and {self.record_path}")
            if outcome.message is not None:
                continue
            if outcome.due != "wait" or not wait or stop():
                return outcome
            time.sleep(interval)

    def line(self, outcome: StepOutcome) -> str:
        """What a step did, in one line: the message posted, the key finished on, else the
        library's summary (waiting for whom, done, aborted and why)."""
        from cryptoscore.threshold.dkg.messages import KINDS

        tid = self.trustee_id
        if outcome.message is not None:
            kind = outcome.message.kind
            said = f"{tid}: posted its {kind} (round {KINDS[kind]})"
            if kind == "completion":
                said += ": every check passed; it never reveals its seed from now on"
            elif kind == "reveal":
                said += f" — {outcome.summary}"
            return said
        if outcome.due == "finish" and outcome.record is not None:
            return f"{tid} finished: key {outcome.record.key_id[:16]}…"
        return outcome.summary

    @contextlib.contextmanager
    def _contribution_bar(self) -> Iterator[Callable[[int], None]]:
        """A bar that appears only if the step reports progress (the contribution)."""
        from cryptoscore.threshold.dkg.trustee import DkgTrustee

        with contextlib.ExitStack() as stack:
            shown: list[Callable[[int], None]] = []

            def progress(done: int) -> None:
                if self.bar is None:
                    return
                if not shown:
                    total = DkgTrustee.contribution_steps(self.plan)
                    shown.append(stack.enter_context(self.bar(total, "contribution", "step")))
                shown[0](done)

            yield progress

    def _write_share(self, outcome: StepOutcome) -> None:
        from cryptoscore.threshold.ceremony import write_share_file

        share = outcome.share
        assert share is not None
        try:
            blob = write_share_file(share, self.plan.n, self.share_passphrase(), rng=os.urandom)
        finally:
            share.residues(len(self.plan.params.DATA_PRIMES)).fill(0)
        write_file(str(self.share_path), blob, private=True)
        if outcome.record is not None:
            write_file(str(self.record_path), outcome.record.to_bytes())


@dataclass
class ServiceCeremonies:
    """``trustee run``'s part in the ceremonies the service relays: each pass, the ceremonies
    whose roster names this trustee, each unfinished one stepped as ``ceremony step`` would
    (:class:`CeremonyTrustee`, files in ``home``). A ceremony it finished, revealed in, or is
    not on the roster of (by its identity) is left alone for the rest of the run; a line is
    said when what a ceremony says changes."""

    home: Path
    identity: Identity
    identity_passphrase: bytes
    share_passphrase: Callable[[], bytes]
    exchange_for: Callable[[str], CeremonyExchange]
    say: Callable[[str], None] = print
    bar: Bar | None = None
    _trustees: dict[str, CeremonyTrustee] = field(default_factory=dict)
    _settled: set[str] = field(default_factory=set)
    _said: dict[str, str] = field(default_factory=dict)
    _relayed: bool = True

    def _say(self, ceremony_id: str, line: str) -> None:
        if self._said.get(ceremony_id) != line:
            self._said[ceremony_id] = line
            self.say(f"ceremony {short_id(ceremony_id)}…: {line}")

    def run_once(self, client: Any, trustee_name: str) -> list[Path]:
        """One pass; the share files finished in it. A lost service (``ApiError``, status 0
        or 5xx) ends the pass (the loop retries); anything else about one ceremony is said
        and that ceremony skipped."""
        from cryptoscore_cli.api import ApiError

        if not self._relayed:
            return []
        try:
            listed = client.list_ceremonies(trustee=trustee_name)
        except ApiError as exc:
            if exc.status != 404:
                raise
            self._relayed = False
            self.say("note: the service relays no key ceremonies (no /ceremonies)")
            return []
        finished = []
        for ceremony in listed:
            ceremony_id = str(ceremony["id"])
            if ceremony_id in self._settled:
                continue
            joined = seed_file(self.home, ceremony_id).exists()
            if ceremony.get("state") == "aborted" and not joined:
                self._settled.add(ceremony_id)  # aborted before this trustee took part
                continue
            try:
                done = self._step(ceremony_id)
            except ApiError as exc:
                if exc.status == 0 or exc.status >= 500:
                    raise
                self._say(ceremony_id, f"skipped: {exc}")
                continue
            except (CliError, CryptoScoreError) as exc:
                self._say(ceremony_id, f"refused: {exc}")
                continue
            if done is not None:
                finished.append(done)
        return finished

    def _step(self, ceremony_id: str) -> Path | None:
        from cryptoscore.threshold.dkg.session import SeedStatus

        trustee = self._trustees.get(ceremony_id)
        if trustee is None:
            try:
                trustee = CeremonyTrustee(
                    self.home,
                    self.exchange_for(ceremony_id),
                    self.identity,
                    self.identity_passphrase,
                    self.share_passphrase,
                    say=lambda line: self._say(ceremony_id, line),
                    bar=self.bar,
                )
            except CliError as exc:  # not on its roster (by key)
                self._settled.add(ceremony_id)
                self._say(ceremony_id, f"not taking part: {exc}")
                return None
            self._trustees[ceremony_id] = trustee
            if trustee.status() in (SeedStatus.FINISHED, SeedStatus.REVEALED):
                self._settled.add(ceremony_id)  # a run before this one got there
                return None
        outcome = trustee.run(wait=False)
        if outcome.due == "wait":
            return None
        self._settled.add(ceremony_id)
        if outcome.due == "aborted":
            for line in culprit_lines(outcome.culprits):
                self._say(ceremony_id, f"culprit {line}")
        if outcome.share is not None or trustee.share_path.exists():
            return trustee.share_path
        return None
