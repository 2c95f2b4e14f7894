"""Job configuration: the frozen `JobConfig` and the rules its values follow."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

DEFAULT_SESSION_GAP_MINUTES = 30
# A session never spans two dates (it ends at midnight UTC), so a gap above a day means nothing.
MAX_SESSION_GAP_MINUTES = 24 * 60
MAX_LOOKBACK_DAYS = 36600
MAX_BACKFILL_RANGE_DAYS = 3660
MAX_RAW_EXPIRATION_DAYS = 36500

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class JobConfig:
    """What one run works on.

    raw_uri: root of the raw events, `<raw_uri>/dt=YYYY-MM-DD/hr=HH/*.ndjson.gz`.
    output_uri: root of the aggregates, `<output_uri>/<table>/event_date=YYYY-MM-DD/`.
    state_uri: folder of `state.json`, the input fingerprints of the last successful run.
    dates: a backfill of exactly these dates (sorted, distinct); None for an incremental run.
    session_gap_minutes: a longer gap between two events of a user starts a new session.
    lookback_days: incremental runs only list raw partitions of the last N days; None lists all.
    changes_uri: the partition change log ingest writes (`<changes_uri>/dt=YYYY-MM-DD/*.json`):
        incremental runs also list the dates it names, older than the lookback window too, and
        remove the entries they consumed. None: the listing window alone.
    raw_expiration_days: the raw zone's expiry. Incremental runs never recompute a date whose raw
        data may have started to expire (docs/operations.md, "Data safety"). None: raw data is kept.
    """

    raw_uri: str
    output_uri: str
    state_uri: str
    dates: Optional[Tuple[str, ...]] = None
    session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES
    lookback_days: Optional[int] = None
    changes_uri: Optional[str] = None
    raw_expiration_days: Optional[int] = None

    def __post_init__(self) -> None:
        for name in ("raw_uri", "output_uri", "state_uri"):
            if not str(getattr(self, name) or "").strip():
                raise ValueError(f"{name} must not be empty")
        check_session_gap(self.session_gap_minutes)
        if self.lookback_days is not None and not (
            isinstance(self.lookback_days, int) and 0 <= self.lookback_days <= MAX_LOOKBACK_DAYS
        ):
            raise ValueError(f"lookback_days must be a whole number in 0..{MAX_LOOKBACK_DAYS}, got {self.lookback_days!r}")
        if self.raw_expiration_days is not None and (
            isinstance(self.raw_expiration_days, bool) or not isinstance(self.raw_expiration_days, int)
            or not 2 <= self.raw_expiration_days <= MAX_RAW_EXPIRATION_DAYS
        ):
            raise ValueError(f"raw_expiration_days must be a whole number in 2..{MAX_RAW_EXPIRATION_DAYS}, got {self.raw_expiration_days!r}")
        if self.changes_uri is not None and not str(self.changes_uri).strip():
            raise ValueError("changes_uri must not be empty (None means no change log)")
        if self.dates is not None:
            if not self.dates:
                raise ValueError("dates must not be empty (None means an incremental run)")
            for date in self.dates:
                parse_date(date, ",".join(self.dates))
            object.__setattr__(self, "dates", tuple(sorted(set(self.dates))))


def check_session_gap(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_SESSION_GAP_MINUTES:
        raise ValueError(f"session gap must be a whole number of minutes in 1..{MAX_SESSION_GAP_MINUTES}, got {minutes!r}")


def parse_dates_argument(value: str) -> List[str]:
    """`2026-11-01,2026-11-03` or ranges `2026-11-01..2026-11-07` (inclusive), mixed freely."""
    dates: Set[str] = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        start, sep, end = item.partition("..")
        first = parse_date(start.strip(), value)
        last = parse_date(end.strip(), value) if sep else first
        if last < first:
            raise ValueError(f"--dates: range {item!r} ends before it starts")
        if (last - first).days > MAX_BACKFILL_RANGE_DAYS:
            raise ValueError(f"--dates: range {item!r} is longer than ten years")
        day = first
        while day <= last:
            dates.add(day.isoformat())
            day += dt.timedelta(days=1)
    if not dates:
        raise ValueError("--dates: no date given (expected YYYY-MM-DD[,YYYY-MM-DD|..YYYY-MM-DD])")
    return sorted(dates)


def parse_date(text: str, whole: str) -> dt.date:
    if not isinstance(text, str) or not _DATE_RE.match(text):
        raise ValueError(f"--dates: {text!r} in {whole!r} is not a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"--dates: {text!r} in {whole!r} is not a valid date ({error})") from None


def is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return bool(_DATE_RE.match(text))
    except ValueError:
        return False


def format_instant(instant: dt.datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`: the `computed_at` of every row of a run."""
    utc = instant.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
