"""What a trustee checks in the challenge's log before it answers (docs/design.md, "Following
the log").

The trustee's own copy of the log (``transparency/replica.LogReplica``) is the record it
decides by, not the service's word:

* a contribution only to a bundle the log holds;
* a decryption request only if the log holds that very request (its record's digest, round,
  circuit and inputs) and each input as a bundle of the right kind;
* a score only against the challenge's one labels bundle — a log with a second labels bundle
  gets no score at all — and only if the log holds no other score request for the same
  predictions (so each submission is scored once, whichever trustees the service asks).

Each rule raises :class:`~cryptoscore.errors.RefusedError` before any work.
"""

from __future__ import annotations

from cryptoscore.errors import RefusedError
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.transparency.replica import LogReplica

__all__ = ["check_contribution_logged", "check_request_logged"]

ROUND_OF = {"noise/v1": 1, "validity/v1": 1, "score/v1": 2}


def check_contribution_logged(log: LogReplica, bundle_digest: str) -> None:
    """A round-1 contribution is made only for a bundle the log holds."""
    if log.bundle_kind(bundle_digest) is None:
        raise RefusedError(
            f"bundle {bundle_digest[:16]}… is not in the challenge's log: no contribution"
        )


def check_request_logged(log: LogReplica, request: DecryptionRequest) -> None:
    """The log holds ``request`` itself and its inputs; a score is the only one of its
    predictions, against the challenge's only labels bundle."""
    digest = request.digest
    if not log.request_logged(digest, ROUND_OF[request.circuit], request.circuit, request.inputs):
        raise RefusedError(
            f"request {request.request_id} is not in the challenge's log: refusing to decrypt"
        )
    expected = ("predictions", "labels") if request.circuit == "score/v1" else (None,)
    for input_digest, kind in zip(request.inputs, expected, strict=False):
        logged = log.bundle_kind(input_digest)
        if logged is None or (kind is not None and logged != kind):
            raise RefusedError(
                f"input {input_digest[:16]}… is not in the challenge's log"
                + (f" as a {kind} bundle" if kind else "")
                + ": refusing to decrypt"
            )
    if request.circuit != "score/v1":
        return
    labels = log.bundles_of_kind("labels")
    if labels != [request.inputs[1]]:
        raise RefusedError(
            f"the challenge's log holds {len(labels)} labels bundles: a score is computed only "
            "against the challenge's one labels bundle"
        )
    scores = log.score_requests_of(request.inputs[0])
    if scores != {digest}:
        raise RefusedError(
            f"the log holds {len(scores)} score requests for predictions "
            f"{request.inputs[0][:16]}…: each submission is scored once"
        )
