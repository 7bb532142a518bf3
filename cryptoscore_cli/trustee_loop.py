"""``cryptoscore trustee run``: a trustee's loop against the service.

The rules a trustee answers by all live in the library's trustee agent
(``cryptoscore.trustee.agent.TrusteeAgent``): this module only gives it the service
(``ProtocolClient`` is its port), progress bars, and a loop that retries with backoff when
the service cannot be reached. Each pass it first takes part in the key ceremonies the
service relays for it (``ceremony_trustee.ServiceCeremonies``, when given); without a share
yet, it serves the first one it finishes. The key share and identity never leave this process.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptoscore.identity import TrusteeIdentity
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.trustee.agent import PassSummary, TrusteeAgent
from cryptoscore_cli.api import ApiError, ProtocolClient
from cryptoscore_cli.errors import CliError

if TYPE_CHECKING:
    from cryptoscore_cli.ceremony_trustee import ServiceCeremonies

IDLE_LINE_SECONDS = 60.0
"""A running loop with nothing to say for this long says that it is idle (at most this often)."""


@dataclass
class TrusteeLoop:
    client: ProtocolClient
    share: KeyShare | None
    """The share served; ``None`` until a ceremony (``ceremonies``) finishes one."""
    identity: TrusteeIdentity
    journal_path: Path
    say: Callable[[str], None] = print
    show_progress: bool = True
    clock: Callable[[], float] = time.monotonic
    roster_checked_in: Path | None = None
    """The ceremony record the identity was checked against before starting (``None``: each
    challenge's roster is checked instead, by the agent)."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set, :meth:`run` returns before its next pass (``demo --serve`` runs trustees in
    threads and stops them so)."""
    ceremonies: ServiceCeremonies | None = None
    """The key ceremonies this trustee takes part in, stepped first in each pass."""
    open_share: Callable[[Path], tuple[KeyShare, Path | None]] | None = None
    """A share file a ceremony finished → the share and the record checked against (to
    serve it when there was none)."""
    agent: TrusteeAgent | None = field(init=False, default=None)
    trustee_name: str | None = field(init=False, default=None)
    """The token's name (``/whoami``): the roster id ceremonies are listed by."""
    _last_line: float = field(init=False)
    """When this loop last said anything (``clock`` time): idle lines are spaced from it."""
    _last_work: float = field(init=False)
    """When this loop last said anything but an idle line."""
    _token_checked: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._last_line = self._last_work = self.clock()
        if self.share is not None:
            self.serve(self.share, self.roster_checked_in)

    def serve(self, share: KeyShare, checked_in: Path | None) -> None:
        """Answer tasks with ``share`` from now on (its identity checked against the roster
        of ``checked_in``)."""
        self.share = share
        self.roster_checked_in = checked_in
        self.agent = TrusteeAgent(
            share, self.identity, self.journal_path, say=self._say, progress=self.bar
        )

    def _say(self, line: str) -> None:
        self._last_line = self._last_work = self.clock()
        self.say(line)

    def _say_if_idle(self) -> None:
        now = self.clock()
        if now - self._last_line >= IDLE_LINE_SECONDS:
            self._last_line = now
            self.say(f"idle: nothing to answer for {(now - self._last_work) / 60:.0f} min")

    def start_line(self, interval: float) -> str:
        """Who serves what, where: printed once when ``trustee run`` starts."""
        share = self.share
        if share is None:
            return (
                f"trustee with no key share yet at {self.client.base}: taking part in the key "
                f"ceremonies that name it, polling every {interval:g} s; it serves the share "
                "of the first it finishes"
            )
        roster = self.roster_checked_in or "each challenge's ceremony record"
        return (
            f"trustee {share.trustee_id} serving {self.client.base}: key "
            f"{share.key_id[:16]}… ({share.params.ID}, {share.threshold} of n), polling every "
            f"{interval:g} s, journal {self.journal_path}; identity checked against {roster}"
        )

    def check_token(self) -> None:
        """Refuse to start unless the token is a trustee token named as the share's trustee
        (any trustee token while there is no share; its name is the roster id ceremonies are
        listed by) (``GET /whoami``): the service knows a trustee by its token's name. A
        service without that endpoint (404) only gets a note."""
        try:
            me = self.client.get_json("/whoami")
        except ApiError as exc:
            if exc.status != 404:
                raise
            self._say("note: the service cannot say whose token this is (no /whoami)")
            self._token_checked = True
            if self.share is not None:
                self.trustee_name = self.share.trustee_id
            return
        role, name = str(me.get("role")), str(me.get("name"))
        if self.share is None:
            if role != "trustee":
                raise CliError(f"the token is {role} {name}'s: use this trustee's token")
            self.trustee_name = name
            self._token_checked = True
            return
        self.trustee_name = name
        if role != "trustee" or name != self.share.trustee_id:
            raise CliError(
                f"the token is {role} {name}'s, but the share is trustee "
                f"{self.share.trustee_id}'s: use the trustee token named {self.share.trustee_id}"
            )
        self._token_checked = True

    @contextlib.contextmanager
    def bar(self, total: int, desc: str, unit: str) -> Iterator[Callable[[int], None]]:
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
        (:func:`unavailable`) ends it: :meth:`run` retries with backoff. The ceremonies come
        first (:attr:`ceremonies`); a share one finishes is served at once if there was none.
        """
        if self.ceremonies is not None and self.trustee_name is not None:
            for path in self.ceremonies.run_once(self.client, self.trustee_name):
                if self.share is None and self.open_share is not None:
                    share, checked_in = self.open_share(path)
                    self.serve(share, checked_in)
                    self._say(f"serving the share {path} (key {share.key_id[:16]}…)")
                else:
                    self._say(f"finished {path}: `trustee run --share {path}` serves it")
        if self.agent is None:
            return 0
        return self.agent.run_once(self.client, refused_by_service)

    def last_pass(self) -> PassSummary:
        return self.agent.last_pass if self.agent is not None else PassSummary()

    def run(
        self, once: bool, interval: float = 2.0, *, max_backoff: float = 60.0, passes: int = 0
    ) -> None:
        """Say what serves what (:meth:`start_line`), check the token (:meth:`check_token`),
        then serve until interrupted (``once``: one pass, errors raised, then a summary line).
        After a pass the service could not complete (:func:`unavailable`), wait twice as long
        as the last time, up to ``max_backoff`` seconds; after a good pass, ``interval`` again.
        With nothing said for :data:`IDLE_LINE_SECONDS`, say so. ``passes`` > 0 stops after
        that many passes (tests); :attr:`stop`, once set, before the next one."""
        self._say(self.start_line(interval))
        delay = interval
        done = 0
        while not self.stop.is_set():
            try:
                if not self._token_checked:
                    self.check_token()
                self.run_once()
                delay = interval
            except ApiError as exc:
                if once or not unavailable(exc):
                    raise
                delay = min(max_backoff, 2 * delay)
                self._say(f"service unavailable ({exc}); retrying in {delay:g} s")
            done += 1
            if once:
                summary = self.last_pass()
                self._say(
                    f"one pass: {summary.answered} answered, {summary.refused} refused, "
                    f"{summary.skipped} skipped by the service"
                )
                return
            if passes and done >= passes:
                return
            self._say_if_idle()
            time.sleep(delay)


def unavailable(exc: ApiError) -> bool:
    """The service could not be reached or could not answer (connection lost, 5xx): worth a
    retry later, unlike a 4xx about one task."""
    return exc.status == 0 or exc.status >= 500


def refused_by_service(exc: Exception) -> bool:
    """A 4xx about one task: skip that task, keep serving."""
    return isinstance(exc, ApiError) and not unavailable(exc)
