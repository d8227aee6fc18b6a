"""A small multipart/form-data body read in one pass, or not at all (``None``: Starlette's parser reads it).

Every interact carries a multipart body of a part or three (the message, maybe external events). Starlette's
streaming parser (python-multipart, a callback per header, per data chunk and per part) costs more than the rest
of the request's body handling together. ``simple_form`` reads only the plain shape clients send — one boundary
parameter, every delimiter where it belongs, ``Name: value`` header lines, a ``form-data`` disposition with a
``name`` (and for a file, a ``filename``) — and builds the very ``FormData`` Starlette would (fields decoded as
its parser decodes them, files as in-memory ``UploadFile``\\ s with their part headers). Anything else — another
parameter (a charset), an extra delimiter-like line, odd header spacing, a part or field count or a field size at
or beyond the limits — returns ``None``, and Starlette parses the body (and raises its own errors), so what a
request means never depends on which reader read it (``tests/test_simple_form.py`` compares them).
"""

from __future__ import annotations

from tempfile import SpooledTemporaryFile

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile

SPOOL_MAX_SIZE = 1024 * 1024  # Starlette's: a file part stays in memory up to this size
_PREFIX = "multipart/form-data; boundary="
# RFC 9110's token characters: what python-multipart accepts in a header name (anything else it refuses)
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _boundary(content_type: str) -> bytes | None:
    if not content_type.startswith(_PREFIX):
        return None
    value = content_type[len(_PREFIX):]
    if not value or len(value) > 70 or not all(c.isalnum() or c in "-_'()+,./:=?" for c in value):
        return None  # quoted, with further parameters, or outside RFC 2046's plain boundary characters
    return value.encode("ascii")


def _headers(head: bytes) -> list[tuple[bytes, bytes]] | None:
    raw = []
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if (not colon or not name or not _TOKEN.issuperset(name)
                or b"\r" in value or b"\n" in value or not value.startswith(b" ") or value[1:2] in (b" ", b"\t") or value.endswith((b" ", b"\t"))):
            return None
        raw.append((name.lower(), value[1:]))
    return raw


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # as Starlette's parser falls back


def simple_form(body: bytes, content_type: str, *, max_files: int, max_fields: int, max_part_size: int
                ) -> FormData | None:
    """The form of ``body``, or None when it is not of the plain shape (see the module docstring)."""
    boundary = _boundary(content_type)
    if boundary is None:
        return None
    dash = b"--" + boundary
    start, end = dash + b"\r\n", b"\r\n" + dash + b"--"
    if not body.startswith(start):
        return None
    if body.endswith(end + b"\r\n"):
        inner = body[len(start):-len(end) - 2]
    elif body.endswith(end):
        inner = body[len(start):-len(end)]
    else:
        return None
    parts = inner.split(b"\r\n" + dash + b"\r\n")
    if body.count(dash) != len(parts) + 1:  # a delimiter-like line anywhere else: the full parser decides
        return None
    items: list[tuple[str, str | UploadFile]] = []
    files = fields = 0
    for part in parts:
        head, blank, data = part.partition(b"\r\n\r\n")
        raw = _headers(head) if blank else None
        if raw is None:
            return None
        dispositions = [value for name, value in raw if name == b"content-disposition"]
        if len(dispositions) != 1 or b"*" in dispositions[0] or b"\\" in dispositions[0]:  # RFC 2231, escapes
            return None
        kind, options = parse_options_header(dispositions[0])
        if kind != b"form-data" or b"name" not in options or set(options) - {b"name", b"filename"}:
            return None
        name = _decode(options[b"name"])
        if b"filename" in options:
            files += 1
            if files >= max_files or len(data) > SPOOL_MAX_SIZE:  # a larger file would spool to disk
                return None
            spool = SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE)
            spool.write(data)
            spool.seek(0)
            items.append((name, UploadFile(file=spool, size=len(data), filename=_decode(options[b"filename"]),
                                           headers=Headers(raw=raw))))
        else:
            fields += 1
            if fields >= max_fields or len(data) >= max_part_size:
                return None
            items.append((name, _decode(data)))
    return FormData(items)
