"""The README's Python example runs as written and prints exact counts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example(tmp_path, monkeypatch, capsys):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    gen = np.random.default_rng(0)
    y_true = gen.integers(0, 10, 3000)
    y_pred = np.where(gen.random(3000) < 0.8, y_true, gen.integers(0, 10, 3000))
    monkeypatch.chdir(tmp_path)
    exec(block.group(1), {"y_true": y_true, "y_pred": y_pred})
    out = capsys.readouterr().out
    assert f"'correct': {int(np.count_nonzero(y_true == y_pred))}" in out


def test_readme_threshold_example(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "journals").mkdir()
    namespace: dict[str, object] = {}
    exec(blocks[1], namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "valid valid"
    y_true, y_pred = namespace["y_true"], namespace["y_pred"]
    correct = int(np.count_nonzero(y_true == y_pred))
    assert out[1] == str({"correct": correct, "errors": 10_000 - correct})
