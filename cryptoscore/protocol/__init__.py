"""The two-round release protocol: challenge context, contributions, decryption requests,
recompute-before-decrypt, the trustee's answers, the release state machines and the
trustee's outbox (docs/design.md, "Two-round release").
"""
