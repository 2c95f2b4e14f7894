"""Incremental planning: plain Python over a listing of the raw zone and the last run's state.

Every figure of a date depends on that date's raw partitions alone (sessions end at midnight UTC,
duplicates are per date), so planning is per date: a date is recomputed when one of its
partitions is new or changed, and recomputing it reads its own partitions and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .config import JobConfig

STATE_FORMAT_VERSION = 2
STATE_FILE_NAME = "state.json"
# An entry of the partition change log, relative to the log's root: `dt=YYYY-MM-DD/<batch>.json`.
_CHANGE_ENTRY_RE = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})/[^/]+\.json$")


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


def recompute_horizon(config: JobConfig, today: dt.date) -> Optional[str]:
    """The oldest date an incremental run may recompute, or None when raw data never expires.

    With a raw expiry of E days, an object of date D may have been written up to a day before D
    starts (an event may be up to 24 h after its Kafka record) and expires E days after it was
    written, so D's raw data is whole until at least D - 1 + E days. A run on `today` (which ends
    before today + 1) therefore recomputes D only when D >= today - (E - 2): never from a raw
    input that may have partly expired (docs/operations.md, "Data safety").
    """
    if config.raw_expiration_days is None:
        return None
    return (today - dt.timedelta(days=config.raw_expiration_days - 2)).isoformat()


def listing_filter(config: JobConfig, today: dt.date, change_log_dates: Iterable[str] = ()) -> Callable[[str], bool]:
    """Which `dt=` folders a run lists: the backfill dates; or, incrementally, the lookback window
    (or all dates) plus the dates the change log names, none of them older than the recompute
    horizon."""
    if config.dates is not None:
        wanted = set(config.dates)
        return lambda date: date in wanted
    named = frozenset(change_log_dates)
    if config.lookback_days is not None:
        oldest = (today - dt.timedelta(days=config.lookback_days)).isoformat()
        in_scope: Callable[[str], bool] = lambda date: date >= oldest or date in named
    else:
        in_scope = lambda date: True
    horizon = recompute_horizon(config, today)
    if horizon is None:
        return in_scope
    return lambda date: date >= horizon and in_scope(date)


def change_log_dates(entries: Iterable[str]) -> Tuple[Dict[str, List[str]], List[str]]:
    """(date -> entries naming it, entries that are not `dt=YYYY-MM-DD/<name>.json`) of change-log
    entries given relative to the log's root. The date is all the job needs: which hours and
    objects changed, it learns from listing the date's partitions."""
    dates: Dict[str, List[str]] = {}
    unknown: List[str] = []
    for entry in entries:
        match = _CHANGE_ENTRY_RE.match(entry)
        if match is None or not _is_date(match.group(1)):
            unknown.append(entry)
        else:
            dates.setdefault(match.group(1), []).append(entry)
    return {d: sorted(e) for d, e in sorted(dates.items())}, sorted(unknown)


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


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
    horizon: Optional[str] = None,
) -> Dict[str, str]:
    """The state after a successful run.

    Partitions of recomputed dates get their current fingerprint (the output now reflects them).
    Entries of listed dates whose partition is gone are dropped; entries of dates this run did not
    list are kept, except those older than `horizon` (the recompute horizon: no run will look at
    them again); partitions of listed dates that were not recomputed keep their old entry (or
    none), so a later run still sees their change.
    """
    result = {
        k: v for k, v in state_partitions.items()
        if partition_date(k) not in listed_dates and (horizon is None or partition_date(k) >= horizon)
    }
    for key, partition in listing.items():
        if partition.date in recomputed_dates:
            result[key] = partition.fingerprint()
        elif key in state_partitions:
            result[key] = state_partitions[key]
    return dict(sorted(result.items()))


def encode_state(
    raw_uri: str, tables: Sequence[str], partitions: Mapping[str, str], updated_at: str, change_log: Optional[Mapping[str, object]] = None
) -> str:
    """The state document. `change_log`, when the run read one: `{"uri": ..., "consumed": [entries]}`,
    the entries (relative to the log's root) whose dates this run covered and then removed; a later
    run that still finds one of them (its removal failed) removes it without listing its date again.
    The field is optional, so states of runs without a change log stay as they were (format 2)."""
    document: Dict[str, object] = {
        "format_version": STATE_FORMAT_VERSION,
        "raw_uri": raw_uri,
        "tables": list(tables),
        "updated_at": updated_at,
        "partitions": dict(sorted(partitions.items())),
    }
    if change_log is not None:
        document["change_log"] = {"uri": change_log.get("uri"), "consumed": sorted(change_log.get("consumed") or [])}  # type: ignore[arg-type]
    return json.dumps(document, indent=1) + "\n"


def decode_consumed_changes(text: str, changes_uri: str) -> Set[str]:
    """The change-log entries the state's run consumed, for the log at `changes_uri`; empty for a
    state without them (or for another log). The partitions are read by `decode_state`."""
    try:
        document = json.loads(text)
    except ValueError:
        return set()
    log = document.get("change_log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or log.get("uri") != changes_uri or not isinstance(log.get("consumed"), list):
        return set()
    return {entry for entry in log["consumed"] if isinstance(entry, str)}


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
