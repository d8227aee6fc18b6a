"""Voice notes: speech in (speech-to-text), speech out (text-to-speech), audio decoding/encoding and the store that
keeps the original audio of voice messages behind signed, expiring URLs.

Everything outside this package talks to speech through ``runtime.stt``, ``runtime.tts`` and ``runtime.blobs``
(see ``ports.py``) and the helpers in ``voice.py``.
"""
