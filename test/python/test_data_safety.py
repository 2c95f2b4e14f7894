"""Data safety in the job (docs/operations.md, "Data safety"): the partition change log that
finds a late event's date outside the lookback window, and the recompute horizon that never
recomputes a date whose raw data may have started to expire. Planning in plain Python, whole runs
over a raw zone in a local folder."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest

from aggregate_fixtures import CART, HOME, LocalRawZone, event, rows_by_key
from clickstream_job import cli
from clickstream_job.config import JobConfig
from clickstream_job.state import (
    RawFile,
    RawPartition,
    change_log_dates,
    decode_consumed_changes,
    decode_state,
    encode_state,
    listing_filter,
    next_state,
    recompute_horizon,
)

URIS = dict(raw_uri="s3://r/events", output_uri="s3://o", state_uri="s3://s")


# ---------------------------------------------------------------------------------------------
# Planning


def test_recompute_horizon_keeps_a_day_for_early_objects_and_a_day_for_the_run():
    today = dt.date(2026, 11, 30)
    assert recompute_horizon(JobConfig(**URIS), today) is None
    # Expiry 10 days: an object of 2026-11-22 was written on 2026-11-21 at the earliest and is kept
    # until 2026-12-01 at least, so a run on 2026-11-30 may still read all of 2026-11-22, not 11-21.
    assert recompute_horizon(JobConfig(**URIS, raw_expiration_days=10), today) == "2026-11-22"
    assert recompute_horizon(JobConfig(**URIS, raw_expiration_days=2), today) == "2026-11-30"


def test_listing_filter_adds_the_change_log_dates_to_the_window_and_stops_at_the_horizon():
    today = dt.date(2026, 11, 30)
    window = listing_filter(JobConfig(**URIS, lookback_days=2), today, ["2026-10-01", "2026-11-15"])
    assert [window(d) for d in ("2026-10-01", "2026-10-02", "2026-11-15", "2026-11-27", "2026-11-28")] == [True, False, True, False, True]
    bounded = listing_filter(JobConfig(**URIS, lookback_days=2, raw_expiration_days=30), today, ["2026-10-01", "2026-11-15"])
    assert [bounded(d) for d in ("2026-10-01", "2026-11-15", "2026-11-28")] == [False, True, True]
    everything = listing_filter(JobConfig(**URIS, raw_expiration_days=30), today)
    assert [everything(d) for d in ("2026-11-01", "2026-11-02")] == [False, True]
    # A backfill takes its dates as given: the operator's decision.
    backfill = listing_filter(JobConfig(**URIS, dates=("2020-01-01",), raw_expiration_days=30), today, ["2026-11-29"])
    assert [backfill(d) for d in ("2020-01-01", "2026-11-29")] == [True, False]


def test_change_log_dates_come_from_the_entry_keys_alone():
    dates, unknown = change_log_dates([
        "dt=2026-11-02/clickstream-0-5-9.json", "dt=2026-10-01/clickstream-1-3-3.json", "dt=2026-11-02/clickstream-1-0-4.json",
        "dt=2026-02-30/x.json", "notes.txt", "dt=2026-11-02/hr=01/deep.json",
    ])  # fmt: skip
    assert dates == {
        "2026-10-01": ["dt=2026-10-01/clickstream-1-3-3.json"],
        "2026-11-02": ["dt=2026-11-02/clickstream-0-5-9.json", "dt=2026-11-02/clickstream-1-0-4.json"],
    }
    assert unknown == ["dt=2026-02-30/x.json", "dt=2026-11-02/hr=01/deep.json", "notes.txt"]


def test_next_state_forgets_partitions_older_than_the_horizon():
    p = RawPartition("2026-11-20", 0, "u", [RawFile("hr=00/a", 1, 1)])
    old = {"dt=2026-10-01/hr=00": "gone for good", "dt=2026-11-10/hr=03": "kept"}
    assert next_state({p.key: p}, {"2026-11-20"}, old, {"2026-11-20"}, horizon="2026-11-01") == {
        "dt=2026-11-10/hr=03": "kept", p.key: p.fingerprint(),
    }  # fmt: skip


def test_the_state_records_the_consumed_entries_and_older_states_read_as_none():
    tables = ["url_country_daily"]
    text = encode_state("s3://r", tables, {"dt=2026-11-01/hr=00": "a"}, "t", {"uri": "s3://r/changes", "consumed": ["dt=2026-11-01/b.json", "dt=2026-10-01/a.json"]})
    document = json.loads(text)
    assert document["change_log"] == {"uri": "s3://r/changes", "consumed": ["dt=2026-10-01/a.json", "dt=2026-11-01/b.json"]}
    assert decode_state(text, tables) == {"dt=2026-11-01/hr=00": "a"}
    assert decode_consumed_changes(text, "s3://r/changes") == {"dt=2026-10-01/a.json", "dt=2026-11-01/b.json"}
    assert decode_consumed_changes(text, "s3://other/changes") == set()
    assert decode_consumed_changes(encode_state("s3://r", tables, {}, "t"), "s3://r/changes") == set()
    assert "change_log" not in json.loads(encode_state("s3://r", tables, {}, "t"))


# ---------------------------------------------------------------------------------------------
# Whole runs

NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc)
LATER = NOW + dt.timedelta(hours=1)


@pytest.fixture
def zone(tmp_path):
    return LocalRawZone(tmp_path)


def changes_dir(zone):
    return zone.root / "raw" / "changes"


def log_entry(zone, date, name):
    """A change-log entry as ingest writes it (lambdas/ingest/core.ts `changeLogEntries`)."""
    path = changes_dir(zone) / f"dt={date}" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"date": date, "partitions": [], "objects": [], "topic": "clickstream", "partition": 0}) + "\n")
    return path


def remaining_entries(zone):
    root = changes_dir(zone)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json")) if root.exists() else []


def old_and_recent(zone):
    zone.put("2026-11-10", 9, "clickstream-0-0-1", [
        event("o1", "olga", "2026-11-10T09:00:00.000Z", HOME, offset=0),
        event("o2", "olga", "2026-11-10T09:10:00.000Z", CART, offset=1),
    ])  # fmt: skip
    zone.put("2026-11-29", 12, "clickstream-0-2-2", [event("r1", "rita", "2026-11-29T12:00:00.000Z", HOME, offset=2)])


def late_event(zone):
    """A late event for 2026-11-10, far outside a 2-day window: the object and its change-log entry."""
    zone.put("2026-11-10", 9, "clickstream-1-7-7", [event("late", "lars", "2026-11-10T09:30:00.000Z", HOME, partition=1, offset=7)])
    log_entry(zone, "2026-11-10", "clickstream-1-7-7")


def clicks_on(zone, date, page=HOME):
    rows = rows_by_key("url_country_daily", zone.output_rows())
    return rows[(date, page, "US")]["clicks"]


def test_without_the_change_log_a_late_event_older_than_the_window_is_never_counted(spark, zone):
    old_and_recent(zone)
    cli.run(spark, zone.config(), now=NOW)  # first run: the whole zone
    late_event(zone)
    summary = cli.run(spark, zone.config(lookback_days=2), now=LATER)
    assert summary["dates"] == []
    assert clicks_on(zone, "2026-11-10") == 1  # olga's HOME click only: the late one is lost


def test_the_change_log_recomputes_the_date_of_a_late_event_older_than_the_window(spark, zone):
    old_and_recent(zone)
    config = zone.config(lookback_days=2, changes_uri=changes_dir(zone).as_uri())
    cli.run(spark, zone.config(), now=NOW)
    late_event(zone)
    log_entry(zone, "2026-11-29", "clickstream-0-2-2")  # a date in the window, unchanged since

    summary = cli.run(spark, config, now=LATER)
    assert (summary["change_log_entries"], summary["change_log_dates"]) == (2, ["2026-11-10", "2026-11-29"])
    assert (summary["changed_dates"], summary["dates_written"]) == (["2026-11-10"], ["2026-11-10"])
    assert clicks_on(zone, "2026-11-10") == 2
    state = zone.state_document()
    assert state["change_log"] == {"uri": config.changes_uri, "consumed": ["dt=2026-11-10/clickstream-1-7-7.json", "dt=2026-11-29/clickstream-0-2-2.json"]}
    assert "dt=2026-11-10/hr=09" in state["partitions"]
    assert remaining_entries(zone) == []

    # Nothing new: nothing to do, nothing written.
    again = cli.run(spark, config, now=LATER + dt.timedelta(hours=1))
    assert (again["dates"], again["change_log_entries"], again["state_written"]) == ([], 0, False)


def test_an_entry_whose_removal_failed_is_removed_by_the_next_run_without_listing_its_date(spark, zone):
    old_and_recent(zone)
    config = zone.config(lookback_days=2, changes_uri=changes_dir(zone).as_uri())
    cli.run(spark, zone.config(), now=NOW)
    late_event(zone)
    cli.run(spark, config, now=LATER)
    # As if the removal had failed: the consumed entry is still there.
    log_entry(zone, "2026-11-10", "clickstream-1-7-7")
    summary = cli.run(spark, config, now=LATER + dt.timedelta(hours=1))
    assert (summary["change_log_entries"], summary["change_log_dates"], summary["dates"]) == (0, [], [])
    assert remaining_entries(zone) == []


def test_an_entry_written_during_a_run_stays_for_the_next_one(spark, zone, monkeypatch):
    old_and_recent(zone)
    config = zone.config(lookback_days=2, changes_uri=changes_dir(zone).as_uri())
    late_event(zone)
    original = cli.recompute_dates

    def recompute_while_ingest_writes(*args, **kwargs):
        zone.put("2026-11-29", 13, "clickstream-0-9-9", [event("new", "nina", "2026-11-29T13:00:00.000Z", CART, offset=9)])
        log_entry(zone, "2026-11-29", "clickstream-0-9-9")
        return original(*args, **kwargs)

    monkeypatch.setattr(cli, "recompute_dates", recompute_while_ingest_writes)
    cli.run(spark, config, now=NOW)
    monkeypatch.setattr(cli, "recompute_dates", original)
    assert remaining_entries(zone) == ["dt=2026-11-29/clickstream-0-9-9.json"]
    summary = cli.run(spark, config, now=LATER)
    assert summary["dates_written"] == ["2026-11-29"]
    assert remaining_entries(zone) == []


def expire_first_object(zone):
    (zone.raw / "dt=2026-11-10" / "hr=09" / "clickstream-0-0-1.ndjson.gz").unlink()


def test_without_a_raw_expiry_a_partly_expired_date_is_recomputed_from_what_is_left(spark, zone):
    old_and_recent(zone)
    cli.run(spark, zone.config(), now=NOW)
    expire_first_object(zone)
    late_event(zone)
    cli.run(spark, zone.config(changes_uri=changes_dir(zone).as_uri()), now=LATER)
    rows = rows_by_key("url_country_daily", zone.output_rows())
    assert (("2026-11-10", CART, "US") in rows, clicks_on(zone, "2026-11-10")) == (False, 1)  # olga's clicks are gone


def test_with_the_raw_expiry_a_date_that_may_have_expired_is_never_recomputed(spark, zone):
    old_and_recent(zone)
    cli.run(spark, zone.config(), now=NOW)
    before = {p: p.stat().st_mtime_ns for p in zone.output.rglob("event_date=2026-11-10/*")}
    expire_first_object(zone)
    late_event(zone)
    # Expiry 21 days: 2026-11-10 may have started to expire on 2026-11-30 (horizon 2026-11-11).
    config = zone.config(changes_uri=changes_dir(zone).as_uri(), raw_expiration_days=21)
    summary = cli.run(spark, config, now=LATER)
    assert summary["not_recomputed_dates"] == ["2026-11-10"]
    assert "2026-11-10" not in summary["dates"]
    assert {p: p.stat().st_mtime_ns for p in zone.output.rglob("event_date=2026-11-10/*")} == before
    assert (clicks_on(zone, "2026-11-10"), clicks_on(zone, "2026-11-10", CART)) == (1, 1)  # as computed when it was whole
    assert remaining_entries(zone) == []


def test_with_the_raw_expiry_a_recent_date_is_still_recomputed(spark, zone):
    old_and_recent(zone)
    cli.run(spark, zone.config(), now=NOW)
    zone.put("2026-11-20", 1, "clickstream-2-0-0", [event("x", "xena", "2026-11-20T01:00:00.000Z", HOME, partition=2)])
    log_entry(zone, "2026-11-20", "clickstream-2-0-0")
    summary = cli.run(spark, zone.config(lookback_days=2, changes_uri=changes_dir(zone).as_uri(), raw_expiration_days=21), now=LATER)
    assert (summary["dates_written"], summary["not_recomputed_dates"]) == (["2026-11-20"], [])
    # The state no longer holds the partitions beyond the horizon (2026-11-11).
    assert sorted(zone.state_document()["partitions"]) == ["dt=2026-11-20/hr=01", "dt=2026-11-29/hr=12"]


# ---------------------------------------------------------------------------------------------
# Arguments


def test_parse_job_arguments_reads_the_change_log_and_the_raw_expiry(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    base = ["s.py", "--raw_uri", "s3a://r/events", "--output_uri", "s3a://o", "--state_uri", "s3a://s"]
    config = cli.parse_job_arguments([*base, "--changes_uri", "s3a://r/changes", "--raw_expiration_days", "400"])
    assert (config.changes_uri, config.raw_expiration_days) == ("s3a://r/changes", 400)
    assert (cli.parse_job_arguments(base).changes_uri, cli.parse_job_arguments(base).raw_expiration_days) == (None, None)
    with pytest.raises(ValueError, match="raw_expiration_days"):
        cli.parse_job_arguments([*base, "--raw_expiration_days", "1"])
    with pytest.raises(ValueError, match="raw_expiration_days"):
        JobConfig(**URIS, raw_expiration_days=True)


# ---------------------------------------------------------------------------------------------
# The change log on S3 (s3a, the local S3 server)


def test_the_change_log_is_listed_and_removed_through_s3a_leaving_the_rest_alone(spark, s3_client, bucket):
    from clickstream_job.io import HadoopFiles

    keys = ["changes/dt=2026-11-10/clickstream-1-7-7.json", "changes/dt=2026-11-29/clickstream-0-2-2.json", "changes/dt=2026-11-29/clickstream-1-8-9.json"]
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b'{"date":"x"}\n')
    s3_client.put_object(Bucket=bucket, Key="changes/_note", Body=b"hidden")
    s3_client.put_object(Bucket=bucket, Key="events/dt=2026-11-10/hr=09/a.ndjson.gz", Body=b"x")
    files = HadoopFiles(spark)
    root = f"s3a://{bucket}/changes"
    entries = files.list_change_log(root)
    assert entries == [k[len("changes/") :] for k in keys]
    assert files.list_change_log(f"s3a://{bucket}/nothing-here") == []

    assert files.delete_files([f"{root}/{e}" for e in entries[:2]]) == []
    left = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"])
    # What Hadoop adds when a folder empties (a directory marker) is no entry: the next listing skips it.
    assert [k for k in left if not k.endswith("/")] == ["changes/_note", "changes/dt=2026-11-29/clickstream-1-8-9.json", "events/dt=2026-11-10/hr=09/a.ndjson.gz"]
    assert files.list_change_log(root) == ["dt=2026-11-29/clickstream-1-8-9.json"]
