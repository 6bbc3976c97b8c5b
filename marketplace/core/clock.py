"""The one clock: instants in UTC, calendar days in Paris.

French legal dates (a closing date, a reference date for the rules in force) are days in Paris:
a call closing "le 31 mars" is open all that day in France, whatever the server's time zone.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return dt.datetime.now(PARIS).date()
