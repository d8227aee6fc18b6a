"""ISO 639-3 language codes (the spec's enum) and IANA time zones, for validation."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator


@cache
def iso639_3() -> frozenset[str]:
    return frozenset(json.loads(resources.files("tertulia.core").joinpath("data/iso639_3.json").read_text()))


def _language(value: str) -> str:
    if value not in iso639_3():
        raise ValueError(f"{value!r} is not an ISO 639-3 language code (e.g. 'eng', 'spa').")
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. 'America/New_York').")
    return value


LanguageCode = Annotated[str, AfterValidator(_language)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
