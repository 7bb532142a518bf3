"""The ``cryptoscore`` commands, a module a role; ``cryptoscore_cli.main`` adds them.

- ``single_key``: single-key mode on local files (``keygen``, ``encrypt``, ``validity``, ``score``,
  ``decrypt``);
- ``ceremony``: the dealerless key ceremony (``ceremony plan | start | step | status | verify``);
- ``dealer``: the legacy dealer ceremony (``ceremony deal``) and the roster file;
- ``trustee``: ``trustee init``, ``trustee run``;
- ``organizer``: ``challenge create | show``, ``labels upload | status``;
- ``participant``: ``identity init``, ``enrol``, ``submit``, ``status``, ``leaderboard``;
- ``auditor``: ``audit``, ``audit export``, ``receipt verify``;
- ``about``: ``params``, ``demo``;
- ``common``: what several of them share (files, progress bars, passphrases, identities, the
  server's clients and options, encrypting an upload with the trustees' pads);
- ``prechecks``: what ``labels upload`` and ``submit`` check before asking for pads;
- ``watch``: a bundle's state, reason and what it waits for; ``submit --wait``.

Each role module has one ``add_<command>(subparsers)`` a top-level command. The server's
commands (``serve``, ``worker``, ``token``) are added by ``cryptoscore_server.commands``
through the ``cryptoscore.commands`` entry point.
"""
