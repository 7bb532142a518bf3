"""``cryptoscore trustee run``: a trustee's loop against the service.

Each pass: fetch the tasks that await this trustee; answer pad requests (its share of each
pad, encrypted to the submitter, once per seed — ``cryptoscore.threshold.pad_shares``); contribute
fresh round-1 randomness where asked; for every decryption request, download the named inputs,
**recompute the ciphertext with the challenge's published circuit** — and, for a validity or score
request, first check the bundles' round 1 from the signed partials
(``cryptoscore.protocol.recompute.check_round1``) — and answer, once per ciphertext, per the
journal, with a smudged, signed partial (``cryptoscore.protocol.answer.answer_request``); a request
for anything else is refused and reported. Every answer is kept in the outbox until the service has
it (``cryptoscore.protocol.outbox``): one lost in transit is re-sent, as the same bytes, on the next
pass. The key share and identity never leave this process."""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cryptoscore.errors import CryptoScoreError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.answer import answer_pad_request, answer_request
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import contribute
from cryptoscore.protocol.outbox import Outbox
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence, evidence_needed
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadShare
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore_cli.api import ApiError, ProtocolClient


def _decryption_request(task: dict[str, str]) -> DecryptionRequest:
    try:
        raw = base64.b64decode(task["request"], validate=True)
    except (ValueError, KeyError):
        raise CryptoScoreError("the decryption request task is malformed") from None
    return DecryptionRequest.from_bytes(raw)


@dataclass
class TrusteeLoop:
    client: ProtocolClient
    trustee_id: str
    share: KeyShare
    identity: TrusteeIdentity
    journal_path: Path
    say: Callable[[str], None] = print
    show_progress: bool = True
    _contexts: dict[str, ChallengeContext] = field(default_factory=dict)
    _bundles: dict[str, EncryptedBundle] = field(default_factory=dict)
    _verified: set[tuple[str, bool]] = field(default_factory=set)
    _journal: PartialJournal | None = None

    _outbox: Outbox | None = None

    @property
    def journal(self) -> PartialJournal:
        """The journal, opened once: each check then reads only the lines appended since."""
        if self._journal is None:
            self._journal = PartialJournal(self.journal_path)
        return self._journal

    @property
    def outbox(self) -> Outbox:
        """Answers not yet acknowledged, beside the journal (``cryptoscore.protocol.outbox``)."""
        if self._outbox is None:
            self._outbox = Outbox(Path(f"{self.journal_path}.outbox"))
        return self._outbox

    def _deliver(self, key: str, data: bytes, post: Callable[[bytes], Any]) -> None:
        """Keep the answer, send it, forget it once the service has it. A lost connection
        keeps it for the next pass (re-sent as the same bytes); a refusal drops it."""
        if self.outbox.get(key) != data:
            self.outbox.put(key, data)
        try:
            post(data)
        except ApiError as exc:
            if not unavailable(exc):
                self.outbox.remove(key)
            raise
        self.outbox.remove(key)

    def context(self, challenge_id: str) -> ChallengeContext:
        if challenge_id not in self._contexts:
            info = self.client.challenge(challenge_id)
            record = CeremonyRecord.from_bytes(self.client.ceremony_record(challenge_id))
            if record.key_id != self.share.key_id:
                raise CryptoScoreError(f"challenge {challenge_id} uses another key than my share")
            self._contexts[challenge_id] = ChallengeContext(
                challenge_id,
                record,
                PublicContext.from_bytes(self.client.public_context(challenge_id)),
                EvaluationKeys.from_bytes(self.client.evaluation_keys(challenge_id)),
                ReleasePolicy.from_json(
                    {key: info["policy"][key] for key in ("classes", "metrics")}
                ),
                int(info["n_items"]),
            )
        return self._contexts[challenge_id]

    def bundle(self, challenge_id: str, digest: str) -> EncryptedBundle:
        if digest not in self._bundles:
            found = EncryptedBundle.from_bytes(self.client.bundle(challenge_id, digest))
            if found.digest != digest:
                raise CryptoScoreError("the service sent a bundle that does not match its hash")
            self._bundles[digest] = found
        return self._bundles[digest]

    def run_once(self) -> int:
        """One pass over the pending tasks; returns how many were answered.

        A task the library refuses is reported and skipped ("refused …"); a task the service
        answers with a 4xx (a race with another trustee, a round already closed) is reported
        and skipped too ("skipped …"): neither stops the pass. A lost connection or a 5xx
        (:func:`unavailable`) ends it: :meth:`run` retries with backoff.
        """
        tasks = self.client.trustee_tasks()
        done = 0
        for task in tasks.get("pads", []):
            label = f"pads {str(task.get('request', '?'))[:16]}"
            done += self._skipping(label, self._answer_pads, task)
        for task in tasks.get("contributions", []):
            label = f"contribution {str(task.get('bundle', '?'))[:16]}"
            done += self._skipping(label, self._contribute, task)
        for task in tasks.get("requests", []):
            label = str(task.get("request_id", "?"))[:40]
            done += self._skipping(label, self._answer_request, task)
        return done

    def _skipping(
        self, label: str, answer: Callable[[dict[str, str]], int], task: dict[str, str]
    ) -> int:
        try:
            return answer(task)
        except CryptoScoreError as exc:
            self.say(f"refused {label}: {exc}")
        except ApiError as exc:
            if unavailable(exc):
                raise
            self.say(f"skipped {label}: {exc}")
        return 0

    def _contribute(self, task: dict[str, str]) -> int:
        context = self.context(task["challenge"])
        c = contribute(context, self.trustee_id)
        self.client.contribute(task["challenge"], task["bundle"], c.randomness)
        return 1

    def _answer_request(self, task: dict[str, str]) -> int:
        request = _decryption_request(task)
        key = f"partial:{request.request_id}"
        kept = self.outbox.get(key)
        if kept is not None:  # answered before, but the service never acknowledged it
            earlier = PartialDecryption.from_bytes(kept)
            if (earlier.ciphertext_digest, earlier.active_set) != (
                request.ciphertext_digest,
                request.active_set,
            ):
                raise CryptoScoreError(
                    "the service now asks this request for another ciphertext or active set "
                    "than the one this trustee answered"
                )
            self._deliver(key, kept, self.client.post_partial)
            self.say(f"re-sent {request.request_id}")
            return 1
        context = self.context(request.challenge_id)
        bundles = {d: self.bundle(request.challenge_id, d) for d in request.inputs}
        evidence = {
            d: Round1Evidence.from_json(self.client.round1_evidence(request.challenge_id, d))
            for d in evidence_needed(request)
        }
        chunks = bundles[request.inputs[0]].layout.chunks
        with self._bar(chunks, f"recomputing {request.request_id}", "chunk") as bar:
            partial = answer_request(
                request,
                context,
                bundles,
                self.share,
                self.identity,
                self.journal,
                evidence=evidence,
                verified=self._verified,
                progress=lambda done: bar.update(done - bar.n),
            )
        self._deliver(key, partial.to_bytes(), self.client.post_partial)
        self.say(f"answered {request.request_id}")
        return 1

    def _bar(self, total: int, desc: str, unit: str) -> Any:
        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            disable=not self.show_progress,
            file=sys.stderr,
            leave=False,
            delay=0.5,
        )

    def _answer_pads(self, task: dict[str, str]) -> int:
        try:
            request = PadRequest.from_bytes(base64.b64decode(task["record"], validate=True))
        except (ValueError, KeyError):  # not base64, or no record: as malformed as it gets
            raise CryptoScoreError("the pad request task is malformed") from None
        if request.digest != task["request"]:
            raise CryptoScoreError("the pad request does not match its digest")
        label = f"pads {request.digest[:16]}"
        key = f"pad:{request.digest}"
        kept = self.outbox.get(key)
        if kept is not None:  # answered before, but the service never acknowledged it
            if PadShare.from_bytes(kept).request_digest != request.digest:
                raise CryptoScoreError("the kept pad share answers another request")
            self._deliver(key, kept, self.client.post_pad_share)
            self.say(f"re-sent {label}")
            return 1
        context = self.context(request.challenge_id)
        with self._bar(request.count, label, "pad") as bar:
            share = answer_pad_request(
                request,
                context,
                self.share,
                self.identity,
                self.journal,
                progress=lambda done: bar.update(done - bar.n),
            )
        self._deliver(key, share.to_bytes(), self.client.post_pad_share)
        self.say(f"answered {label}")
        return 1

    def run(
        self, once: bool, interval: float = 2.0, *, max_backoff: float = 60.0, passes: int = 0
    ) -> None:
        """Serve until interrupted (``once``: one pass, errors raised). After a pass the
        service could not complete (:func:`unavailable`), wait twice as long as the last time,
        up to ``max_backoff`` seconds; after a good pass, ``interval`` again. ``passes`` > 0
        stops after that many passes (tests)."""
        delay = interval
        done = 0
        while True:
            try:
                self.run_once()
                delay = interval
            except ApiError as exc:
                if once or not unavailable(exc):
                    raise
                delay = min(max_backoff, 2 * delay)
                self.say(f"service unavailable ({exc}); retrying in {delay:g} s")
            done += 1
            if once or (passes and done >= passes):
                return
            time.sleep(delay)


def unavailable(exc: ApiError) -> bool:
    """The service could not be reached or could not answer (connection lost, 5xx): worth a
    retry later, unlike a 4xx about one task."""
    return exc.status == 0 or exc.status >= 500
