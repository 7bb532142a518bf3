"""Cost of the dealerless key ceremony per trustee (``threshold/dkg/``), against the legacy
dealer ceremony (``threshold/ceremony.run_ceremony``):

    python -m benchmarks.ceremony [--params bfv-8192,bfv-16384] [--committees 3/5,7/10] [--json]

For each parameter set and t/n, one process plays every trustee (``DkgTrustee``) round by
round and times each trustee's each round separately: hello, contribution, response,
confirmation, completion and finish (its key share: every check again, its shares opened and
summed). Before each trustee's step the transcript's cache is emptied, so every trustee pays
for the public derivations it makes on its own machine (common polynomials, the RKG sums, the
key assembly, the ceremony test); "checks" is parsing and verifying every message of every
round once (what each trustee does with what it downloads). Bytes: each trustee sends its own
messages (once, to the relay) and receives everyone else's.

Printed per row: seconds per trustee per round (mean over the trustees), total per trustee
(compute + checks), bytes sent and received per trustee (mean), the whole ceremony's wall time
in this one process (sequential), an estimate with the trustees in parallel (Σ over rounds of
the slowest trustee, plus the checks), and the dealer ceremony's time (key generation,
Shamir sharing, sealing n share files) with the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from cryptoscore.identity import Identity
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.threshold.ceremony import RosterEntry, run_ceremony
from cryptoscore.threshold.dkg import ROUNDS, CeremonyPlan, DkgTrustee, Transcript, new_seed
from cryptoscore.threshold.dkg.sizes import message_bound

STEPS = (*ROUNDS, "finish")


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def dealerless(params: type[ParameterSet], t: int, n: int) -> dict[str, Any]:
    identities = {f"trustee-{i}": Identity.generate() for i in range(1, n + 1)}
    roster = [
        RosterEntry(tid, i, key.public_key) for i, (tid, key) in enumerate(identities.items(), 1)
    ]
    plan = CeremonyPlan.create(params, roster, t)
    trustees = [DkgTrustee(plan, tid, identities[tid], new_seed()) for tid in identities]
    transcript = Transcript(plan)
    seconds: dict[str, dict[str, float]] = {tid: {} for tid in identities}
    sent = dict.fromkeys(identities, 0)
    round_bytes = 0
    checks = 0.0
    wall_start = time.perf_counter()
    for kind in ROUNDS:
        out: list[bytes] = []
        for trustee in trustees:
            transcript._cache.clear()  # this trustee derives the public values on its own
            step: Callable[[], Any] = {
                "hello": trustee.hello,
                "contribution": lambda tr=trustee: tr.contribute(transcript),
                "response": lambda tr=trustee: tr.respond(transcript),
                "confirmation": lambda tr=trustee: tr.confirm(transcript),
                "completion": lambda tr=trustee: tr.complete(transcript),
            }[kind]
            message, elapsed = _timed(step)
            raw = message.to_bytes()
            del message
            seconds[trustee.trustee_id][kind] = elapsed
            sent[trustee.trustee_id] += len(raw)
            out.append(raw)
        round_bytes += sum(len(raw) for raw in out)
        start = time.perf_counter()
        for raw in out:
            transcript.add(raw)  # parse, check, verify the signature
        checks += time.perf_counter() - start
        del out
        gc.collect()
    for trustee in trustees:
        transcript._cache.clear()
        share, elapsed = _timed(lambda tr=trustee: tr.finish(transcript))
        share.residues(len(params.DATA_PRIMES)).fill(0)
        seconds[trustee.trustee_id]["finish"] = elapsed
    wall = time.perf_counter() - wall_start
    record = transcript.check_transcript()
    per_step = {s: sum(v[s] for v in seconds.values()) / n for s in STEPS}
    parallel = sum(max(v[s] for v in seconds.values()) for s in STEPS) + checks
    mean_sent = sum(sent.values()) / n
    return {
        "params": params.ID,
        "t": t,
        "n": n,
        "seconds_per_trustee": per_step,
        "checks_seconds": checks,
        "total_per_trustee_seconds": sum(per_step.values()) + checks,
        "bytes_sent_per_trustee": mean_sent,
        "bytes_received_per_trustee": round_bytes - mean_sent,
        "largest_message_bound": message_bound(params, n, t),
        "record_bytes": len(record.to_bytes()),
        "wall_seconds_one_process": wall,
        "wall_seconds_parallel_estimate": parallel,
    }


def dealer(params: type[ParameterSet], t: int, n: int) -> dict[str, Any]:
    identities = {f"trustee-{i}": Identity.generate() for i in range(1, n + 1)}
    roster = [
        RosterEntry(tid, i, key.public_key) for i, (tid, key) in enumerate(identities.items(), 1)
    ]
    passphrases = {tid: f"passphrase of {tid}".encode() for tid in identities}
    result, elapsed = _timed(lambda: run_ceremony(params, roster, t, passphrases))
    share_file = sum(len(f) for f in result.share_files.values()) / n
    return {"dealer_seconds": elapsed, "dealer_share_file_bytes": share_file}


def _mb(x: float) -> str:
    return f"{x / 1e6:.1f} MB"


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| params | t/n | "
        + " | ".join(STEPS)
        + " | checks | total/trustee | sent/trustee | received/trustee | wall (1 process) "
        "| wall (parallel est.) | dealer | ratio |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s = r["seconds_per_trustee"]
        lines.append(
            f"| {r['params']} | {r['t']}/{r['n']} | "
            + " | ".join(f"{s[k]:.2f}" for k in STEPS)
            + f" | {r['checks_seconds']:.2f} | {r['total_per_trustee_seconds']:.1f} s"
            f" | {_mb(r['bytes_sent_per_trustee'])} | {_mb(r['bytes_received_per_trustee'])}"
            f" | {r['wall_seconds_one_process']:.1f} s"
            f" | {r['wall_seconds_parallel_estimate']:.1f} s"
            f" | {r['dealer_seconds']:.1f} s | {r['ratio']:.1f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="bfv-8192,bfv-16384")
    parser.add_argument("--committees", default="3/5,7/10")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    rows = []
    for name in args.params.split(","):
        params = get_parameter_set(name)
        for committee in args.committees.split(","):
            t, n = (int(x) for x in committee.split("/"))
            row = dealerless(params, t, n) | dealer(params, t, n)
            row["ratio"] = row["wall_seconds_one_process"] / row["dealer_seconds"]
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{name} {t}/{n}: done", file=sys.stderr, flush=True)
    if not args.json:
        print(table(rows))


if __name__ == "__main__":
    main()
