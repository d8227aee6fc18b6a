"""Turns as one application service: planning (no SQL), the event pump, the ``TurnStore`` port and its SQL adapter.

Run a turn over HTTP (``router.py``) or in-process without HTTP (``inprocess.py``). See DEVELOPERS.md.
"""
