"""Incremental planning: plain Python over a listing of the raw zone and the last run's state.

Every figure of a date depends on that date's raw partitions alone (sessions end at midnight UTC,
duplicates are per date), so planning is per date: a date is recomputed when one of its
partitions is new or changed, and recomputing it reads its own partitions and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .config import JobConfig

STATE_FORMAT_VERSION = 2
STATE_FILE_NAME = "state.json"


@dataclass(frozen=True)
class RawFile:
    name: str  # path relative to the dt= folder, e.g. "hr=00/clickstream-0-0-99.ndjson.gz"
    size: int
    modified_ms: int
    etag: str = ""  # when the file system exposes one (s3a does; not every S3 connector)


@dataclass
class RawPartition:
    """One `dt=.../hr=...` folder of the raw zone."""

    date: str
    hour: int
    uri: str
    files: List[RawFile] = field(default_factory=list)

    @property
    def key(self) -> str:
        return partition_key(self.date, self.hour)

    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed, resized or rewritten (new modification time
        or ETag)."""
        lines = sorted(f"{f.name}\t{f.size}\t{f.modified_ms}\t{f.etag}" for f in self.files)
        return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def partition_key(date: str, hour: int) -> str:
    return f"dt={date}/hr={hour:02d}"


def partition_date(key: str) -> str:
    return key[3:13]


def listing_filter(config: JobConfig, today: dt.date) -> Callable[[str], bool]:
    """Which `dt=` folders a run lists: the backfill dates, the lookback window, or all."""
    if config.dates is not None:
        wanted = set(config.dates)
        return lambda date: date in wanted
    if config.lookback_days is not None:
        oldest = (today - dt.timedelta(days=config.lookback_days)).isoformat()
        return lambda date: date >= oldest
    return lambda date: True


def dates_to_recompute(
    listing: Mapping[str, RawPartition],
    state_partitions: Mapping[str, str],
    backfill_dates: Optional[Sequence[str]],
) -> Tuple[List[str], List[str]]:
    """Returns (dates to recompute, dates whose raw input changed).

    Backfill: exactly the given dates. Incremental: exactly the dates with a partition that is new
    or has another fingerprint than in the state. A partition that disappeared is not a change:
    raw data expiring must not erase aggregates.
    """
    if backfill_dates is not None:
        return sorted(set(backfill_dates)), []
    changed = sorted({p.date for key, p in listing.items() if state_partitions.get(key) != p.fingerprint()})
    return changed, changed


def input_uris(listing: Mapping[str, RawPartition], dates: Iterable[str]) -> List[str]:
    """Raw folders to read for `dates`: every non-empty partition of those dates, and no other."""
    wanted = set(dates)
    return sorted(p.uri for p in listing.values() if p.files and p.date in wanted)


def next_state(
    listing: Mapping[str, RawPartition],
    listed_dates: Set[str],
    state_partitions: Mapping[str, str],
    recomputed_dates: Set[str],
) -> Dict[str, str]:
    """The state after a successful run.

    Partitions of recomputed dates get their current fingerprint (the output now reflects them).
    Entries of listed dates whose partition is gone are dropped; entries of dates this run did not
    list are kept; partitions of listed dates that were not recomputed keep their old entry (or
    none), so a later run still sees their change.
    """
    result = {k: v for k, v in state_partitions.items() if partition_date(k) not in listed_dates}
    for key, partition in listing.items():
        if partition.date in recomputed_dates:
            result[key] = partition.fingerprint()
        elif key in state_partitions:
            result[key] = state_partitions[key]
    return dict(sorted(result.items()))


def encode_state(raw_uri: str, tables: Sequence[str], partitions: Mapping[str, str], updated_at: str) -> str:
    document = {
        "format_version": STATE_FORMAT_VERSION,
        "raw_uri": raw_uri,
        "tables": list(tables),
        "updated_at": updated_at,
        "partitions": dict(sorted(partitions.items())),
    }
    return json.dumps(document, indent=1) + "\n"


class StaleState(Exception):
    """A readable state that does not describe the current outputs: every date is recomputed."""


def decode_state(text: str, tables: Sequence[str]) -> Dict[str, str]:
    """The partition fingerprints of a state document.

    Raises StaleState for a state written by the one-table job (format 1) or for another set of
    tables (their outputs do not exist yet), and ValueError for anything unreadable.
    """
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    version = document.get("format_version")
    if version == 1:
        raise StaleState("it was written by the one-table job (format 1)")
    if version != STATE_FORMAT_VERSION:
        raise ValueError(f"format_version {version!r}, expected {STATE_FORMAT_VERSION}")
    partitions = document.get("partitions")
    if not isinstance(partitions, dict) or not all(isinstance(v, str) for v in partitions.values()):
        raise ValueError("partitions is not an object of fingerprints")
    if document.get("tables") != list(tables):
        raise StaleState(f"it lists the tables {document.get('tables')!r}, the job writes {list(tables)!r}")
    return dict(partitions)
