"""The crash tests' failpoint fires once, at the commit of the job it is armed for, and
never at another job's commit (``cryptoscore_server/failpoints.py``)."""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from cryptoscore_server import failpoints


class Killed(Exception):
    pass


@pytest.fixture
def armed(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYPTOSCORE_FAILPOINTS", "round1_finish")
    monkeypatch.setenv("CRYPTOSCORE_FAILPOINT_DIR", str(tmp_path))
    kills: list[int] = []

    def kill(_pid: int, sig: int) -> None:
        kills.append(sig)
        raise Killed

    monkeypatch.setattr(failpoints.os, "kill", kill)
    return tmp_path, kills


def test_a_job_that_commits_nothing_leaves_it_armed_and_kills_no_one_else(armed):
    folder, kills = armed
    with Session(create_engine("sqlite://")) as session:
        with failpoints.failpoint("round1_finish", session):
            pass  # the step was not ready: no commit
        assert not (folder / "failpoint-round1_finish").exists()
        session.commit()  # a later commit of the same session (another job's): no kill
        assert kills == []
        with pytest.raises(Killed), failpoints.failpoint("round1_finish", session):
            session.commit()  # the job's next run commits its work: killed there
        assert kills == [signal.SIGKILL]
        assert (folder / "failpoint-round1_finish").exists()
        with failpoints.failpoint("round1_finish", session):
            session.commit()  # fired once: the restarted server runs the job to the end
        assert kills == [signal.SIGKILL]


def test_other_jobs_and_unarmed_processes_are_untouched(armed, monkeypatch):
    folder, kills = armed
    with Session(create_engine("sqlite://")) as session:
        with failpoints.failpoint("round2_start", session):
            session.commit()
        monkeypatch.delenv("CRYPTOSCORE_FAILPOINTS")
        with failpoints.failpoint("round1_finish", session):
            session.commit()
    assert kills == [] and list(folder.iterdir()) == []
