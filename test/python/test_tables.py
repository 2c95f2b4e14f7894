"""clickstream_job.tables: the five tables of SPEC section 3 on hand-made inputs."""

from __future__ import annotations

import pytest

from aggregate_fixtures import CART, COMPUTED_AT, HOME, TABLE_NAMES, bot_event, event, raw_frame, rows_by_key
from clickstream_job.parse import deduplicate_events, parse_events
from clickstream_job.sessions import sessionize
from clickstream_job.tables import TABLES, compute_tables


def tables(spark, records, gap=30):
    valid = parse_events(raw_frame(spark, records)).where("reject_reason IS NULL")
    frames = compute_tables(sessionize(deduplicate_events(valid), gap), COMPUTED_AT)
    return {name: rows_by_key(name, (r.asDict() for r in frame.collect())) for name, frame in frames.items()}


# alice: a 3-event session on HOME -> CART -> HOME, then a bounce 2 h later on CART.
# bob (DE, Berlin, mobile Safari, from an email campaign): one bounce on HOME.
# carol: no city, no browser, a 2-event session on CART.
# a crawler on CART (US) and on a page nobody else saw.
DAY = [
    event("a1", "alice", "2026-11-01T09:00:00.000Z", HOME),
    event("a2", "alice", "2026-11-01T09:01:00.000Z", CART),
    event("a3", "alice", "2026-11-01T09:03:30.000Z", HOME),
    event("a4", "alice", "2026-11-01T11:10:00.000Z", CART),
    event("b1", "bob", "2026-11-01T09:30:00.000Z", HOME, "DE", city="Berlin", device_type="mobile", browser="Mobile Safari", os="iOS",
          channel="email", referrer_host=None, utm_source="news", utm_medium="email", utm_campaign="nov"),
    event("c1", "carol", "2026-11-01T10:00:00.000Z", CART, city=None, browser=None),
    event("c2", "carol", "2026-11-01T10:00:30.000Z", CART, city=None, browser=None),
    bot_event("x1", "crawler", "2026-11-01T09:00:10.000Z", CART),
    bot_event("x2", "crawler", "2026-11-01T09:00:20.000Z", "https://shop.example.com/robots-only"),
]  # fmt: skip


@pytest.fixture(scope="module")
def day(spark):
    """The tables of DAY, computed once for the tests that only read them."""
    return tables(spark, DAY)


def test_compute_tables_gives_every_table_its_columns_and_computed_at(spark):
    result = {name: frame for name, frame in compute_tables(sessionize(deduplicate_events(parse_events(raw_frame(spark, DAY)))), COMPUTED_AT).items()}
    assert tuple(result) == TABLE_NAMES
    for name, frame in result.items():
        assert tuple(frame.columns) == TABLES[name].columns
        assert {r["computed_at"] for r in frame.collect()} == {COMPUTED_AT}


def test_url_country_daily_counts_clicks_time_entrances_bounces_and_bot_clicks(day):
    rows = day["url_country_daily"]
    home = rows[("2026-11-01", HOME, "US")]
    assert {k: home[k] for k in ("clicks", "unique_users", "timed_views", "total_time_spent_seconds", "avg_time_spent_seconds", "entrances", "bounces", "bot_clicks")} == {
        "clicks": 2, "unique_users": 1, "timed_views": 1, "total_time_spent_seconds": 60.0, "avg_time_spent_seconds": 60.0,
        "entrances": 1, "bounces": 0, "bot_clicks": 0,
    }  # fmt: skip
    cart = rows[("2026-11-01", CART, "US")]
    assert {k: cart[k] for k in ("clicks", "unique_users", "timed_views", "total_time_spent_seconds", "entrances", "bounces", "bot_clicks")} == {
        "clicks": 4, "unique_users": 2, "timed_views": 2, "total_time_spent_seconds": 180.0, "entrances": 2, "bounces": 1, "bot_clicks": 1,
    }  # fmt: skip
    assert cart["avg_time_spent_seconds"] == 90.0
    bob = rows[("2026-11-01", HOME, "DE")]
    assert (bob["entrances"], bob["bounces"], bob["timed_views"], bob["avg_time_spent_seconds"]) == (1, 1, 0, None)


def test_url_country_daily_has_rows_that_exist_only_through_bot_clicks(day):
    row = day["url_country_daily"][("2026-11-01", "https://shop.example.com/robots-only", "US")]
    assert (row["clicks"], row["unique_users"], row["timed_views"], row["avg_time_spent_seconds"], row["entrances"], row["bot_clicks"]) == (0, 0, 0, None, 0, 1)


def test_sessions_daily_counts_sessions_of_their_entry_attributes(day):
    rows = day["sessions_daily"]
    assert sorted(rows, key=str) == sorted([
        ("2026-11-01", "US", "desktop", "Chrome", "Windows", "search"),
        ("2026-11-01", "US", "desktop", None, "Windows", "search"),  # carol: no browser, kept as null
        ("2026-11-01", "DE", "mobile", "Mobile Safari", "iOS", "email"),
    ], key=str)  # fmt: skip
    alice = rows[("2026-11-01", "US", "desktop", "Chrome", "Windows", "search")]
    assert {k: alice[k] for k in ("sessions", "bounces", "pageviews", "users", "total_duration_seconds", "avg_duration_seconds", "bounce_rate")} == {
        "sessions": 2, "bounces": 1, "pageviews": 4, "users": 1, "total_duration_seconds": 210.0, "avg_duration_seconds": 105.0, "bounce_rate": 0.5,
    }  # fmt: skip


def test_traffic_sources_daily_counts_sessions_by_channel_referrer_and_campaign(day):
    rows = day["traffic_sources_daily"]
    search = rows[("2026-11-01", "search", "google.com", None, None, None, "US")]
    assert (search["sessions"], search["bounces"], search["pageviews"], search["users"]) == (3, 1, 6, 2)
    email = rows[("2026-11-01", "email", None, "news", "email", "nov", "DE")]
    assert (email["sessions"], email["bounces"], email["pageviews"], email["users"]) == (1, 1, 1, 1)
    assert len(rows) == 2, "bots start no session"


def test_geo_daily_keeps_a_missing_city_as_null_and_counts_bots_apart(day):
    rows = day["geo_daily"]
    assert {k: (r["clicks"], r["unique_users"], r["sessions"], r["bot_clicks"]) for k, r in rows.items()} == {
        ("2026-11-01", "US", "Austin"): (4, 1, 2, 2),
        ("2026-11-01", "US", None): (2, 1, 1, 0),
        ("2026-11-01", "DE", "Berlin"): (1, 1, 1, 0),
    }


def test_traffic_hourly_writes_the_hour_and_counts_sessions_in_their_entry_hour(spark):
    records = DAY + [event("a5", "alice", "2026-11-01T11:40:00.000Z", HOME)]  # same session as a4, next hour
    rows = tables(spark, records)["traffic_hourly"]
    assert {k: (r["clicks"], r["unique_users"], r["sessions"], r["bot_clicks"]) for k, r in rows.items()} == {
        ("2026-11-01", "2026-11-01T09:00:00.000Z", "US", "desktop"): (3, 1, 1, 0),
        ("2026-11-01", "2026-11-01T09:00:00.000Z", "DE", "mobile"): (1, 1, 1, 0),
        ("2026-11-01", "2026-11-01T09:00:00.000Z", "US", "bot"): (0, 0, 0, 2),
        ("2026-11-01", "2026-11-01T10:00:00.000Z", "US", "desktop"): (2, 1, 1, 0),
        ("2026-11-01", "2026-11-01T11:00:00.000Z", "US", "desktop"): (2, 1, 1, 0),
    }


def test_tables_count_a_duplicate_once_per_date(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", offset=1),
        event("e1", "u1", "2026-11-01T10:00:00.000Z", offset=7),  # redelivered
        event("e1", "u1", "2026-11-02T10:00:00.000Z", offset=9),  # same id on another date: another click
    ]
    rows = tables(spark, records)["url_country_daily"]
    assert {k[0]: r["clicks"] for k, r in rows.items()} == {"2026-11-01": 1, "2026-11-02": 1}


def test_tables_are_the_same_whatever_the_shuffle_partitioning(spark):
    first = tables(spark, DAY)
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "1")
        assert tables(spark, DAY) == first
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
