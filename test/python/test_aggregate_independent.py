"""An independent check: the job's output equals what a second, separately written
implementation of SPEC section 3 (plain Python, below; it imports nothing of the job) computes
from the same seeded input, first on a full run and again after late data."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any, Dict, List, Tuple

import pytest

from aggregate_fixtures import LocalRawZone, load_job_module

job = load_job_module()

GAP = dt.timedelta(minutes=30)
PAGES = ["https://shop.example.com/", "https://shop.example.com/cart", "https://shop.example.com/p/1", "https://shop.example.com/p/2"]
COUNTRIES = ["US", "DE", "FR", None, ""]


# ---------------------------------------------------------------------------------------------
# The reference implementation


def _parse_ts(text: Any):
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(dt.timezone.utc) if value.tzinfo is not None else None


def reference_aggregate(records: List[Any]) -> Dict[Tuple[str, str, str], Dict[str, Any]]:
    """SPEC section 3 done the obvious way: filter, dedupe, walk each user's timeline, sum up."""
    first_copy: Dict[str, Dict[str, Any]] = {}
    for record in records:
        if not isinstance(record, dict):
            continue  # malformed line
        if not (record.get("event_id") or "").strip() or not (record.get("user_id") or "").strip():
            continue
        ts = _parse_ts(record.get("ts"))
        if ts is None or not (record.get("page_url") or "").strip():
            continue
        kafka = record["kafka"]
        rank = (kafka["topic"], kafka["partition"], kafka["offset"])
        current = first_copy.get(record["event_id"])
        if current is None or rank < current["rank"]:
            country = (record.get("country") or "").strip() or "unknown"
            first_copy[record["event_id"]] = {"rank": rank, "ts": ts, "user": record["user_id"], "page": record["page_url"], "country": country, "id": record["event_id"]}

    timelines: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for e in first_copy.values():
        timelines[e["user"]].append(e)
    totals: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
    for events in timelines.values():
        events.sort(key=lambda e: (e["ts"], e["id"]))
        for i, e in enumerate(events):
            key = (e["ts"].date().isoformat(), e["page"], e["country"])
            row = totals.setdefault(key, {"clicks": 0, "users": set(), "timed_views": 0, "ms": 0})
            row["clicks"] += 1
            row["users"].add(e["user"])
            if i + 1 < len(events) and events[i + 1]["ts"] - e["ts"] <= GAP:
                row["timed_views"] += 1
                row["ms"] += (events[i + 1]["ts"] - e["ts"]) // dt.timedelta(milliseconds=1)
    return {
        key: {
            "clicks": r["clicks"],
            "unique_users": len(r["users"]),
            "timed_views": r["timed_views"],
            "total_time_spent_seconds": r["ms"] / 1000,
            "avg_time_spent_seconds": (r["ms"] / 1000 / r["timed_views"]) if r["timed_views"] else None,
        }
        for key, r in totals.items()
    }


# ---------------------------------------------------------------------------------------------
# Seeded input: users clicking around two midnights, with gaps on and near the 30-minute edge,
# redelivered events, a few offsets other than Z and a few invalid records.


def _iso(instant: dt.datetime, rng: random.Random) -> str:
    if rng.random() < 0.05:
        offset = dt.timezone(dt.timedelta(hours=rng.choice([-5, 2, 9])))
        return instant.astimezone(offset).isoformat(timespec="milliseconds")
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def generate(rng: random.Random, start: dt.datetime, users: int, clicks: int, prefix: str, first_offset: int) -> List[Dict[str, Any]]:
    gaps_ms = [1_800_000, 1_800_001, 1_799_999, 0]
    records = []
    offset = first_offset
    for u in range(users):
        user = f"user-{u}"
        country = rng.choice(COUNTRIES)
        at = start + dt.timedelta(minutes=rng.randrange(0, 36 * 60))
        for _ in range(rng.randrange(1, clicks)):
            roll = rng.random()
            if roll < 0.25:
                step = rng.choice(gaps_ms)
            elif roll < 0.85:
                step = rng.randrange(1_000, 600_000)
            else:
                step = rng.randrange(1_800_002, 10_800_000)
            at += dt.timedelta(milliseconds=step)
            ts = _iso(at, rng)
            records.append(
                {
                    "event_id": f"{prefix}-{offset}",
                    "user_id": user,
                    "session_id": None,
                    "ts": ts,
                    "url": rng.choice(PAGES) + "?utm=x",
                    "page_url": rng.choice(PAGES),
                    "country": country,
                    "city": None,
                    "user_agent": "test",
                    "referrer": None,
                    "kafka": {"topic": "clickstream", "partition": u % 3, "offset": offset, "timestamp": 0},
                }
            )
            offset += 1
    return records


def write_raw(zone: LocalRawZone, rng: random.Random, records: List[Any], name: str) -> None:
    """Groups records by the UTC hour of their ts (as the ingest function does) into 1-3 objects
    per hour, and puts ~10% of them a second time in another object (a redelivery)."""
    by_hour: Dict[Tuple[str, int], List[Any]] = defaultdict(list)
    for r in records:
        ts = _parse_ts(r.get("ts")) if isinstance(r, dict) else None
        ts = ts or dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)  # invalid ones: some hour
        by_hour[(ts.date().isoformat(), ts.hour)].append(r)
    for (date, hour), items in sorted(by_hour.items()):
        parts = rng.randrange(1, 4)
        for p in range(parts):
            zone.put(date, hour, f"{name}-{p}", items[p::parts])
        again = [r for r in items if rng.random() < 0.1]
        if again:
            zone.put(date, hour, f"{name}-redelivered", again)


def invalid_records() -> List[Any]:
    ok = lambda **kw: {"event_id": "bad", "user_id": "u", "ts": "2026-11-02T12:00:00.000Z", "page_url": PAGES[0], "country": "US", "kafka": {"topic": "clickstream", "partition": 0, "offset": 1}, **kw}  # noqa: E731
    return ["{oops", ok(event_id=" "), ok(user_id=None), ok(ts="2026-11-02 12:00"), ok(page_url="")]


def _bridge(event_id: str, ts: str, offset: int) -> Dict[str, Any]:
    """A click of the user `bridge`, whose only clicks straddle midnight."""
    return {
        "event_id": event_id, "user_id": "bridge", "session_id": None, "ts": ts, "url": PAGES[1], "page_url": PAGES[1],
        "country": "NL", "city": None, "user_agent": "test", "referrer": None,
        "kafka": {"topic": "clickstream", "partition": 0, "offset": offset, "timestamp": 0},
    }


def job_rows(zone: LocalRawZone) -> Dict[Tuple[str, str, str], Dict[str, Any]]:
    result = {}
    for row in zone.output_rows():
        key = (row.pop("event_date"), row.pop("page_url"), row.pop("country"))
        row.pop("computed_at")
        assert key not in result
        result[key] = row
    return result


def assert_same(actual, expected):
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        assert {k: got[k] for k in ("clicks", "unique_users", "timed_views")} == {
            k: want[k] for k in ("clicks", "unique_users", "timed_views")
        }, key
        assert got["total_time_spent_seconds"] == pytest.approx(want["total_time_spent_seconds"], rel=1e-12), key
        if want["avg_time_spent_seconds"] is None:
            assert got["avg_time_spent_seconds"] is None, key
        else:
            assert got["avg_time_spent_seconds"] == pytest.approx(want["avg_time_spent_seconds"], rel=1e-12), key


def test_job_output_equals_an_independent_implementation(spark, tmp_path):
    rng = random.Random(20261101)
    zone = LocalRawZone(tmp_path)
    start = dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc)
    records = generate(rng, start, users=40, clicks=30, prefix="clickstream-a", first_offset=0) + invalid_records()
    records.append(_bridge("bridge-early", "2026-11-01T23:50:00.000Z", 90_000))
    write_raw(zone, rng, records, "batch-a")

    job.run(spark, zone.config(job), now=dt.datetime(2026, 11, 4, tzinfo=dt.timezone.utc))
    expected = reference_aggregate(records)
    assert len(expected) > 40, "the input covers many (date, page, country) rows"
    assert any(r["avg_time_spent_seconds"] is None for r in expected.values())
    assert_same(job_rows(zone), expected)

    # Late data in one already computed hour just after midnight: its date is recomputed, and the
    # day before too (bridge-1's 23:50 click gets its time on page from the late 00:05 click).
    midnight = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
    more = generate(rng, start, users=40, clicks=6, prefix="clickstream-b", first_offset=100_000)
    late = [r for r in more if midnight <= _parse_ts(r["ts"]) < midnight + dt.timedelta(hours=1)]
    late.append(_bridge("bridge-late", "2026-11-02T00:05:00.000Z", 200_000))
    write_raw(zone, rng, late, "batch-b")
    summary = job.run(spark, zone.config(job), now=dt.datetime(2026, 11, 4, 1, tzinfo=dt.timezone.utc))
    assert summary["changed_dates"] == ["2026-11-02"]
    assert_same(job_rows(zone), reference_aggregate(records + late))
