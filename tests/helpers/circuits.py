"""The circuit shapes the noise tests walk: every policy shape at its largest."""

from __future__ import annotations

CIRCUITS = [  # (circuit, classes, aggregates)
    ("score/v1", 2, 2),
    ("score/v1", 2, 4),
    ("score/v1", 10, 100),
    ("score/v1", 64, 4096),
    ("validity/v1", 2, 4),
    ("validity/v1", 3, 4),
    ("validity/v1", 64, 4),
]
