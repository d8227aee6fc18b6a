"""Cut a stream of text fragments (LLM tokens) into sentences, so speech can start before the reply is complete."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "approx", "no", "fig", "inc",
    "ltd", "co", "mt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
# End punctuation (with closing quotes/brackets), then whitespace; or a blank line / newline.
_BOUNDARY = re.compile(r"([.!?…。！？]+[\"'”’)\]]*)(\s+)|(\n\s*)")


class SentenceSplitter:
    """Feed fragments, get whole sentences back; ``flush`` returns the rest at the end of the stream.

    ``min_chars`` keeps tiny sentences ("Hi.") together with the next one, which sounds better and costs nothing.
    """

    def __init__(self, min_chars: int = 12) -> None:
        self.min_chars = min_chars
        self._buffer = ""

    def feed(self, fragment: str) -> list[str]:
        self._buffer += fragment
        out: list[str] = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            end = match.end(1) if match.group(1) else match.start(3)
            candidate = self._buffer[start:end].strip()
            if not candidate:
                start = match.end()
                continue
            if match.group(1) and _ends_with_abbreviation(candidate):
                continue
            if len(candidate) < self.min_chars:
                continue
            out.append(candidate)
            start = match.end()
        self._buffer = self._buffer[start:]
        return out

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []


def _ends_with_abbreviation(sentence: str) -> bool:
    if not sentence.endswith("."):
        return False
    word = sentence[:-1].rsplit(None, 1)[-1].lower().lstrip("(\"'")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str, min_chars: int = 12) -> list[str]:
    splitter = SentenceSplitter(min_chars)
    return splitter.feed(text) + splitter.flush()


async def sentences(fragments: AsyncIterable[str] | Iterable[str], min_chars: int = 12) -> AsyncIterator[str]:
    """Yield each sentence as soon as its end has streamed in."""
    splitter = SentenceSplitter(min_chars)
    if hasattr(fragments, "__aiter__"):
        async for fragment in fragments:  # type: ignore[union-attr]
            for sentence in splitter.feed(fragment):
                yield sentence
    else:
        for fragment in fragments:  # type: ignore[union-attr]
            for sentence in splitter.feed(fragment):
                yield sentence
    for sentence in splitter.flush():
        yield sentence
