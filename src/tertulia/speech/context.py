"""What the speech package keeps on the runtime (``runtime.speech``): its settings and the signer of blob URLs."""

from __future__ import annotations

from dataclasses import dataclass

from tertulia.speech.blobs import UrlSigner
from tertulia.speech.settings import SpeechSettings


@dataclass
class SpeechContext:
    settings: SpeechSettings
    signer: UrlSigner
    public_base_url: str | None  # set only when configured explicitly; else URLs follow the request's host
