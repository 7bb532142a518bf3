"""The README's service flow ("the whole flow a newcomer types"), executed as written.

Every command line of that ``sh`` block runs through ``bash`` in a temporary folder, in
order, against a live ``serve --print-admin-token`` (as ``make run`` starts it), with the
placeholders a newcomer fills in (the admin token, the ceremony id, the submission digest, the
log key) taken
from the output that shows them, and every passphrase typed at a pseudo-terminal, as a
newcomer types it. ``trustee run`` is kept running in the background for t1, t2 and t3 (as in
three other terminals); "likewise t2, t3" lines run for each trustee. The released numbers
(``submit --wait``, ``status``, ``leaderboard``, the leaderboard API) must equal the
plaintext's; the web page must be served; the audit must pass (exit 0).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_readme import _flow

ROOT = Path(__file__).resolve().parents[2]
TRUSTEES = ("t1", "t2", "t3")
PROMPT = re.compile(r"([^\n]*passphrase[^\n]*|again): $")


def _statements(flow: str) -> list[str]:
    """The block's command lines, in order: continuations joined, comments dropped, a
    here-document kept whole with its command; a line whose comment says "likewise t2, t3" or
    "and t2, t3" (and ``trustee run``: "each trustee") stands for the same line for each."""
    lines = flow.replace("\\\n", " ").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        code, _, comment = raw.partition(" #")
        if not code.strip() or code.lstrip().startswith("#"):
            continue
        if "<<EOF" in code:
            body = [code]
            while lines[i] != "EOF":
                body.append(lines[i])
                i += 1
            body.append(lines[i])
            i += 1
            out.append("\n".join(body))
            continue
        code = " ".join(code.split())
        if re.search(r"(likewise|and) t2, t3", comment) or code.startswith("$C trustee run"):
            assert "t1" in code, code
            out += [code.replace("t1", tid) for tid in TRUSTEES]
        else:
            out.append(code)
    return out


class Terminal:
    """One command line in ``bash``, at a pseudo-terminal: its output is collected, and each
    passphrase prompt is answered as its owner would type it."""

    def __init__(self, line: str, prefix: str, cwd: Path, env: dict[str, str]) -> None:
        self.line = line
        owner = re.search(r"--(?:out|home|identity) (\S+)", line)
        self.identity = f"passphrase of {owner.group(1) if owner else '?'}"
        # a share file's owner: the trustee of --share, else of --home (`trustee run` seals
        # the share its ceremony finishes there)
        share = re.search(r"--share \S*share-(\w+)\.bin", line) or re.search(r"--home (\w+)", line)
        self.share = f"share passphrase of {share.group(1) if share else '?'}"
        master, slave = os.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            ["bash", "-c", f"{prefix}\n{line}"],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.chunks: list[str] = []
        self.last_answer = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _answer(self, prompt: str) -> str:
        if prompt.endswith("again"):
            return self.last_answer
        if "identity passphrase" in prompt:
            return self.identity
        if m := re.search(r"share-file passphrase for (\w+)", prompt):
            return f"share passphrase of {m.group(1)}"
        if "share-file passphrase" in prompt:
            return self.share
        raise AssertionError(f"unexpected prompt {prompt!r} from {self.line}")

    def _read(self) -> None:
        pending = ""
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            text = data.decode(errors="replace")
            self.chunks.append(text)
            pending += text
            if m := PROMPT.search(pending):
                try:
                    self.last_answer = self._answer(m.group(1).strip())
                except AssertionError as exc:
                    self.chunks.append(f"\n[test: {exc}]\n")
                    self.stop()
                    break
                os.write(self.master, (self.last_answer + "\n").encode())
                pending = ""
            pending = pending[-500:]

    @property
    def output(self) -> str:
        return "".join(self.chunks).replace("\r\n", "\n")

    def wait(self, timeout: float) -> tuple[int, str]:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"{self.line}: still running after {timeout} s:\n{self.output}"
            ) from None
        self.reader.join(timeout=10)
        os.close(self.master)
        return rc, self.output

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


@pytest.mark.slow
def test_readme_service_flow_as_typed(tmp_path):
    flow = _flow()
    statements = _statements(flow)
    create = next(s for s in statements if s.startswith("$C challenge create"))
    n_items = int(re.search(r"--n-items (\d+)", create).group(1))
    classes = int(re.search(r"--classes (\d+)", create).group(1))
    challenge = re.search(r"--id (\S+)", create).group(1)
    window = [re.search(rf"--{w} (\S+)", create).group(1) for w in ("opens", "closes")]
    opens, closes = (datetime.fromisoformat(w.replace("Z", "+00:00")) for w in window)
    assert opens <= datetime.now(UTC) < closes, f"the README's challenge dates are stale: {window}"

    # what the newcomer brings: the labels and a model's predictions, one class a line
    gen = np.random.default_rng(4)
    labels = gen.integers(0, classes, n_items)
    predictions = np.where(gen.random(n_items) < 0.7, labels, gen.integers(0, classes, n_items))
    correct = int(np.count_nonzero(labels == predictions))
    errors = n_items - correct
    (tmp_path / "labels.csv").write_text("".join(f"{v}\n" for v in labels))
    (tmp_path / "predictions.csv").write_text("".join(f"{v}\n" for v in predictions))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRYPTOSCORE_", "PYTEST"))}
    env.update(PYTHONPATH=str(ROOT), LOG_REQUESTS="0", DATA_DIR=str(tmp_path / "data"))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    port = _free_port()
    cli = [sys.executable, "-m", "cryptoscore_cli.main"]
    started = time.monotonic()
    server = subprocess.Popen(
        [*cli, "serve", "--print-admin-token", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    background: list[Terminal] = []
    try:
        admin = None
        for line in server.stdout:
            if m := re.match(r"admin token \(shown once\): (\S+)", line):
                admin = m.group(1)
            if line.startswith("serving on"):
                break
        assert admin, "serve printed no admin token"
        threading.Thread(target=server.stdout.read, daemon=True).start()  # drain
        url = f"http://127.0.0.1:{port}"

        values = {"admin token": admin}
        prefix: list[str] = []
        digests: list[str] = []
        outputs: dict[str, str] = {}

        def fill(statement: str) -> str:
            def one(m: re.Match[str]) -> str:
                key = m.group(1)
                assert key in values, f"no earlier output shows <{key}>: {statement}"
                return values[key]

            return re.sub(r"<([^>\n]+)>", one, statement)

        for statement in statements:
            if statement.startswith("export "):
                line = fill(statement)
                assert (
                    re.search(r"CRYPTOSCORE_SERVER=(\S+)", line)
                    .group(1)
                    .startswith("http://127.0.0.1:")
                )
                line = re.sub(r"CRYPTOSCORE_SERVER=\S+", f"CRYPTOSCORE_SERVER={url}", line)
                prefix.append(line)
                continue
            if statement.startswith("C="):
                assert statement == "C=.venv/bin/cryptoscore", statement
                prefix.append(f"C={shlex.quote(shlex.join(cli))}")
                continue
            if statement.startswith("$C audit") and not statement.startswith("$C audit export"):
                # the audit is of a finished challenge: every submission released first
                _wait_released(url, challenge, digests, (tmp_path / "ann.token").read_text())
            line = fill(statement)
            term = Terminal(line, "\n".join(prefix), tmp_path, env)
            if statement.startswith("$C trustee run"):
                background.append(term)
                continue
            rc, out = term.wait(timeout=300)
            assert rc == 0, f"{line}\nexit {rc}:\n{out}"
            for alive in background:
                assert alive.proc.poll() is None, f"{alive.line} ended:\n{alive.output}"
            outputs[statement] = out
            if statement.startswith("$C submit"):  # the digest it prints first
                digests.append(re.search(r"^submission ([0-9a-f]{16,}): ", out, re.M).group(1))
            if digests:
                values["submission digest"] = digests[0]
            if statement.startswith("$C ceremony start"):  # the id it prints first
                values["ceremony id"] = re.search(r"^ceremony ([0-9a-f]{64})$", out, re.M).group(1)
            if statement.startswith("$C challenge show"):
                values["log_key from challenge show"] = json.loads(out[out.index("{") :])["log_key"]

        # the released numbers are the plaintext's, wherever they are shown
        wait = next(v for k, v in outputs.items() if k.startswith("$C submit") and "--wait" in k)
        assert re.search(rf"\bcorrect\W+{correct}\b", wait), wait
        assert re.search(rf"\berrors\W+{errors}\b", wait), wait
        board = next(v for k, v in outputs.items() if k.startswith("$C leaderboard"))
        assert re.search(rf"^\s*1\s+ann\s+.*\s{correct}\s+{errors}\s*$", board, re.M), board
        status = next(v for k, v in outputs.items() if k.startswith("$C status"))
        assert f"submission {digests[0]}:" in status
        assert (tmp_path / "digits.zip").is_file() and (tmp_path / "ann.receipt").is_file()

        # the web page, and the leaderboard API it reads
        code, kind, page = _get(f"{url}/")
        assert code == 200 and kind.startswith("text/html") and "<html" in page.lower()
        code, _, body = _get(f"{url}/api/v1/challenges/{challenge}/leaderboard?view=all")
        rows = json.loads(body)["rows"]
        assert len(rows) == len(digests) == 2
        assert {(r["participant"], r["correct"]) for r in rows} == {("ann", correct)}

        for alive in background:
            assert alive.proc.poll() is None, f"{alive.line} ended:\n{alive.output}"
        print(f"README flow: {time.monotonic() - started:.0f} s")
    finally:
        for term in background:
            term.stop()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    assert server.returncode is not None
    assert all(term.proc.returncode is not None for term in background)


def _wait_released(url: str, challenge: str, digests: list[str], token: str) -> None:
    deadline = time.monotonic() + 600
    for digest in digests:
        while True:
            _, _, body = _get(
                f"{url}/api/v1/challenges/{challenge}/submissions/{digest}", token.strip()
            )
            state = json.loads(body)["state"]
            if state == "released":
                break
            assert state not in ("invalid", "rejected"), body
            assert time.monotonic() < deadline, f"{digest} still {state}"
            time.sleep(1)
