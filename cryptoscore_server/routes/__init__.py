"""The REST resources, one blueprint per module, registered under ``/api/v1`` by ``app.py``.

* ``health``         liveness and readiness
* ``tokens``         API tokens (admin)
* ``whoami``         the role and name of the request's token (any role)
* ``challenges``     create, read, list; key downloads
* ``bundles``        the organizer's labels and participants' submissions; status; download
* ``pad_requests``   encryption pads: submitters ask, trustees answer, submitters fetch
* ``trustee_tasks``  what awaits a trustee: contributions, round-1 evidence, partials
* ``public_record``  leaderboard, signed tree heads, consistency proofs, a submission's log
  entries, trustee presence, audit bundle
* ``web``            the web page at ``/`` (not under ``/api/v1``; files in ``../web``)
"""
