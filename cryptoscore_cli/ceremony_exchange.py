"""How the messages of a dealerless key ceremony travel between its parties.

A :class:`CeremonyExchange` is what a trustee (``ceremony step``, ``trustee run``) and anyone
checking (``ceremony status``, ``ceremony verify``) need of the medium: the plan's bytes, every
message posted so far (in round order), and posting one. It checks nothing: every message is
parsed and checked by the library against the plan (``threshold/dkg``), so a medium can lose
or delay a message but not forge one. Two media:

* :class:`FolderExchange` — a folder, for air-gapped trustees: ``plan.bin`` and one file per
  message, ``<round>-<kind>-<trustee_id>.msg``, carried between machines by hand (a USB stick);
  each written atomically (a temporary file, then a rename), never overwritten by a different
  one (so two different messages of one trustee in one round cannot both be in a folder);
  any other file is ignored;
* ``cryptoscore_cli.api.ServiceCeremonyExchange`` — the service's relay (``/api/v1/ceremonies``).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Protocol

from cryptoscore_cli.errors import CliError

__all__ = ["MESSAGE_FILE", "PLAN_FILE", "CeremonyExchange", "FolderExchange", "message_file_name"]

PLAN_FILE = "plan.bin"
MESSAGE_FILE = re.compile(r"^(\d{1,2})-([a-z]{1,16})-([a-z0-9][a-z0-9._-]{0,63})\.msg$")
"""A message's file in a folder exchange: round, kind and sender (a roster id)."""


class CeremonyExchange(Protocol):
    """The medium of one ceremony (module docstring)."""

    def plan(self) -> bytes:
        """The plan's bytes (``CeremonyPlan.to_bytes()``)."""
        ...

    def messages(self) -> list[bytes]:
        """Every message posted so far, each as signed (``SignedMessage.to_bytes()``), the
        earlier rounds first."""
        ...

    def post(self, raw: bytes) -> None:
        """Post one of this party's messages; posting the same bytes again is a no-op."""
        ...


def message_file_name(round_: int, kind: str, trustee_id: str) -> str:
    return f"{round_}-{kind}-{trustee_id}.msg"


class FolderExchange:
    """A ceremony's messages as files in one folder (module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FolderExchange({str(self.folder)!r})"

    def plan(self) -> bytes:
        path = self.folder / PLAN_FILE
        try:
            return path.read_bytes()
        except OSError as exc:
            raise CliError(
                f"cannot read {path} ({exc.strerror}): is {self.folder} the ceremony's folder "
                "(`ceremony plan --dir` writes it)?"
            ) from None

    def write_plan(self, raw: bytes) -> None:
        """The organizer's plan, into a new folder (or one holding this very plan)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {self.folder}: {exc.strerror}") from None
        self._write_once(self.folder / PLAN_FILE, raw, "another ceremony's plan")

    def files(self) -> list[Path]:
        """The message files, earlier rounds first (anything else in the folder is ignored)."""
        try:
            names = os.listdir(self.folder)
        except OSError as exc:
            raise CliError(f"cannot list {self.folder}: {exc.strerror}") from None
        found = []
        for name in names:
            m = MESSAGE_FILE.match(name)
            if m and (self.folder / name).is_file():
                found.append((int(m.group(1)), name))
        return [self.folder / name for _, name in sorted(found)]

    def messages(self) -> list[bytes]:
        out = []
        for path in self.files():
            try:
                out.append(path.read_bytes())
            except OSError as exc:
                raise CliError(f"cannot read {path}: {exc.strerror}") from None
        return out

    def post(self, raw: bytes) -> None:
        from cryptoscore.threshold.dkg.messages import SignedMessage
        from cryptoscore.threshold.dkg.plan import CeremonyPlan

        message = SignedMessage.from_bytes(raw, CeremonyPlan.from_bytes(self.plan()))
        name = message_file_name(message.round, message.kind, message.trustee_id)
        self._write_once(
            self.folder / name,
            raw,
            f"a different {message.kind} of {message.trustee_id} (two different messages of "
            "one trustee in one round are refused: equivocation)",
        )

    def path_of(self, round_: int, kind: str, trustee_id: str) -> Path:
        return self.folder / message_file_name(round_, kind, trustee_id)

    @staticmethod
    def _write_once(target: Path, data: bytes, other: str) -> None:
        """Write ``data`` to ``target`` atomically unless it is there already; refuse (naming
        ``other``) a different file there. A hard link publishes the temporary file only if
        the name is free (atomic); where links are not supported (FAT), a rename after a
        check."""
        if target.exists():
            if target.read_bytes() == data:
                return
            raise CliError(f"{target} holds {other}: refusing to overwrite it")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                if target.read_bytes() != data:
                    raise CliError(f"{target} holds {other}: refusing to overwrite it") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
                    raise
                os.replace(tmp, target)
        except OSError as exc:
            raise CliError(f"cannot write {target}: {exc.strerror}") from None
        finally:
            tmp.unlink(missing_ok=True)
