"""clickstream_job.sessions: sessions, entries, exits, bounces, time on page (SPEC section 3)."""

from __future__ import annotations

import pytest

from aggregate_fixtures import CART, HOME, bot_event, event, raw_frame
from clickstream_job.parse import deduplicate_events, parse_events
from clickstream_job.sessions import SESSIONIZED_COLUMNS, sessionize


def sessionized(spark, records, gap=30):
    valid = parse_events(raw_frame(spark, records)).where("reject_reason IS NULL")
    frame = sessionize(deduplicate_events(valid), gap)
    assert tuple(frame.columns) == SESSIONIZED_COLUMNS
    return frame


def by_time(spark, records, gap=30):
    """ts_ms -> row, for inputs where every ts is distinct."""
    return {r["ts_ms"] % 86_400_000: r.asDict(recursive=True) for r in sessionized(spark, records, gap).collect()}


def ms(hh, mm, ss=0, milli=0):
    return ((hh * 60 + mm) * 60 + ss) * 1000 + milli


def test_sessionize_gap_of_exactly_30_minutes_is_the_same_session(spark):
    rows = by_time(spark, [event("a", "u1", "2026-11-01T10:00:00.000Z"), event("b", "u1", "2026-11-01T10:30:00.000Z")])
    first, second = rows[ms(10, 0)], rows[ms(10, 30)]
    assert (first["is_entry"], first["is_exit"], first["time_on_page_ms"]) == (True, False, 1_800_000)
    assert (second["is_entry"], second["is_exit"], second["session"]["pageviews"]) == (False, True, 2)


def test_sessionize_gap_of_30_minutes_and_1_ms_starts_a_new_session(spark):
    rows = by_time(spark, [event("a", "u1", "2026-11-01T10:00:00.000Z"), event("b", "u1", "2026-11-01T10:30:00.001Z")])
    first, second = rows[ms(10, 0)], rows[ms(10, 30, 0, 1)]
    assert (first["is_entry"], first["is_exit"], first["is_bounce"], first["time_on_page_ms"]) == (True, True, True, None)
    assert (second["is_entry"], second["is_bounce"]) == (True, True)


def test_sessionize_ends_every_session_at_midnight(spark):
    records = [event("a", "u1", "2026-11-01T23:59:00.000Z"), event("b", "u1", "2026-11-02T00:01:00.000Z")]
    rows = {r["event_date"]: r for r in sessionized(spark, records).collect()}
    assert (rows["2026-11-01"]["is_exit"], rows["2026-11-01"]["time_on_page_ms"]) == (True, None), "a date's last event is an exit"
    assert rows["2026-11-02"]["is_entry"] is True, "a date's first event is an entry"


def test_sessionize_orders_equal_timestamps_by_event_id(spark):
    records = [event("b", "u1", "2026-11-01T10:00:00.000Z", CART), event("a", "u1", "2026-11-01T10:00:00.000Z", HOME)]
    rows = {r["page_url"]: r for r in sessionized(spark, records).collect()}
    assert (rows[HOME]["is_entry"], rows[HOME]["time_on_page_ms"]) == (True, 0)
    assert (rows[CART]["is_entry"], rows[CART]["is_exit"]) == (False, True)


def test_sessionize_keeps_bot_events_out_of_sessions(spark):
    records = [
        event("h1", "u1", "2026-11-01T10:00:00.000Z"),
        bot_event("b1", "u1", "2026-11-01T10:20:00.000Z"),  # between two human events of the same user
        event("h2", "u1", "2026-11-01T10:40:00.000Z"),  # 40 min after h1: a new session despite the bot
        bot_event("b2", "crawler", "2026-11-01T10:41:00.000Z"),
    ]
    rows = by_time(spark, records)
    assert (rows[ms(10, 0)]["is_bounce"], rows[ms(10, 0)]["time_on_page_ms"]) == (True, None)
    assert rows[ms(10, 40)]["is_entry"] is True
    for bot in (rows[ms(10, 20)], rows[ms(10, 41)]):
        assert (bot["is_bot"], bot["is_entry"], bot["is_exit"], bot["is_bounce"], bot["time_on_page_ms"], bot["session"]) == (True, False, False, False, None, None)


def test_sessionize_session_takes_its_entry_attributes_pageviews_and_duration(spark):
    records = [
        event("a", "u1", "2026-11-01T10:00:00.000Z", browser=None, channel="email", utm_campaign="spring", country="DE"),
        event("b", "u1", "2026-11-01T10:05:00.000Z", browser="Chrome", channel="internal", country="FR"),
        event("c", "u1", "2026-11-01T10:12:30.500Z", browser="Chrome", channel="internal", country="FR"),
    ]
    rows = by_time(spark, records)
    assert rows[ms(10, 0)]["session"] is None and rows[ms(10, 5)]["session"] is None, "the session is on its exit event only"
    session = rows[ms(10, 12, 30, 500)]["session"]
    assert (session["pageviews"], session["duration_ms"]) == (3, 750_500)
    assert (session["browser"], session["channel"], session["utm_campaign"], session["country"]) == (None, "email", "spring", "DE")


def test_sessionize_timelines_are_per_user(spark):
    records = [event("a", "u1", "2026-11-01T10:00:00.000Z"), event("b", "u2", "2026-11-01T10:01:00.000Z")]
    assert [r["is_bounce"] for r in sessionized(spark, records).collect()] == [True, True]


def test_sessionize_gap_is_configurable(spark):
    records = [event("a", "u1", "2026-11-01T10:00:00.000Z"), event("b", "u1", "2026-11-01T10:10:00.000Z")]
    assert by_time(spark, records, gap=10)[ms(10, 0)]["time_on_page_ms"] == 600_000
    assert by_time(spark, records, gap=9)[ms(10, 0)]["time_on_page_ms"] is None


@pytest.mark.parametrize("gap", [0, 24 * 60 + 1])
def test_sessionize_refuses_an_invalid_gap(spark, gap):
    valid = parse_events(raw_frame(spark, [event("a", "u1", "2026-11-01T10:00:00.000Z")]))
    with pytest.raises(ValueError, match="session gap"):
        sessionize(valid, gap)
