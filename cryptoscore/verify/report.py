"""What a check gives back: its result, the audit report of all of them, and the failure a
check raises to stop the run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class AuditReport:
    """Each check's result, and the work a live challenge has not finished yet.

    ``ok``: every check passed — nothing in the record is wrong. ``in_progress`` lists what is
    still under way (a bundle whose round 1 has no verdict yet, a request short of partials
    that nothing logged depends on, a valid submission not yet released); ``complete``: ok and
    nothing under way. Completeness is relaxed only where nothing logged depends on the
    missing work: every entry present is checked in full, and whatever a logged verdict or
    release rests on must be complete (docs/audit.md, "Work in progress")."""

    checks: list[CheckResult] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def complete(self) -> bool:
        return self.ok and not self.in_progress

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)


class CheckFailed(Exception):
    """The check ``name`` failed with ``detail``: the run stops there. ``name`` is not always
    the running check's: reading the zip fails ``manifest`` or ``log-integrity``, and a
    malformed contribution fails ``contributions-signed`` wherever it is read."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail
