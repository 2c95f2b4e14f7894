"""The job's DataFrame transforms on hand-built records, one SPEC section 3 rule per test."""

from __future__ import annotations

import json

import pytest

from aggregate_fixtures import event, load_job_module, rows_by_key

job = load_job_module()

COMPUTED_AT = "2026-11-03T04:05:06.789Z"
HOME = "https://shop.example.com/home"
CART = "https://shop.example.com/cart"


def raw_frame(spark, records):
    """Records as the job's reader would see them: parsed with the raw schema, PERMISSIVE, the
    corrupt-record column set for malformed lines (from_json on a local table: no Python workers)."""
    from pyspark.sql import functions as F

    lines = [(r if isinstance(r, str) else json.dumps(r),) for r in records]
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}
    return (
        spark.createDataFrame(lines, "value string")
        .select(F.from_json("value", job.RAW_EVENT_SCHEMA, options).alias("record"))
        .select("record.*")
    )


def aggregate(spark, records, dates, gap=job.DEFAULT_SESSION_GAP_MINUTES):
    parsed = job.parse_events(raw_frame(spark, records))
    out = job.compute_daily_aggregates(parsed, dates, COMPUTED_AT, gap)
    assert out.columns == job.OUTPUT_COLUMNS
    return rows_by_key(row.asDict() for row in out.collect())


def time_on_page(spark, records, gap=job.DEFAULT_SESSION_GAP_MINUTES):
    parsed = job.parse_events(raw_frame(spark, records)).where("reject_reason IS NULL")
    timed = job.add_time_on_page(job.deduplicate_events(parsed.drop("reject_reason")), gap)
    return {r["event_id"]: r["time_on_page_ms"] for r in timed.collect()}


def test_duplicates_of_an_event_count_once(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME, offset=7),
        event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME, offset=7),  # redelivered batch
        event("e2", "u1", "2026-11-01T10:01:00.000Z", CART, offset=8),
        event("e2", "u1", "2026-11-01T10:01:00.000Z", CART, offset=8),
    ]
    rows = aggregate(spark, records, ["2026-11-01"])
    assert rows[("2026-11-01", HOME, "US")]["clicks"] == 1
    assert rows[("2026-11-01", HOME, "US")]["total_time_spent_seconds"] == 60.0
    assert rows[("2026-11-01", CART, "US")]["clicks"] == 1


def test_duplicate_with_different_content_keeps_the_lowest_kafka_offset(spark):
    # Same event_id from two Kafka records (a client re-sent it): the first one written wins,
    # whatever order the copies are read in.
    first = event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME, country="DE", offset=3)
    later = event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME, country="FR", offset=40)
    for records in ([first, later], [later, first]):
        rows = aggregate(spark, records, ["2026-11-01"])
        assert list(rows) == [("2026-11-01", HOME, "DE")]


def test_several_users_and_countries(spark):
    records = [
        event("a1", "alice", "2026-11-01T08:00:00.000Z", HOME, "US"),
        event("a2", "alice", "2026-11-01T08:02:00.000Z", HOME, "US"),
        event("b1", "bob", "2026-11-01T09:00:00.000Z", HOME, "US"),
        event("c1", "carol", "2026-11-01T09:00:00.000Z", HOME, "de"),  # raw is canonical, but case is not our key
        event("d1", "dave", "2026-11-01T09:30:00.000Z", HOME, "DE"),
        event("d2", "dave", "2026-11-01T09:30:10.500Z", CART, "DE"),
    ]
    rows = aggregate(spark, records, ["2026-11-01"])
    us = rows[("2026-11-01", HOME, "US")]
    assert (us["clicks"], us["unique_users"], us["timed_views"]) == (3, 2, 1)
    assert us["total_time_spent_seconds"] == 120.0
    de = rows[("2026-11-01", HOME, "DE")]
    assert (de["clicks"], de["unique_users"], de["timed_views"], de["total_time_spent_seconds"]) == (1, 1, 1, 10.5)
    assert ("2026-11-01", HOME, "de") in rows
    assert rows[("2026-11-01", CART, "DE")]["timed_views"] == 0


def test_missing_or_blank_country_becomes_unknown(spark):
    records = [
        event("e1", "u1", "2026-11-01T08:00:00.000Z", HOME, country=None),
        event("e2", "u2", "2026-11-01T08:00:00.000Z", HOME, country="  "),
        event("e3", "u3", "2026-11-01T08:00:00.000Z", HOME, country=" US "),
    ]
    rows = aggregate(spark, records, ["2026-11-01"])
    assert rows[("2026-11-01", HOME, "unknown")]["clicks"] == 2
    assert rows[("2026-11-01", HOME, "US")]["clicks"] == 1


def test_session_gap_boundary(spark):
    # One user per case: just under 30 minutes and exactly 30 minutes (not *more than* 30) stay in
    # the session; just over starts a new one, so the first event was an exit.
    records = []
    for user, next_ts in (
        ("under", "2026-11-01T10:29:59.999Z"),
        ("exact", "2026-11-01T10:30:00.000Z"),
        ("over", "2026-11-01T10:30:00.001Z"),
    ):
        records += [event(f"{user}-1", user, "2026-11-01T10:00:00.000Z"), event(f"{user}-2", user, next_ts)]
    assert time_on_page(spark, records) == {
        "under-1": 1_799_999,
        "exact-1": 1_800_000,
        "over-1": None,
        "under-2": None,
        "exact-2": None,
        "over-2": None,
    }


def test_session_gap_is_configurable(spark):
    records = [event("e1", "u1", "2026-11-01T10:00:00.000Z"), event("e2", "u1", "2026-11-01T10:10:00.001Z")]
    assert time_on_page(spark, records, gap=10)["e1"] is None
    assert time_on_page(spark, records, gap=11)["e1"] == 600_001


def test_time_on_page_only_follows_the_same_user(spark):
    records = [
        event("a1", "alice", "2026-11-01T10:00:00.000Z"),
        event("b1", "bob", "2026-11-01T10:01:00.000Z"),
        event("a2", "alice", "2026-11-01T10:05:00.000Z"),
    ]
    assert time_on_page(spark, records) == {"a1": 300_000, "b1": None, "a2": None}


def test_equal_timestamps_are_ordered_by_event_id(spark):
    records = [
        event("e-b", "u1", "2026-11-01T10:00:00.000Z", CART),
        event("e-a", "u1", "2026-11-01T10:00:00.000Z", HOME),
        event("e-c", "u1", "2026-11-01T10:00:02.000Z", HOME),
    ]
    assert time_on_page(spark, records) == {"e-a": 0, "e-b": 2000, "e-c": None}


def test_exits_are_not_timed_views(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME),
        event("e2", "u1", "2026-11-01T10:00:30.000Z", CART),  # exit: nothing follows within 30 min
        event("e3", "u1", "2026-11-01T12:00:00.000Z", HOME),  # new session, immediately an exit
    ]
    rows = aggregate(spark, records, ["2026-11-01"])
    home = rows[("2026-11-01", HOME, "US")]
    assert (home["clicks"], home["timed_views"], home["total_time_spent_seconds"], home["avg_time_spent_seconds"]) == (
        2,
        1,
        30.0,
        30.0,
    )


def test_a_date_with_only_exits_has_a_null_average(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME),
        event("e2", "u2", "2026-11-01T11:00:00.000Z", HOME),
    ]
    row = aggregate(spark, records, ["2026-11-01"])[("2026-11-01", HOME, "US")]
    assert row["timed_views"] == 0
    assert row["total_time_spent_seconds"] == 0.0
    assert row["avg_time_spent_seconds"] is None


def test_average_is_total_over_timed_views(spark):
    records = [
        event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME),
        event("e2", "u1", "2026-11-01T10:00:01.000Z", HOME),
        event("e3", "u1", "2026-11-01T10:00:03.000Z", HOME),
        event("e4", "u1", "2026-11-01T10:00:03.500Z", CART),
    ]
    row = aggregate(spark, records, ["2026-11-01"])[("2026-11-01", HOME, "US")]
    assert (row["timed_views"], row["total_time_spent_seconds"]) == (3, 3.5)
    assert row["avg_time_spent_seconds"] == pytest.approx(3.5 / 3)


def test_session_across_midnight_gives_the_earlier_day_its_time(spark):
    records = [
        event("e1", "u1", "2026-11-01T23:50:00.000Z", HOME),
        event("e2", "u1", "2026-11-02T00:10:00.000Z", CART),
        event("e3", "u1", "2026-11-02T00:11:00.000Z", HOME),
    ]
    day1 = aggregate(spark, records, ["2026-11-01"])
    assert list(day1) == [("2026-11-01", HOME, "US")], "only the requested date is output"
    assert day1[("2026-11-01", HOME, "US")]["total_time_spent_seconds"] == 1200.0
    day2 = aggregate(spark, records, ["2026-11-02"])
    assert day2[("2026-11-02", CART, "US")]["total_time_spent_seconds"] == 60.0
    assert day2[("2026-11-02", HOME, "US")]["timed_views"] == 0


def test_event_date_is_the_utc_date_whatever_the_offset_or_session_zone(spark):
    records = [
        event("e1", "u1", "2026-11-02T01:30:00.000+02:00", HOME),  # 2026-11-01T23:30Z
        event("e2", "u2", "2026-11-01T23:59:59.999Z", HOME),
        event("e3", "u3", "2026-11-02T00:00:00.000Z", HOME),
    ]
    previous = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
        rows = aggregate(spark, records, ["2026-11-01", "2026-11-02"])
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert rows[("2026-11-01", HOME, "US")]["clicks"] == 2
    assert rows[("2026-11-02", HOME, "US")]["clicks"] == 1


def test_invalid_records_are_rejected_with_a_reason_and_the_rest_is_kept(spark):
    records = [
        "{this is not json",
        event("", "u1", "2026-11-01T10:00:00.000Z"),
        event("e2", None, "2026-11-01T10:00:00.000Z"),
        event("e3", "u3", "2026-11-01"),  # no time, no zone
        event("e4", "u4", "2026-11-01T10:00:00"),  # no zone
        event("e5", "u5", "yesterday"),
        event("e6", "u6", "2026-11-01T10:00:00.000Z", page_url=None),
        event("ok", "u7", "2026-11-01T10:00:00.000Z", HOME),
    ]
    parsed = job.parse_events(raw_frame(spark, records))
    reasons = sorted(r["reject_reason"] or "valid" for r in parsed.collect())
    assert reasons == sorted(
        [
            "malformed_json",
            "missing_event_id",
            "missing_user_id",
            "invalid_ts",
            "invalid_ts",
            "invalid_ts",
            "missing_page_url",
            "valid",
        ]
    )
    assert set(reasons) - {"valid"} == set(job.REJECT_REASONS), "the summary counts every reason there is"
    rows = aggregate(spark, records, ["2026-11-01"])
    assert [(k, r["clicks"]) for k, r in rows.items()] == [(("2026-11-01", HOME, "US"), 1)]


def test_kafka_coordinates_written_as_strings_are_accepted(spark):
    record = event("e1", "u1", "2026-11-01T10:00:00.000Z", HOME)
    record["kafka"] = {"topic": "clickstream", "partition": "2", "offset": "9007199254740993", "timestamp": 1}
    parsed = job.parse_events(raw_frame(spark, [record])).collect()
    assert parsed[0]["reject_reason"] is None
    assert (parsed[0]["kafka_partition"], parsed[0]["kafka_offset"]) == (2, 9007199254740993)


def test_rows_outside_the_requested_dates_are_not_output(spark):
    records = [event("e1", "u1", "2026-11-01T10:00:00.000Z"), event("e2", "u1", "2026-11-03T10:00:00.000Z")]
    assert set(k[0] for k in aggregate(spark, records, ["2026-11-03"])) == {"2026-11-03"}
    assert aggregate(spark, records, ["2026-11-02"]) == {}


def test_every_output_row_carries_the_same_computed_at(spark):
    records = [event(f"e{i}", f"u{i}", f"2026-11-0{1 + i % 2}T10:00:00.000Z") for i in range(6)]
    rows = aggregate(spark, records, ["2026-11-01", "2026-11-02"])
    assert {r["computed_at"] for r in rows.values()} == {COMPUTED_AT}
    assert {r["event_date"] for r in rows.values()} == {"2026-11-01", "2026-11-02"}


def test_an_invalid_session_gap_is_refused(spark):
    frame = raw_frame(spark, [event("e1", "u1", "2026-11-01T10:00:00.000Z")])
    for gap in (0, 24 * 60 + 1):
        with pytest.raises(ValueError, match="session gap"):
            job.add_time_on_page(job.parse_events(frame), gap)
