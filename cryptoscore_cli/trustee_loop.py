"""``cryptoscore trustee run``: a trustee's loop against the service.

The rules a trustee answers by all live in the library's trustee agent
(``cryptoscore.trustee.agent.TrusteeAgent``): this module only gives it the service
(``ProtocolClient`` is its port), progress bars, and a loop that retries with backoff when
the service cannot be reached. The key share and identity never leave this process.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptoscore.identity import TrusteeIdentity
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.trustee.agent import TrusteeAgent
from cryptoscore_cli.api import ApiError, ProtocolClient


@dataclass
class TrusteeLoop:
    client: ProtocolClient
    share: KeyShare
    identity: TrusteeIdentity
    journal_path: Path
    say: Callable[[str], None] = print
    show_progress: bool = True
    agent: TrusteeAgent = field(init=False)

    def __post_init__(self) -> None:
        self.agent = TrusteeAgent(
            self.share, self.identity, self.journal_path, say=self.say, progress=self._bar
        )

    @contextlib.contextmanager
    def _bar(self, total: int, desc: str, unit: str) -> Iterator[Callable[[int], None]]:
        from tqdm import tqdm  # the [cli] extra; ``cryptoscore_cli.main`` checks it is there

        with tqdm(
            total=total,
            desc=desc,
            unit=unit,
            disable=not self.show_progress,
            file=sys.stderr,
            leave=False,
            delay=0.5,
        ) as bar:

            def update(done: int) -> None:
                bar.update(done - bar.n)

            yield update

    def run_once(self) -> int:
        """One pass over the pending tasks; returns how many were answered.

        A task the library refuses is reported and skipped ("refused …"); a task the service
        answers with a 4xx (a race with another trustee, a round already closed) is reported
        and skipped too ("skipped …"): neither stops the pass. A lost connection or a 5xx
        (:func:`unavailable`) ends it: :meth:`run` retries with backoff.
        """
        return self.agent.run_once(self.client, refused_by_service)

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


def refused_by_service(exc: Exception) -> bool:
    """A 4xx about one task: skip that task, keep serving."""
    return isinstance(exc, ApiError) and not unavailable(exc)
