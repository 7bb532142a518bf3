"""The trustee agent: the one code path by which a trustee answers anything.

A :class:`TrusteeAgent` holds one trustee's key share, identity, journal and outbox, and
answers three kinds of task, each checked by the challenge's rules before the share or the
journal is touched (docs/design.md, "The trustee agent"):

* a **pad request** (:meth:`TrusteeAgent.answer_pads`): its share of each pad, encrypted to
  the submitter, once per seed (``threshold/pad_shares.py``), only for a logged request its
  requester signed, within quota (``trustee/input_rules.py``);
* a **contribution** (:meth:`TrusteeAgent.contribute`): its signed round-1 randomness for a
  bundle, drawn once and kept in the journal, so the same bytes every time it is asked
  (``protocol/contributions.py``);
* a **decryption request** (:meth:`TrusteeAgent.answer`): the inputs recomputed with the
  published circuit, round 1 checked from the signed partials, its own contribution found in
  V's seed, then one smudged, signed partial per ciphertext (``protocol/answer.py``).

In-process callers (``cryptoscore.local``, tests) call those three directly. A trustee serving
a remote service calls :meth:`TrusteeAgent.run_once` with a :class:`TrusteePort`: it fetches the
pending tasks and their inputs, answers each, and delivers every answer through the outbox
(``protocol/outbox.py``), so one lost in transit is re-sent as the same bytes. A task the rules
refuse is reported (``say``, and to the service: ``TrusteePort.report_refusal``, so its owner
sees why) and skipped; so is one the service refuses; nothing else stops a pass except the
port failing (the caller retries).
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptoscore.errors import CryptoScoreError, FormatError, MismatchError, RefusedError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.answer import answer_pad_request, answer_request
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution, contribute
from cryptoscore.protocol.outbox import Outbox
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence, evidence_needed
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.randomness import Rng
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadShare
from cryptoscore.threshold.partial import LogView, PartialDecryption
from cryptoscore.transparency.log import SignedTreeHead
from cryptoscore.transparency.replica import LogReplica, replica_directory
from cryptoscore.trustee.input_rules import check_bundle_signed, check_pad_request_signed
from cryptoscore.trustee.log_rules import (
    check_contribution_logged,
    check_dp_budget,
    check_part_released,
    check_request_logged,
)

__all__ = [
    "PassSummary",
    "Progress",
    "TrusteeAgent",
    "TrusteePort",
    "challenge_context",
    "no_progress",
]


class TrusteePort(Protocol):
    """What a trustee needs from the service it serves (``cryptoscore_cli.api.ProtocolClient``
    over HTTP; a test client in tests). Every method may raise; the agent's ``skippable``
    predicate tells a refusal of one call (skip the task) from a lost service (end the pass).
    """

    def trustee_tasks(self) -> Any: ...
    def challenge(self, challenge_id: str) -> Any: ...
    def ceremony_record(self, challenge_id: str) -> bytes: ...
    def public_context(self, challenge_id: str) -> bytes: ...
    def evaluation_keys(self, challenge_id: str) -> bytes: ...
    def bundle(self, challenge_id: str, digest: str) -> bytes: ...
    def round1_evidence(self, challenge_id: str, digest: str) -> Any: ...
    def post_pad_share(self, share: bytes) -> Any: ...
    def post_contribution(self, contribution: bytes) -> Any: ...
    def post_partial(self, partial: bytes) -> Any: ...
    def log_entries(self, challenge_id: str, start: int) -> Any: ...
    def report_refusal(self, report: Mapping[str, str]) -> Any: ...


class LogSource(Protocol):
    """Where a trustee reads a challenge's log from: ``{"tree_head": head JSON, "entries":
    [canonical entry text, from index ``start`` on, up to the head's size or a page]}``."""

    def log_entries(self, challenge_id: str, start: int) -> Any: ...


Progress = Callable[[int, str, str], AbstractContextManager[Callable[[int], None]]]
"""``progress(total, description, unit)`` → a context giving ``update(done so far)``."""


@contextlib.contextmanager
def no_progress(_total: int, _desc: str, _unit: str) -> Iterator[Callable[[int], None]]:
    yield lambda _done: None


def challenge_context(port: TrusteePort, challenge_id: str) -> tuple[ChallengeContext, bytes]:
    """The challenge as the service publishes it — its description, ceremony record, public
    context and evaluation keys, each parsed and cross-checked (``ChallengeContext``) — and
    the public key its log is signed with."""
    info = port.challenge(challenge_id)
    try:
        policy = ReleasePolicy.from_json({k: info["policy"][k] for k in ("classes", "metrics")})
        n_items = int(info["n_items"])
        log_key = bytes.fromhex(str(info["log_key"]))
        rules = None if info.get("rules") is None else ChallengeRules.from_json(info["rules"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FormatError(f"the service's description of {challenge_id} is malformed") from None
    context = ChallengeContext(
        challenge_id,
        CeremonyRecord.from_bytes(port.ceremony_record(challenge_id)),
        PublicContext.from_bytes(port.public_context(challenge_id)),
        EvaluationKeys.from_bytes(port.evaluation_keys(challenge_id)),
        policy,
        n_items,
        rules,
    )
    return context, log_key


def _log_page(page: Any) -> tuple[SignedTreeHead, list[bytes]]:
    if not isinstance(page, Mapping) or not isinstance(page.get("entries"), list):
        raise FormatError("a log page is {tree_head, entries}")
    head = SignedTreeHead.from_json(page.get("tree_head"))
    entries = page["entries"]
    if not all(isinstance(e, str) for e in entries):
        raise FormatError("log entries are canonical JSON text")
    return head, [e.encode() for e in entries]


_Serve = Callable[[TrusteePort, Mapping[str, Any], Callable[[Exception], bool]], int]


def _view(log: LogReplica | None) -> LogView | None:
    """The head a partial names: the one this trustee verified last (docs/design.md,
    "Following the log")."""
    if log is None or log.head is None:
        return None
    return LogView(log.head.size, log.head.root)


def _b64(task: Mapping[str, Any], key: str, what: str) -> bytes:
    try:
        return base64.b64decode(str(task[key]), validate=True)
    except (ValueError, KeyError, TypeError):
        raise FormatError(f"the {what} task is malformed") from None


@dataclass(frozen=True)
class PassSummary:
    """What one :meth:`TrusteeAgent.run_once` pass did, task by task."""

    answered: int = 0
    refused: int = 0
    """Refused by this trustee's rules (and reported to the service)."""
    skipped: int = 0
    """Refused by the service (a 4xx about that one task)."""


@dataclass
class TrusteeAgent:
    """One trustee: its share, identity, journal and outbox, and the rules it answers by."""

    share: KeyShare
    identity: TrusteeIdentity
    journal_path: Path
    say: Callable[[str], None] = print
    progress: Progress = no_progress
    randomness: Rng = os.urandom
    """Where every draw of this trustee comes from — fresh contributions, pad-share sealing,
    smudging and noise-check masks (the OS CSPRNG; a fixed stream for known answers)."""
    clock: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    """This trustee's own clock (Unix ms): a log head from its future is refused, and a
    split's private part is decrypted only once it reads past the close."""
    follows_log: bool = True
    """Answer contributions and decryption requests only as the challenge's log allows
    (``trustee/log_rules.py``). Off only for unit tests of the cryptographic rules alone."""
    _contexts: dict[str, tuple[ChallengeContext, bytes]] = field(default_factory=dict, repr=False)
    _foreign: dict[str, str] = field(default_factory=dict, repr=False)
    """Challenges refused for their key, with the reason: a challenge's ceremony never
    changes, so its files are not downloaded again each pass only to be refused again."""
    last_pass: PassSummary = field(default_factory=PassSummary)
    """What the latest :meth:`run_once` did (``trustee run --once`` prints it)."""
    _logs: dict[str, LogReplica] = field(default_factory=dict, repr=False)
    _followed_this_pass: set[str] = field(default_factory=set, repr=False)
    """Challenges whose log this pass already caught up on (tasks are fetched first, and the
    service logs and signs what it offers before offering it, so once per pass suffices)."""
    _bundles: dict[str, EncryptedBundle] = field(default_factory=dict, repr=False)
    _verified: set[tuple[str, bool]] = field(default_factory=set, repr=False)
    """(bundle digest, validity too) pairs whose round 1 this trustee has checked."""
    _journal: PartialJournal | None = field(default=None, repr=False)
    _outbox: Outbox | None = field(default=None, repr=False)

    @property
    def trustee_id(self) -> str:
        return self.share.trustee_id

    @property
    def journal(self) -> PartialJournal:
        """Opened once: each check then reads only the lines appended since."""
        if self._journal is None:
            self._journal = PartialJournal(self.journal_path)
        return self._journal

    @property
    def outbox(self) -> Outbox:
        """Answers not yet acknowledged, beside the journal (``protocol/outbox.py``)."""
        if self._outbox is None:
            self._outbox = Outbox(Path(f"{self.journal_path}.outbox"))
        return self._outbox

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- the rules, task by task -----------------------------------------------------------
    def check_context(self, context: ChallengeContext) -> ChallengeContext:
        """Refuse a challenge of another key than this trustee's share, or whose roster names
        another public key for this trustee than its identity's."""
        if context.record.key_id != self.share.key_id:
            raise RefusedError(
                f"challenge {context.challenge_id} uses another key than this trustee's share"
            )
        if context.record.entry(self.trustee_id).public_key != self.identity.public_key:
            raise RefusedError(
                f"this trustee's identity is not the one the roster of challenge "
                f"{context.challenge_id} names for {self.trustee_id}"
            )
        return context

    def answer_pads(
        self,
        request: PadRequest,
        context: ChallengeContext,
        log: LogReplica | None = None,
        *,
        progress: Progress | None = None,
    ) -> PadShare:
        """This trustee's share of the pads ``request`` asks for, once per seed, if ``log``
        holds the request signed by an identity allowed to ask, within its quota."""
        self.check_context(context)
        followed = self._check_log(log)
        if followed is not None:
            check_pad_request_signed(followed, context, request)
        with (progress or self.progress)(
            request.count, f"pads {request.digest[:16]}", "pad"
        ) as bar:
            return answer_pad_request(
                request,
                context,
                self.share,
                self.identity,
                self.journal,
                progress=bar,
                rng=self.randomness,
            )

    def _check_log(self, log: LogReplica | None) -> LogReplica | None:
        if log is None and self.follows_log:
            raise RefusedError("this trustee answers only what it finds in the challenge's log")
        return log

    def contribute(
        self, context: ChallengeContext, bundle_digest: str, log: LogReplica | None = None
    ) -> Contribution:
        """This trustee's signed round-1 contribution to ``bundle_digest``, a bundle ``log``
        holds: the randomness is drawn once and kept in the journal, so asking again gives
        the same record."""
        self.check_context(context)
        followed = self._check_log(log)
        if followed is not None:
            check_contribution_logged(followed, bundle_digest)
            check_bundle_signed(followed, context, bundle_digest)
        return contribute(
            context,
            bundle_digest,
            self.trustee_id,
            self.identity,
            lambda n: self.journal.contribution(bundle_digest, lambda: self.randomness(n)),
        )

    def answer(
        self,
        request: DecryptionRequest,
        context: ChallengeContext,
        bundles: Mapping[str, EncryptedBundle],
        evidence: Mapping[str, Round1Evidence],
        log: LogReplica | None = None,
        *,
        progress: Progress | None = None,
    ) -> PartialDecryption:
        """This trustee's partial for ``request``: the log's rules (``trustee/log_rules.py``),
        then every rule of ``protocol/answer.py``."""
        self.check_context(context)
        followed = self._check_log(log)
        if followed is not None:
            check_request_logged(followed, request)
            check_part_released(
                followed, request, context.split, context.challenge_id, self.clock()
            )
            check_dp_budget(followed, request, context.dp)
            for digest in request.inputs:
                check_bundle_signed(followed, context, digest)
        chunks = bundles[request.inputs[0]].layout.chunks if request.inputs[0] in bundles else 0
        with (progress or self.progress)(
            chunks, f"recomputing {request.request_id}", "chunk"
        ) as bar:
            return answer_request(
                request,
                context,
                bundles,
                self.share,
                self.identity,
                self.journal,
                evidence=evidence,
                verified=self._verified,
                progress=bar,
                log_view=_view(followed),
                rng=self.randomness,
            )

    # -- following the log -----------------------------------------------------------------
    def follow(self, source: LogSource, challenge_id: str, log_key: bytes) -> LogReplica:
        """This trustee's copy of ``challenge_id``'s log, brought up to the service's latest
        head (``transparency/replica.py``: a head that does not extend it is refused)."""
        replica = self._logs.get(challenge_id)
        pending: list[bytes] = []
        while True:
            start = (replica.size if replica is not None else 0) + len(pending)
            head, entries = _log_page(source.log_entries(challenge_id, start))
            if replica is None:
                replica = LogReplica(
                    replica_directory(Path(f"{self.journal_path}.logs"), challenge_id),
                    head.log_id,
                    log_key,
                )
                if replica.size:  # opened from disk: ask again from where it stands
                    continue
            pending += entries
            if not entries or replica.size + len(pending) >= head.size:
                break
        pending = pending[: max(0, head.size - replica.size)]
        replica.accept(head, pending, now_ms=self.clock())
        self._logs[challenge_id] = replica
        return replica

    # -- serving a remote service ----------------------------------------------------------
    def context(self, port: TrusteePort, challenge_id: str) -> ChallengeContext:
        """The challenge, fetched once and checked (:meth:`check_context`); one of another key
        is refused, and remembered as refused."""
        if challenge_id in self._foreign:
            raise RefusedError(self._foreign[challenge_id])
        if challenge_id not in self._contexts:
            context, log_key = challenge_context(port, challenge_id)
            try:
                self.check_context(context)
            except RefusedError as exc:
                self._foreign[challenge_id] = str(exc)
                raise
            self._contexts[challenge_id] = (context, log_key)
        return self._contexts[challenge_id][0]

    def _followed(self, port: TrusteePort, challenge_id: str) -> LogReplica:
        self.context(port, challenge_id)
        if challenge_id in self._followed_this_pass:
            return self._logs[challenge_id]
        replica = self.follow(port, challenge_id, self._contexts[challenge_id][1])
        self._followed_this_pass.add(challenge_id)
        return replica

    def bundle(self, port: TrusteePort, challenge_id: str, digest: str) -> EncryptedBundle:
        if digest not in self._bundles:
            found = EncryptedBundle.from_bytes(port.bundle(challenge_id, digest))
            if found.digest != digest:
                raise MismatchError("the service sent a bundle that does not match its hash")
            self._bundles[digest] = found
        return self._bundles[digest]

    def run_once(self, port: TrusteePort, skippable: Callable[[Exception], bool]) -> int:
        """One pass over the tasks ``port`` has for this trustee; returns how many were
        answered. A task the rules refuse is reported ("refused …") and skipped; so is one
        the service refuses (``skippable(exc)``: "skipped …"). Anything else ends the pass."""
        self._followed_this_pass.clear()
        tasks = port.trustee_tasks()
        if not isinstance(tasks, Mapping):
            raise FormatError("the service's task list is not an object")
        kinds: list[tuple[str, _Serve, Callable[[Mapping[str, Any]], str]]] = [
            ("pads", self._serve_pads, lambda t: f"pads {str(t.get('request', '?'))[:16]}"),
            (
                "contributions",
                self._serve_contribution,
                lambda t: f"contribution {str(t.get('bundle', '?'))[:16]}",
            ),
            ("requests", self._serve_request, lambda t: str(t.get("request_id", "?"))[:40]),
        ]
        subject_of = {"pads": "request", "contributions": "bundle", "requests": "request_id"}
        done = refused = skipped = 0
        for kind, serve, name_of in kinds:
            for task in tasks.get(kind) or []:
                if not isinstance(task, Mapping):
                    self.say(f"refused {kind} task: not an object")
                    refused += 1
                    continue
                label = name_of(task)
                try:
                    done += serve(port, task, skippable)
                except CryptoScoreError as exc:
                    self.say(f"refused {label}: {exc}")
                    refused += 1
                    self._report(port, kind, task, subject_of[kind], exc, skippable)
                except Exception as exc:
                    if not skippable(exc):
                        raise
                    self.say(f"skipped {label}: {exc}")
                    skipped += 1
        self.last_pass = PassSummary(done, refused, skipped)
        return done

    def _report(
        self,
        port: TrusteePort,
        kind: str,
        task: Mapping[str, Any],
        subject_key: str,
        refusal: CryptoScoreError,
        skippable: Callable[[Exception], bool],
    ) -> None:
        """Tell the service why a task was refused (best effort: a service that refuses the
        report, or a malformed task, leaves the refusal in this trustee's own output)."""
        challenge, subject = task.get("challenge"), task.get(subject_key)
        if not isinstance(challenge, str) or not isinstance(subject, str):
            return
        reason = " ".join(str(refusal).split())[:500] or type(refusal).__name__
        report = {"challenge": challenge, "task": kind, "subject": subject[:128], "reason": reason}
        try:
            port.report_refusal(report)
        except Exception as exc:
            if not skippable(exc):
                raise
            self.say(f"could not report the refusal of {kind} {subject[:16]}: {exc}")

    def _deliver(
        self,
        key: str,
        data: bytes,
        post: Callable[[bytes], Any],
        skippable: Callable[[Exception], bool],
    ) -> None:
        """Keep the answer, send it, forget it once the service has it. A lost connection
        keeps it for the next pass (re-sent as the same bytes); a refusal drops it."""
        if self.outbox.get(key) != data:
            self.outbox.put(key, data)
        try:
            post(data)
        except Exception as exc:
            if skippable(exc):
                self.outbox.remove(key)
            raise
        self.outbox.remove(key)

    def _serve_pads(
        self, port: TrusteePort, task: Mapping[str, Any], skippable: Callable[[Exception], bool]
    ) -> int:
        request = PadRequest.from_bytes(_b64(task, "record", "pad request"))
        if request.digest != task.get("request"):
            raise MismatchError("the pad request does not match its digest")
        label = f"pads {request.digest[:16]}"
        key = f"pad:{request.digest}"
        kept = self.outbox.get(key)
        if kept is None:
            context = self.context(port, request.challenge_id)
            share = self.answer_pads(request, context, self._followed(port, request.challenge_id))
            kept = share.to_bytes()
            verb = "answered"
        else:  # answered before, but the service never acknowledged it
            if PadShare.from_bytes(kept).request_digest != request.digest:
                raise MismatchError("the kept pad share answers another request")
            verb = "re-sent"
        self._deliver(key, kept, port.post_pad_share, skippable)
        self.say(f"{verb} {label}")
        return 1

    def _serve_contribution(
        self, port: TrusteePort, task: Mapping[str, Any], skippable: Callable[[Exception], bool]
    ) -> int:
        challenge_id = str(task.get("challenge"))
        context = self.context(port, challenge_id)
        log = self._followed(port, challenge_id)
        contribution = self.contribute(context, str(task.get("bundle")), log)
        port.post_contribution(contribution.to_bytes())  # the same bytes if re-sent
        return 1

    def _serve_request(
        self, port: TrusteePort, task: Mapping[str, Any], skippable: Callable[[Exception], bool]
    ) -> int:
        request = DecryptionRequest.from_bytes(_b64(task, "request", "decryption request"))
        key = f"partial:{request.request_id}"
        kept = self.outbox.get(key)
        if kept is not None:  # answered before, but the service never acknowledged it
            earlier = PartialDecryption.from_bytes(kept)
            if (earlier.ciphertext_digest, earlier.active_set) != (
                request.ciphertext_digest,
                request.active_set,
            ):
                raise RefusedError(
                    "the service now asks this request for another ciphertext or active set "
                    "than the one this trustee answered"
                )
            self._deliver(key, kept, port.post_partial, skippable)
            self.say(f"re-sent {request.request_id}")
            return 1
        context = self.context(port, request.challenge_id)
        log = self._followed(port, request.challenge_id)
        check_request_logged(log, request)  # before downloading anything
        check_part_released(log, request, context.split, context.challenge_id, self.clock())
        check_dp_budget(log, request, context.dp)
        for digest in request.inputs:
            check_bundle_signed(log, context, digest)
        bundles = {d: self.bundle(port, request.challenge_id, d) for d in request.inputs}
        evidence = {
            d: Round1Evidence.from_json(port.round1_evidence(request.challenge_id, d))
            for d in evidence_needed(request)
        }
        partial = self.answer(request, context, bundles, evidence, log)
        self._deliver(key, partial.to_bytes(), port.post_partial, skippable)
        self.say(f"answered {request.request_id}")
        return 1
