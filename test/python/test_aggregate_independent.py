"""An independent check of the whole job: its five tables equal, row by row, what the second
implementation of SPEC section 3 in oracle.py (plain Python, nothing of the job imported) computes
from the same seeded raw zone. The input has what each rule is about: several users over three
dates, bots (crawlers and human users' own bot events), duplicates within a date (the copy with the
lowest Kafka coordinates differing from the others) and across dates, ties in `ts`, gaps on the
30-minute edge, sessions across midnight, records written before enrichment existed, blank
strings, Kafka coordinates as strings and invalid records. Compared on a first run, after late
data for one date, and after a backfill of every date with another session gap."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

from aggregate_fixtures import LocalRawZone
from clickstream_job import cli
from oracle import TABLES, differences, epoch_ms, reference_tables, utc_date

DATES = ("2026-11-01", "2026-11-02", "2026-11-03")
SITE = "https://shop.example.com"
PAGES = [f"{SITE}/", f"{SITE}/cart", f"{SITE}/p/1", f"{SITE}/p/2", f"{SITE}/search", f"{SITE}/checkout"]
# (country, city) as the ingest function stores them, with the blanks and spacing of older writers.
PLACES = [("US", "Austin"), ("US", None), ("DE", "Berlin"), ("DE", " Zürich "), ("FR", ""), ("GB", "London"), ("unknown", None), ("", "Paris"), ("  ", "   "), ("XK", "Prishtina")]
DEVICES = [
    ("desktop", "Chrome", "Windows"),
    ("desktop", "Firefox", "Linux"),
    ("mobile", "Mobile Safari", "iOS"),
    ("mobile", None, "Android"),
    ("tablet", "Chrome", None),
    ("other", None, None),
    ("unknown", None, None),
    ("desktop", "  ", "macOS"),
]
SOURCES = [
    {"channel": "search", "referrer_host": "google.com"},
    {"channel": "search", "referrer_host": "bing.com"},
    {"channel": "social", "referrer_host": "t.co"},
    {"channel": "referral", "referrer_host": "news.example.org"},
    {"channel": "direct", "referrer_host": None},
    {"channel": "paid", "referrer_host": "google.com", "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "black friday"},
    {"channel": "email", "referrer_host": None, "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": None},
    {"channel": "campaign", "referrer_host": None, "utm_source": "partner", "utm_medium": "affiliate", "utm_campaign": "q4"},
    {"channel": "", "referrer_host": ""},
]
ENRICHMENT = ("country_raw", "device_type", "browser", "os", "is_bot", "utm_source", "utm_medium", "utm_campaign", "referrer_host", "channel")
BOT = ("bot", "Googlebot", None)
GAP_EDGE_MS = [0, 0, 1_800_000, 1_800_001, 1_799_999]


def iso(ms: int, rng: random.Random) -> str:
    """`ts` as the ingest function writes it (UTC, milliseconds), now and then with another zone."""
    instant = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
    if rng.random() < 0.04:
        zone = dt.timezone(dt.timedelta(hours=rng.choice([-5, 2, 9]), minutes=rng.choice([0, 30])))
        return instant.astimezone(zone).isoformat(timespec="milliseconds")
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class Stream:
    """Builds raw records with Kafka coordinates that grow per (topic, partition), as a topic does."""

    def __init__(self, rng: random.Random, offset_base: int, prefix: str):
        self.rng = rng
        self.prefix = prefix
        self.offsets: Dict[Tuple[str, int], int] = defaultdict(lambda: offset_base)
        self.records: List[Dict[str, Any]] = []
        self.serial = 0

    def coordinates(self, topic: str, partition: int) -> Dict[str, Any]:
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += self.rng.randrange(1, 40)
        if self.rng.random() < 0.2:  # kafkajs hands out offsets (and some writers partitions) as strings
            return {"topic": topic, "partition": str(partition), "offset": str(offset), "timestamp": "0"}
        return {"topic": topic, "partition": partition, "offset": offset, "timestamp": 0}

    def click(self, user: str, ms: int, page: str, place, device, source, partition: int, legacy: bool = False, event_id: Optional[str] = None) -> Dict[str, Any]:
        self.serial += 1
        rng = self.rng
        country, city = place
        device_type, browser, os_name = device
        record = {
            "event_id": event_id or f"{self.prefix}-{self.serial:05d}-{rng.randrange(10**6):06d}",
            "user_id": user,
            "session_id": rng.choice([None, f"s-{rng.randrange(5)}"]),  # not what sessions are made of
            "ts": iso(ms, rng),
            "url": page + "?ref=x",
            "page_url": page,
            "country": country,
            "country_raw": None,
            "city": city,
            "user_agent": "Mozilla/5.0 (test)",
            "referrer": None,
            "device_type": device_type,
            "browser": browser,
            "os": os_name,
            "is_bot": device_type == "bot",
            "utm_source": source.get("utm_source"),
            "utm_medium": source.get("utm_medium"),
            "utm_campaign": source.get("utm_campaign"),
            "referrer_host": source.get("referrer_host"),
            "channel": source.get("channel"),
            "kafka": self.coordinates("clickstream", partition),
        }
        if legacy:  # written before enrichment existed
            for name in ENRICHMENT:
                record.pop(name)
        self.records.append(record)
        return record


def day_start_ms(date: str) -> int:
    return epoch_ms(f"{date}T00:00:00.000Z")


def generate(rng: random.Random, stream: Stream, users: int, dates=DATES) -> None:
    """Visits of `users` human users and a few crawlers over `dates`."""
    internal = {"channel": "internal", "referrer_host": "shop.example.com"}
    for u in range(users):
        user = rng.choice(["user", "visitor", "josé"]) + f"-{u}"
        partition = rng.randrange(12)
        legacy_user = rng.random() < 0.15
        for _visit in range(rng.randrange(1, 5)):
            date = rng.choice(dates)
            if rng.random() < 0.3:  # starts shortly before midnight: crosses into the next date
                at = day_start_ms(date) + 86_400_000 - rng.randrange(60_000, 40 * 60_000)
            else:
                at = day_start_ms(date) + rng.randrange(86_400_000)
            place, device, source = rng.choice(PLACES), rng.choice(DEVICES), rng.choice(SOURCES)
            for n in range(rng.randrange(1, 30)):
                if n:
                    roll = rng.random()
                    if roll < 0.2:
                        at += rng.choice(GAP_EDGE_MS)
                    elif roll < 0.9:
                        at += rng.randrange(1_000, 900_000)
                    else:
                        at += rng.randrange(1_800_002, 3 * 3_600_000)
                    if rng.random() < 0.1:  # a user moving, switching devices or arriving from elsewhere
                        place, device, source = rng.choice(PLACES), rng.choice(DEVICES), rng.choice(SOURCES)
                    elif rng.random() < 0.7:
                        source = internal
                if utc_date(at) not in dates:
                    break
                legacy = legacy_user or rng.random() < 0.05
                page = rng.choice(PAGES) if rng.random() < 0.85 else f"{SITE}/p/{rng.randrange(3, 60)}"  # rarely visited pages
                stream.click(user, at, page, place, BOT if rng.random() < 0.04 else device, source, partition, legacy)
    for c in range(3):  # crawlers: only bot clicks, some on pages and in places no human visits
        for _ in range(rng.randrange(20, 60)):
            at = day_start_ms(rng.choice(dates)) + rng.randrange(86_400_000)
            page = rng.choice(PAGES + [f"{SITE}/robots-only"])
            place = rng.choice(PLACES + [("IS", "Reykjavík")])
            stream.click(f"crawler-{c}", at, page, place, BOT, {"channel": "direct"}, 11)


def add_copies(rng: random.Random, stream: Stream) -> None:
    """Duplicates: copies of events within their date (some on other partitions or a replay topic,
    with lower or higher coordinates, some with other content, as a client reusing an id would send
    them) and copies of an id on another date (a different click)."""
    originals = list(stream.records)
    for record in rng.sample(originals, len(originals) // 12):
        copy = json.loads(json.dumps(record))
        ms = epoch_ms(record["ts"])
        kind = rng.random()
        if kind < 0.25:  # the same record delivered again: same coordinates, another object
            stream.records.append(copy)
            continue
        if kind < 0.6:  # other content on the same date: which copy is kept decides the rows
            shifted = ms + rng.randrange(-600_000, 600_000)
            if utc_date(shifted) == utc_date(ms):
                copy["ts"] = iso(shifted, rng)
            copy["page_url"] = rng.choice(PAGES)
            copy["country"] = rng.choice(["US", "NO"])
        elif kind < 0.8:  # the same id on another date: a different click, counted there too
            other = rng.choice([d for d in DATES if d != utc_date(ms)])
            copy["ts"] = iso(day_start_ms(other) + rng.randrange(86_400_000), rng)
        partition = int(record["kafka"]["partition"])
        # Partitions 9 and 10 compare differently as numbers and as text; offsets of other widths too.
        topic, new_partition = rng.choice([("clickstream", 9 if partition != 9 else 10), ("clickstream", 10), ("clickstream-replay", 0), ("clickstream", partition)])
        copy["kafka"] = stream.coordinates(topic, new_partition)
        stream.records.append(copy)


def invalid_lines(rng: random.Random, stream: Stream) -> List[Tuple[str, int, str]]:
    """(date, hour, line) of raw lines the job must skip, some of them lower-offset copies of
    valid events (an invalid copy must not hide the valid one)."""
    base = dict(rng.choice(stream.records))
    date = utc_date(epoch_ms(base["ts"]))
    hour = int(base["ts"][11:13]) if base["ts"].endswith("Z") else 12

    def variant(**fields: Any) -> str:
        record = {**base, "kafka": {"topic": "clickstream", "partition": 0, "offset": 0}, **fields}
        return json.dumps({k: v for k, v in record.items() if v is not ...})

    lines = [
        "{oops",
        '{"event_id": "truncated", "user_id": "u", "ts": "2026-11-02T1',
        "[1, 2]",
        variant(page_url=""),
        variant(page_url=...),
        variant(event_id="   "),
        variant(event_id="", user_id="someone-else"),
        variant(user_id=None),
        variant(user_id="  "),
        variant(ts=f"{date} 12:00:00.000Z"),
        variant(ts=f"{date}T12:00:00.000"),
        variant(ts=f"{date}T25:00:00.000Z"),
        variant(ts=day_start_ms(date) + 3_600_000),
        variant(event_id="misplaced", ts=iso(day_start_ms(date) + 86_400_000 + 60_000, rng)),  # a record of the next date
    ]
    return [(date, hour, line) for line in lines]


def write_raw(zone: LocalRawZone, rng: random.Random, stream: Stream, extra: List[Tuple[str, int, str]], name: str) -> List[Tuple[str, str]]:
    """Writes the records into the raw layout (one object per UTC hour, topic and partition, named
    after its first and last offsets, in shuffled order) plus `extra` lines in objects of their
    own. Returns (folder date, line) of everything written."""
    objects: Dict[Tuple[str, int, str, int], List[str]] = defaultdict(list)
    for record in stream.records:
        ms = epoch_ms(record["ts"])
        hour = int(dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%H"))
        kafka = record["kafka"]
        objects[(utc_date(ms), hour, kafka["topic"], int(kafka["partition"]))].append(json.dumps(record, ensure_ascii=rng.random() < 0.5))
    for date, hour, line in extra:
        objects[(date, hour, "invalid", 0)].append(line)
    written: List[Tuple[str, str]] = []
    for index, ((date, hour, topic, partition), lines) in enumerate(sorted(objects.items())):
        rng.shuffle(lines)
        zone.put(date, hour, f"{topic}-{partition}-{name}-{index}", lines)
        written.extend((date, line) for line in lines)
    return written


def job_tables(zone: LocalRawZone) -> Dict[str, List[Dict[str, Any]]]:
    return {table: zone.output_rows(table) for table in TABLES}


def assert_equal_tables(actual: Dict[str, List[Dict[str, Any]]], expected: Dict[str, List[Dict[str, Any]]]) -> None:
    problems = [p for table in TABLES for p in differences(table, actual[table], expected[table])]
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:25])


def test_every_table_of_the_job_equals_an_independent_implementation(spark, tmp_path):
    rng = random.Random(20261101)
    zone = LocalRawZone(tmp_path)
    stream = Stream(rng, offset_base=95, prefix="ev")
    generate(rng, stream, users=45)
    add_copies(rng, stream)
    lines = write_raw(zone, rng, stream, invalid_lines(rng, stream), "a")

    first = dt.datetime(2026, 11, 4, 6, 0, 0, 250000, tzinfo=dt.timezone.utc)
    summary = cli.run(spark, zone.config(), now=first)
    expected = reference_tables(lines, computed_at="2026-11-04T06:00:00.250Z")
    assert summary["dates"] == list(DATES)
    assert summary["records_read"] == len(lines) and sum(summary["rejected"].values()) == 14
    assert_equal_tables(job_tables(zone), expected)

    # The input exercises what it is meant to (checked on the expected rows, so the seed cannot
    # silently drift into an input without them).
    url_rows = expected["url_country_daily"]
    assert len(stream.records) > 1500 and all(len(expected[t]) > 30 for t in TABLES)
    assert any(r["clicks"] == 0 and r["bot_clicks"] > 0 for r in url_rows), "rows that exist only through bot_clicks"
    assert any(r["clicks"] > 0 and r["bot_clicks"] > 0 for r in url_rows), "bots and humans on one row"
    assert any(r["avg_time_spent_seconds"] is None and r["clicks"] > 0 for r in url_rows)
    assert any(r["bounces"] > 0 for r in url_rows) and any(r["entrances"] > r["bounces"] for r in url_rows)
    assert any(r["city"] is None for r in expected["geo_daily"]) and any(r["browser"] is None for r in expected["sessions_daily"])
    assert any(r["device_type"] == "unknown" and r["channel"] == "unknown" for r in expected["sessions_daily"]), "records without enrichment"
    assert {r["channel"] for r in expected["traffic_sources_daily"]} >= {"search", "paid", "internal", "direct", "unknown"}
    assert any(r["country"] == "unknown" for r in url_rows)

    # Late data for one date: every table of that date is recomputed, the other dates stay.
    late = Stream(rng, offset_base=100_000, prefix="late")
    generate(rng, late, users=8, dates=("2026-11-02",))
    late_lines = write_raw(zone, rng, late, [], "b")
    second = first + dt.timedelta(hours=1)
    summary = cli.run(spark, zone.config(), now=second)
    assert summary["dates"] == ["2026-11-02"]
    recomputed = reference_tables(lines + late_lines, computed_at="2026-11-04T07:00:00.250Z")
    for table in TABLES:
        expected[table] = [r for r in expected[table] if r["event_date"] != "2026-11-02"] + [r for r in recomputed[table] if r["event_date"] == "2026-11-02"]
    assert_equal_tables(job_tables(zone), expected)

    # A backfill of every date with a 45-minute gap: sessions joined across the longer gaps.
    third = second + dt.timedelta(hours=1)
    cli.run(spark, zone.config(dates=DATES, session_gap_minutes=45), now=third)
    longer = reference_tables(lines + late_lines, gap_minutes=45, computed_at="2026-11-04T08:00:00.250Z")
    assert sum(r["sessions"] for r in longer["sessions_daily"]) < sum(r["sessions"] for r in recomputed["sessions_daily"])
    assert_equal_tables(job_tables(zone), longer)
