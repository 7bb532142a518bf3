"""A trustee or participant who installs ``cryptoscore[cli]`` gets no web stack, and the
command line still works there; the server's commands then say which extra is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from test_layers import WEB_STACK as ABSENT  # what [server] and [demo] add; blocked below


def _cli_without_extras(
    *argv: str, absent: tuple[str, ...] = ABSENT
) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        f"""
        import sys

        for name in {absent!r}:
            sys.modules[name] = None  # as if not installed: import raises, find_spec is None
        from cryptoscore_cli.main import main
        status = main({list(argv)!r})
        loaded = sorted(
            m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in {ABSENT!r}
        )
        print("loaded:", loaded)
        sys.exit(status)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_command_line_runs_without_the_web_stack() -> None:
    done = _cli_without_extras("params")
    assert done.returncode == 0, done.stderr
    assert "bfv-16384" in done.stdout
    assert "loaded: []" in done.stdout


def test_server_commands_name_the_missing_extra_in_one_line() -> None:
    for argv in (("serve",), ("token", "create", "--local", "--role", "admin", "--name", "a")):
        done = _cli_without_extras(*argv)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("cryptoscore: error: the server is not installed here")
        assert "pip install 'cryptoscore[server]'" in lines[0]


def test_demo_names_the_missing_extra_in_one_line() -> None:
    done = _cli_without_extras("demo")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "cryptoscore: error: the demo needs scikit-learn: pip install 'cryptoscore[demo]'"
    )


def test_without_the_cli_extra_the_command_line_says_so_in_one_line() -> None:
    """A bare ``pip install cryptoscore`` (the library alone) has no progress bars: the
    console script says which extra it needs instead of a traceback."""
    done = _cli_without_extras("params", absent=(*ABSENT, "tqdm"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "cryptoscore: error: the command line needs its extra: pip install 'cryptoscore[cli]'"
    )
