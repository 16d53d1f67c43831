"""Customer groups: ``change_external_chat`` callbacks (events.py), members and their history (members.py), the
resumable group sync (sync.py), ops' setup (setup.py) and the WeCom reads they share (ports.py).

The package imports none of them itself: a route that needs only the setup's filter (``api/groups``) does not pay for
the callbacks' and the sync's modules when ``app`` is imported.
"""
