"""Whole job runs (`run`) over a raw zone in a local folder: the incremental rules of SPEC
section 3 (what a run recomputes, replaces, leaves alone and remembers)."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from aggregate_fixtures import LocalRawZone, event, load_job_module, rows_by_key, without_computed_at

job = load_job_module()

HOME = "https://shop.example.com/home"
CART = "https://shop.example.com/cart"
T1 = dt.datetime(2026, 11, 4, 6, 0, 0, 123000, tzinfo=dt.timezone.utc)
T2 = T1 + dt.timedelta(hours=1)


@pytest.fixture
def zone(tmp_path):
    return LocalRawZone(tmp_path)


def snapshot(zone):
    """Output files with their modification times, and the state file's: what a run touched."""
    files = {p: p.stat().st_mtime_ns for paths in zone.output_files().values() for p in paths}
    state = zone.state / "state.json"
    return files, (state.stat().st_mtime_ns if state.exists() else None)


def three_days(zone):
    zone.put("2026-11-01", 23, "clickstream-0-0-1", [
        event("a1", "alice", "2026-11-01T23:40:00.000Z", HOME, offset=0),
        event("b1", "bob", "2026-11-01T23:50:00.000Z", HOME, "DE", offset=1),
    ])
    zone.put("2026-11-02", 0, "clickstream-0-2-3", [
        event("a2", "alice", "2026-11-02T00:05:00.000Z", CART, offset=2),  # 25 min after a1: same session
        event("c1", "carol", "2026-11-02T00:30:00.000Z", HOME, offset=3),
    ])
    zone.put("2026-11-03", 12, "clickstream-1-0-0", [event("d1", "dave", "2026-11-03T12:00:00.000Z", CART, partition=1)])


def test_first_run_writes_one_self_describing_file_per_date_and_then_the_state(spark, zone):
    three_days(zone)
    summary = job.run(spark, zone.config(job), now=T1)

    assert summary["mode"] == "incremental"
    assert summary["changed_dates"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert summary["dates"] == ["2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]
    assert summary["dates_written"] == ["2026-11-01", "2026-11-02", "2026-11-03"]  # 10-31 has no events
    files = zone.output_files()
    assert {d: len(f) for d, f in files.items()} == {"2026-11-01": 1, "2026-11-02": 1, "2026-11-03": 1}
    assert all(p.name.startswith("part-") and p.name.endswith(".json") for f in files.values() for p in f)
    assert not list(zone.output.rglob("_SUCCESS")), "no _SUCCESS objects for the indexer to trip on"

    rows = rows_by_key(zone.output_rows())
    assert rows[("2026-11-01", HOME, "US")] == {
        "event_date": "2026-11-01",
        "page_url": HOME,
        "country": "US",
        "clicks": 1,
        "unique_users": 1,
        "timed_views": 1,
        "total_time_spent_seconds": 1500.0,  # across midnight, to a2
        "avg_time_spent_seconds": 1500.0,
        "computed_at": "2026-11-04T06:00:00.123Z",
    }
    # An exit-only row keeps the field, with an explicit null.
    line = files["2026-11-03"][0].read_text().strip()
    assert json.loads(line)["avg_time_spent_seconds"] is None and '"avg_time_spent_seconds":null' in line

    state = zone.state_document()
    assert state["format_version"] == 1 and state["updated_at"] == "2026-11-04T06:00:00.123Z"
    assert sorted(state["partitions"]) == ["dt=2026-11-01/hr=23", "dt=2026-11-02/hr=00", "dt=2026-11-03/hr=12"]


def test_a_run_with_no_new_input_writes_nothing(spark, zone):
    three_days(zone)
    job.run(spark, zone.config(job), now=T1)
    before = snapshot(zone)
    summary = job.run(spark, zone.config(job), now=T2)
    assert summary["dates"] == [] and summary["dates_written"] == [] and summary["state_written"] is False
    assert snapshot(zone) == before


def test_late_events_recompute_their_date_and_the_day_before_only(spark, zone):
    three_days(zone)
    job.run(spark, zone.config(job), now=T1)
    untouched_file = zone.output_files()["2026-11-03"][0]
    untouched = (untouched_file.name, untouched_file.stat().st_mtime_ns)

    # Bob's next click arrives late, in a new object of an already computed hour.
    zone.put("2026-11-02", 0, "clickstream-2-0-0", [event("b2", "bob", "2026-11-02T00:10:00.000Z", CART, "DE", partition=2)])
    summary = job.run(spark, zone.config(job), now=T2)

    assert summary["changed_dates"] == ["2026-11-02"]
    assert summary["dates"] == ["2026-11-01", "2026-11-02"]
    assert summary["state_written"] is True
    f = zone.output_files()["2026-11-03"][0]
    assert (f.name, f.stat().st_mtime_ns) == untouched
    rows = rows_by_key(zone.output_rows())
    bob = rows[("2026-11-01", HOME, "DE")]
    assert (bob["timed_views"], bob["total_time_spent_seconds"], bob["computed_at"]) == (1, 1200.0, "2026-11-04T07:00:00.123Z")
    assert rows[("2026-11-02", CART, "DE")]["clicks"] == 1
    assert rows[("2026-11-03", CART, "US")]["computed_at"] == "2026-11-04T06:00:00.123Z"
    assert job.run(spark, zone.config(job), now=T2)["dates"] == [], "the late object is remembered"


def test_a_redelivered_batch_overwriting_its_object_changes_nothing_but_is_recomputed(spark, zone):
    three_days(zone)
    job.run(spark, zone.config(job), now=T1)
    before = without_computed_at(zone.output_rows())
    # Same key, same records, a new write: the fingerprint sees a rewrite (modification time).
    path = zone.raw / "dt=2026-11-03/hr=12/clickstream-1-0-0.ndjson.gz"
    data = path.read_bytes()
    path.write_bytes(data)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    summary = job.run(spark, zone.config(job), now=T2)
    assert summary["dates"] == ["2026-11-02", "2026-11-03"]
    assert without_computed_at(zone.output_rows()) == before


def test_backfill_replaces_exactly_the_given_dates(spark, zone):
    three_days(zone)
    job.run(spark, zone.config(job), now=T1)
    files_before = zone.output_files()
    state_before = zone.state_document()

    summary = job.run(spark, zone.config(job, dates=("2026-11-02",)), now=T2)

    assert summary["mode"] == "backfill" and summary["dates_written"] == ["2026-11-02"]
    files_after = zone.output_files()
    assert files_after["2026-11-01"] == files_before["2026-11-01"]
    assert files_after["2026-11-03"] == files_before["2026-11-03"]
    assert files_after["2026-11-02"] != files_before["2026-11-02"], "a new file replaced the old one"
    assert len(files_after["2026-11-02"]) == 1
    stamps = {r["event_date"]: r["computed_at"] for r in zone.output_rows()}
    assert stamps == {
        "2026-11-01": "2026-11-04T06:00:00.123Z",
        "2026-11-02": "2026-11-04T07:00:00.123Z",
        "2026-11-03": "2026-11-04T06:00:00.123Z",
    }
    assert zone.state_document() == state_before, "nothing changed in the raw zone"


def test_the_same_input_gives_the_same_rows_whatever_the_partitioning(spark, zone):
    three_days(zone)
    dates = ("2026-11-01", "2026-11-02", "2026-11-03")
    job.run(spark, zone.config(job, dates=dates), now=T1)
    first = zone.output_rows()
    previous = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "1")
        job.run(spark, zone.config(job, dates=dates), now=T2)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", previous)
    second = zone.output_rows()
    assert without_computed_at(second) == without_computed_at(first)
    assert [r["page_url"] for r in second] == [r["page_url"] for r in first], "same row order in the files"
    assert {r["computed_at"] for r in second} == {"2026-11-04T07:00:00.123Z"}


def test_an_empty_raw_zone_writes_nothing(spark, zone):
    summary = job.run(spark, zone.config(job), now=T1)
    assert summary["dates"] == [] and summary["state_written"] is False
    assert not zone.output.exists() and not zone.state.exists()


def test_a_backfill_of_dates_without_events_leaves_their_output_alone(spark, zone):
    three_days(zone)
    job.run(spark, zone.config(job), now=T1)
    before = snapshot(zone)
    summary = job.run(spark, zone.config(job, dates=("2026-10-20", "2026-10-21")), now=T2)
    assert summary["dates_written"] == [] and summary["input_partitions"] == 0
    assert snapshot(zone) == before


def test_invalid_records_are_counted_and_skipped_and_files_outside_the_layout_ignored(spark, zone):
    zone.put("2026-11-01", 9, "clickstream-0-0-2", [
        event("ok", "u1", "2026-11-01T09:00:00.000Z", HOME),
        "{broken",
        event("no-user", None, "2026-11-01T09:00:00.000Z", HOME),
    ])
    stray = zone.raw / "dt=2026-11-01" / "stray.ndjson.gz"
    stray.write_bytes(b"not even gzip")
    hidden = zone.raw / "dt=2026-11-01" / "hr=09" / "_temporary-upload"
    hidden.write_bytes(b"partial")
    summary = job.run(spark, zone.config(job), now=T1)
    assert summary["rejected"] == {"malformed_json": 1, "missing_user_id": 1}
    assert summary["records_read"] == 3
    assert [(r["event_date"], r["clicks"]) for r in zone.output_rows()] == [("2026-11-01", 1)]
    assert list(zone.state_document()["partitions"]) == ["dt=2026-11-01/hr=09"]


def test_an_unreadable_state_is_a_clear_error_and_nothing_is_written(spark, zone):
    three_days(zone)
    zone.state.mkdir(parents=True)
    (zone.state / "state.json").write_text("{ truncated")
    with pytest.raises(RuntimeError, match="state.json is unreadable.*Delete it"):
        job.run(spark, zone.config(job), now=T1)
    assert not zone.output.exists()


def test_lookback_limits_what_an_incremental_run_looks_at_but_not_the_neighbours_it_reads(spark, zone):
    now = dt.datetime(2026, 11, 10, 1, 0, tzinfo=dt.timezone.utc)
    zone.put("2026-11-01", 5, "old", [event("o1", "u1", "2026-11-01T05:00:00.000Z", HOME)])
    zone.put("2026-11-08", 23, "prev", [event("p1", "u2", "2026-11-08T23:55:00.000Z", HOME)])
    zone.put("2026-11-09", 0, "new", [event("n1", "u2", "2026-11-09T00:05:00.000Z", CART)])
    config = zone.config(job, lookback_days=1)  # 2026-11-09 and later
    summary = job.run(spark, config, now=now)
    assert summary["changed_dates"] == ["2026-11-09"]
    assert summary["dates_written"] == ["2026-11-08", "2026-11-09"]
    rows = rows_by_key(zone.output_rows())
    assert rows[("2026-11-08", HOME, "US")]["total_time_spent_seconds"] == 600.0, "read 11-08 although outside the window"
    assert "dt=2026-11-01/hr=05" not in zone.state_document()["partitions"]
