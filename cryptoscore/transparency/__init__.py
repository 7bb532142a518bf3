"""Transparency: the RFC 9162 log, receipts, the challenge transcript and audit bundle, and
the leaderboard derived from the log (docs/design.md, "Transparency log").
"""
