"""clickstream_job.parse: raw records to typed events, and duplicates (SPEC sections 2 and 3)."""

from __future__ import annotations

from pyspark.sql import functions as F

from aggregate_fixtures import CART, HOME, event, legacy_event, raw_frame
from clickstream_job.parse import deduplicate_events, parse_events
from clickstream_job.schema import REJECT_REASONS


def parsed(spark, records, **columns):
    frame = raw_frame(spark, records)
    for name, value in columns.items():
        frame = frame.withColumn(name, F.lit(value))
    return {r["event_id"]: r.asDict() for r in parse_events(frame).collect()}


def test_parse_events_reads_absent_enrichment_with_the_spec_defaults(spark):
    row = parsed(spark, [legacy_event("old", "u1", "2026-11-01T10:00:00.000Z", city=None)])["old"]
    assert {k: row[k] for k in ("device_type", "browser", "os", "is_bot", "utm_source", "utm_medium", "utm_campaign", "referrer_host", "channel", "city")} == {
        "device_type": "unknown", "browser": None, "os": None, "is_bot": False, "utm_source": None, "utm_medium": None,
        "utm_campaign": None, "referrer_host": None, "channel": "unknown", "city": None,
    }  # fmt: skip
    assert row["reject_reason"] is None


def test_parse_events_keeps_the_enrichment_the_ingest_stored(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", utm_source="news", utm_medium="email", utm_campaign="black-friday", channel="email"),
        event("e2", "u2", "2026-11-01T10:00:00.000Z", device_type="bot", is_bot=True),
        event("e3", "u3", "2026-11-01T10:00:00.000Z", is_bot="true"),
        event("e4", "u4", "2026-11-01T10:00:00.000Z", city="  ", browser="", country=" "),
    ]
    rows = parsed(spark, records)
    assert (rows["e1"]["utm_campaign"], rows["e1"]["channel"], rows["e1"]["browser"], rows["e1"]["referrer_host"]) == ("black-friday", "email", "Chrome", "google.com")
    assert (rows["e2"]["is_bot"], rows["e3"]["is_bot"], rows["e1"]["is_bot"]) == (True, True, False)
    assert (rows["e4"]["city"], rows["e4"]["browser"], rows["e4"]["country"]) == (None, None, "unknown"), "blank is absent"


def test_parse_events_rejects_invalid_records_with_a_reason(spark):
    records = [
        "{this is not json",
        event("", "u1", "2026-11-01T10:00:00.000Z"),
        event("e2", None, "2026-11-01T10:00:00.000Z"),
        event("e3", "u3", "2026-11-01"),  # no time, no zone
        event("e4", "u4", "2026-11-01T10:00:00"),  # no zone
        event("e6", "u6", "2026-11-01T10:00:00.000Z", page_url=None),
        event("ok", "u7", "2026-11-01T10:00:00.000Z", HOME),
    ]
    reasons = sorted(r["reject_reason"] or "valid" for r in parse_events(raw_frame(spark, records)).collect())
    assert reasons == sorted(["malformed_json", "missing_event_id", "missing_user_id", "invalid_ts", "invalid_ts", "missing_page_url", "valid"])


def test_parse_events_rejects_a_record_outside_the_date_of_its_folder(spark):
    records = [event("in", "u1", "2026-11-01T23:59:59.999Z"), event("out", "u1", "2026-11-02T00:00:00.000Z")]
    rows = parsed(spark, records, dt="2026-11-01")
    assert (rows["in"]["reject_reason"], rows["out"]["reject_reason"]) == (None, "date_outside_partition")
    assert "date_outside_partition" in REJECT_REASONS, "the summary counts it"


def test_parse_events_accepts_kafka_coordinates_written_as_strings(spark):
    record = event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME)
    record["kafka"] = {"topic": "clickstream", "partition": "2", "offset": "9007199254740993", "timestamp": 1}
    row = parsed(spark, [record])["e1"]
    assert (row["reject_reason"], row["kafka_partition"], row["kafka_offset"]) == (None, 2, 9007199254740993)


def test_parse_events_dates_are_utc_whatever_the_offset_or_session_zone(spark):
    records = [event("late", "u1", "2026-11-01T20:30:00.000-05:00"), event("early", "u1", "2026-11-02T00:30:00.000+02:00")]
    previous = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
        rows = parsed(spark, records)
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert (rows["late"]["event_date"], rows["early"]["event_date"]) == ("2026-11-02", "2026-11-01")


def test_deduplicate_events_keeps_the_lowest_kafka_copy_of_a_date(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", CART, partition=1, offset=5),
        event("e1", "u1", "2026-11-01T10:00:05.000Z", HOME, partition=0, offset=9),  # lower partition: kept
        event("e1", "u1", "2026-11-01T10:00:05.000Z", HOME, partition=0, offset=9),  # exact redelivery
        event("e2", "u1", "2026-11-01T11:00:00.000Z"),
    ]
    rows = deduplicate_events(parse_events(raw_frame(spark, records))).collect()
    assert sorted((r["event_id"], r["page_url"], r["kafka_partition"]) for r in rows) == [("e1", HOME, 0), ("e2", HOME, 0)]


def test_deduplicate_events_keeps_copies_on_different_dates(spark):
    records = [
        event("e1", "u1", "2026-11-01T23:59:00.000Z", offset=1),
        event("e1", "u1", "2026-11-02T00:01:00.000Z", offset=2),
    ]
    rows = deduplicate_events(parse_events(raw_frame(spark, records))).collect()
    assert sorted(r["event_date"] for r in rows) == ["2026-11-01", "2026-11-02"]
