"""A second implementation of SPEC section 3 (the five tables), written from the spec's text in
plain Python: no Spark, and nothing of glue-scripts/ is imported, so that a mistake in the job is
not repeated here. The tests compare the job's output with what `reference_tables` computes from
the same raw lines.

It is written for clarity, not speed: every event is a dict, every user's day a sorted list.

Where the spec leaves a detail to the implementation, this follows the job's documented decisions
(docs/processing.md), spelled out here once:
- A raw line is skipped when it is not a JSON object, when `event_id`, `user_id` or `page_url` is
  missing or blank, when `ts` is not an ISO-8601 date and time with a zone (`Z` or `+hh:mm`), or
  when the UTC date of `ts` is not the date of the `dt=` folder it was read from.
- Text fields of the record are read as written; `country`, `city` and the enrichment fields are
  trimmed, and blank counts as missing (`country` then `unknown`, `city` null, an enrichment field
  its SPEC section 2 default).
- Kafka `partition` and `offset` compare as numbers (they may be written as JSON strings).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

# The grains of SPEC section 3 (event_date first: it is the output partition of every table).
GRAINS: Dict[str, Tuple[str, ...]] = {
    "url_country_daily": ("event_date", "page_url", "country"),
    "sessions_daily": ("event_date", "country", "device_type", "browser", "os", "channel"),
    "traffic_sources_daily": ("event_date", "channel", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "country"),
    "geo_daily": ("event_date", "country", "city"),
    "traffic_hourly": ("event_date", "event_hour", "country", "device_type"),
}
TABLES = tuple(GRAINS)

# SPEC section 2: an enrichment field missing from a record (written before it existed) reads as this.
ENRICHMENT_DEFAULTS: Dict[str, Optional[str]] = {
    "device_type": "unknown",
    "browser": None,
    "os": None,
    "channel": "unknown",
    "referrer_host": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_campaign": None,
}
# What a session takes from its entry event (SPEC section 3).
SESSION_FIELDS = ("country", "device_type", "browser", "os", "channel", "referrer_host", "utm_source", "utm_medium", "utm_campaign")

_TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2}):(\d{2}))")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def epoch_ms(text: Any) -> Optional[int]:
    """Epoch milliseconds of an ISO-8601 instant with a zone, None for anything else."""
    if not isinstance(text, str):
        return None
    match = _TS.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, zone_h, zone_m = match.groups()
    if zulu:
        zone = dt.timezone.utc
    else:
        minutes = int(zone_h) * 60 + int(zone_m)
        if int(zone_m) > 59 or minutes > 18 * 60:
            return None
        zone = dt.timezone((-1 if sign == "-" else 1) * dt.timedelta(minutes=minutes))
    try:
        micros = int((fraction or "0").ljust(6, "0"))
        instant = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=zone)
    except ValueError:
        return None
    return (instant - _EPOCH) // dt.timedelta(milliseconds=1)


def utc_date(ms: int) -> str:
    return (_EPOCH + dt.timedelta(milliseconds=ms)).date().isoformat()


def utc_hour(ms: int) -> str:
    """`YYYY-MM-DDTHH:00:00.000Z` of the UTC hour holding `ms`."""
    return (_EPOCH + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:00:00.000Z")


def _trimmed(value: Any) -> Optional[str]:
    """A field's trimmed text; None when missing, null or blank. JSON scalars read as their text."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).strip()
    return text or None


def _present(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def read_event(folder_date: str, line: str) -> Optional[Dict[str, Any]]:
    """One raw line of the `dt=<folder_date>` folder as an event, or None when it is skipped."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    if not (_present(record.get("event_id")) and _present(record.get("user_id")) and _present(record.get("page_url"))):
        return None
    ms = epoch_ms(record.get("ts"))
    if ms is None or utc_date(ms) != folder_date:
        return None
    kafka = record.get("kafka") or {}
    event = {
        "event_id": record["event_id"],
        "user_id": record["user_id"],
        "page_url": record["page_url"],
        "ts_ms": ms,
        "event_date": utc_date(ms),
        "country": _trimmed(record.get("country")) or "unknown",
        "city": _trimmed(record.get("city")),
        "is_bot": record.get("is_bot") is True or record.get("is_bot") == "true",
        "rank": (kafka.get("topic"), int(kafka.get("partition")), int(kafka.get("offset"))),
    }
    for name, default in ENRICHMENT_DEFAULTS.items():
        value = _trimmed(record.get(name))
        event[name] = default if value is None else value
    return event


def deduplicate(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One event per (`event_id`, `event_date`): the copy with the lowest (topic, partition, offset)."""
    kept: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for event in events:
        key = (event["event_id"], event["event_date"])
        if key not in kept or event["rank"] < kept[key]["rank"]:
            kept[key] = event
    return list(kept.values())


def sessionize(events: Sequence[Dict[str, Any]], gap_minutes: int) -> List[List[Dict[str, Any]]]:
    """The sessions of human events: per user and UTC date, ordered by (ts, event_id), split where
    the gap to the previous event is more than `gap_minutes`. Each event gets `time_on_page_ms`
    (None on the exit)."""
    gap_ms = gap_minutes * 60_000
    days: Dict[Tuple[str, str], List[Dict[str, Any]]] = defaultdict(list)
    for event in events:
        if not event["is_bot"]:
            days[(event["user_id"], event["event_date"])].append(event)
    sessions: List[List[Dict[str, Any]]] = []
    for timeline in days.values():
        timeline.sort(key=lambda e: (e["ts_ms"], e["event_id"]))
        for event in timeline:
            if sessions and sessions[-1][-1]["user_id"] == event["user_id"] and sessions[-1][-1]["event_date"] == event["event_date"] and event["ts_ms"] - sessions[-1][-1]["ts_ms"] <= gap_ms:
                sessions[-1].append(event)
            else:
                sessions.append([event])
    for session in sessions:
        for event, following in zip(session, session[1:] + [None]):
            event["time_on_page_ms"] = None if following is None else following["ts_ms"] - event["ts_ms"]
    return sessions


def _counter() -> Dict[str, Any]:
    return {"clicks": 0, "users": set(), "timed_views": 0, "time_ms": 0, "entrances": 0, "bounces": 0, "bot_clicks": 0}


def _session_counter() -> Dict[str, Any]:
    return {"sessions": 0, "bounces": 0, "pageviews": 0, "users": set(), "duration_ms": 0}


def compute(events: Sequence[Dict[str, Any]], gap_minutes: int, computed_at: str) -> Dict[str, List[Dict[str, Any]]]:
    """The five tables from valid, deduplicated events."""
    sessions = sessionize(events, gap_minutes)
    by_event = {name: defaultdict(_counter) for name in ("url_country_daily", "geo_daily", "traffic_hourly")}
    by_session = {name: defaultdict(_session_counter) for name in ("sessions_daily", "traffic_sources_daily")}

    def event_keys(event: Dict[str, Any]) -> Dict[str, Tuple]:
        return {
            "url_country_daily": (event["event_date"], event["page_url"], event["country"]),
            "geo_daily": (event["event_date"], event["country"], event["city"]),
            "traffic_hourly": (event["event_date"], utc_hour(event["ts_ms"]), event["country"], event["device_type"]),
        }

    for event in events:
        if event["is_bot"]:
            for name, key in event_keys(event).items():
                by_event[name][key]["bot_clicks"] += 1
    for session in sessions:
        entry = session[0]
        bounce = len(session) == 1
        for event in session:
            for name, key in event_keys(event).items():
                row = by_event[name][key]
                row["clicks"] += 1
                row["users"].add(event["user_id"])
                if event["time_on_page_ms"] is not None:
                    row["timed_views"] += 1
                    row["time_ms"] += event["time_on_page_ms"]
                if event is entry:
                    row["entrances"] += 1
                    row["bounces"] += int(bounce)
        for name in by_session:
            key = (entry["event_date"], *(entry[c] for c in GRAINS[name][1:]))
            row = by_session[name][key]
            row["sessions"] += 1
            row["bounces"] += int(bounce)
            row["pageviews"] += len(session)
            row["users"].add(entry["user_id"])
            row["duration_ms"] += session[-1]["ts_ms"] - entry["ts_ms"]

    def grain(name: str, key: Tuple) -> Dict[str, Any]:
        return dict(zip(GRAINS[name], key))

    tables: Dict[str, List[Dict[str, Any]]] = {}
    tables["url_country_daily"] = [
        {
            **grain("url_country_daily", key),
            "clicks": r["clicks"],
            "unique_users": len(r["users"]),
            "timed_views": r["timed_views"],
            "total_time_spent_seconds": r["time_ms"] / 1000,
            "avg_time_spent_seconds": (r["time_ms"] / 1000) / r["timed_views"] if r["timed_views"] else None,
            "entrances": r["entrances"],
            "bounces": r["bounces"],
            "bot_clicks": r["bot_clicks"],
            "computed_at": computed_at,
        }
        for key, r in by_event["url_country_daily"].items()
    ]
    tables["sessions_daily"] = [
        {
            **grain("sessions_daily", key),
            "sessions": r["sessions"],
            "bounces": r["bounces"],
            "pageviews": r["pageviews"],
            "users": len(r["users"]),
            "total_duration_seconds": r["duration_ms"] / 1000,
            "avg_duration_seconds": (r["duration_ms"] / 1000) / r["sessions"],
            "bounce_rate": r["bounces"] / r["sessions"],
            "computed_at": computed_at,
        }
        for key, r in by_session["sessions_daily"].items()
    ]
    tables["traffic_sources_daily"] = [
        {
            **grain("traffic_sources_daily", key),
            "sessions": r["sessions"],
            "bounces": r["bounces"],
            "pageviews": r["pageviews"],
            "users": len(r["users"]),
            "computed_at": computed_at,
        }
        for key, r in by_session["traffic_sources_daily"].items()
    ]
    for name in ("geo_daily", "traffic_hourly"):
        tables[name] = [
            {
                **grain(name, key),
                "clicks": r["clicks"],
                "unique_users": len(r["users"]),
                "sessions": r["entrances"],
                "bot_clicks": r["bot_clicks"],
                "computed_at": computed_at,
            }
            for key, r in by_event[name].items()
        ]
    return {name: tables[name] for name in TABLES}


def reference_tables(lines: Iterable[Tuple[str, str]], gap_minutes: int = 30, computed_at: str = "") -> Dict[str, List[Dict[str, Any]]]:
    """The five tables of SPEC section 3 from raw lines, each given with the date of the `dt=`
    folder it is stored in."""
    events = [e for e in (read_event(date, line) for date, line in lines) if e is not None]
    return compute(deduplicate(events), gap_minutes, computed_at)


def key_of(table: str, row: Dict[str, Any]) -> Tuple:
    return tuple(row[c] for c in GRAINS[table])


def differences(table: str, actual: Iterable[Dict[str, Any]], expected: Iterable[Dict[str, Any]], rel: float = 1e-12) -> List[str]:
    """What differs between two versions of a table, row by row (matched by grain); [] when
    equal. Integers and null must be equal and of the same JSON type; floats within `rel`."""
    problems: List[str] = []

    def index(rows: Iterable[Dict[str, Any]], side: str) -> Dict[Tuple, Dict[str, Any]]:
        result: Dict[Tuple, Dict[str, Any]] = {}
        for row in rows:
            key = key_of(table, row)
            if key in result:
                problems.append(f"{table}: two {side} rows for {key}")
            result[key] = row
        return result

    got, want = index(actual, "actual"), index(expected, "expected")
    for key in sorted(set(want) - set(got), key=repr):
        problems.append(f"{table}: missing row {key}: {want[key]}")
    for key in sorted(set(got) - set(want), key=repr):
        problems.append(f"{table}: unexpected row {key}: {got[key]}")
    for key in sorted(set(got) & set(want), key=repr):
        a, b = got[key], want[key]
        if set(a) != set(b):
            problems.append(f"{table} {key}: columns {sorted(a)} != {sorted(b)}")
            continue
        for column, value in b.items():
            other = a[column]
            if isinstance(value, float) and isinstance(other, float):
                same = abs(other - value) <= rel * max(abs(value), abs(other), 1e-300)
            else:
                same = type(other) is type(value) and other == value
            if not same:
                problems.append(f"{table} {key}: {column} = {other!r}, expected {value!r}")
    return problems
