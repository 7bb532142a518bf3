"""The trustee: the agent a trustee runs (``agent.py``: every rule, one code path) and the
rules it checks in the challenge's log (``log_rules.py``). Above ``protocol/`` and
``transparency/``, whose records and log it uses (docs/design.md, "The trustee agent")."""
