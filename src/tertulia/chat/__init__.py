"""``tertulia chat``: an interactive terminal chat with a service through the public API (``api.py``), on a running
server or one served in-process (``local.py``); the loop and its commands (``session.py``); rendering (``render.py``)."""
