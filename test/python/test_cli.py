"""clickstream_job.cli: the job arguments, and whole runs (`run`) over a raw zone in a local
folder: what a run recomputes, replaces, empties, leaves alone and remembers (SPEC section 3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import types

import pytest

from aggregate_fixtures import CART, HOME, TABLE_NAMES, LocalRawZone, bot_event, event, rows_by_key, without_computed_at
from clickstream_job import cli
from clickstream_job.config import JobConfig

T1 = dt.datetime(2026, 11, 4, 6, 0, 0, 123000, tzinfo=dt.timezone.utc)
T2 = T1 + dt.timedelta(hours=1)


@pytest.fixture
def zone(tmp_path):
    return LocalRawZone(tmp_path)


def snapshot(zone):
    """Every output file of every table and the state file, with modification times."""
    files = {p: p.stat().st_mtime_ns for p in zone.output.rglob("*") if p.is_file()} if zone.output.exists() else {}
    state = zone.state / "state.json"
    return files, (state.stat().st_mtime_ns if state.exists() else None)


def files_of_date(zone, date):
    return {p: p.stat().st_mtime_ns for t in TABLE_NAMES for p in zone.output_files(t).get(date, [])}


def three_days(zone):
    zone.put("2026-11-01", 23, "clickstream-0-0-1", [
        event("a1", "alice", "2026-11-01T23:40:00.000Z", HOME, offset=0),
        event("b1", "bob", "2026-11-01T23:50:00.000Z", HOME, "DE", offset=1),
    ])
    zone.put("2026-11-02", 0, "clickstream-0-2-3", [
        event("a2", "alice", "2026-11-02T00:05:00.000Z", CART, offset=2),
        event("c1", "carol", "2026-11-02T00:30:00.000Z", HOME, offset=3),
    ])
    zone.put("2026-11-03", 12, "clickstream-1-0-0", [event("d1", "dave", "2026-11-03T12:00:00.000Z", CART, partition=1)])


# ---------------------------------------------------------------------------------------------
# Whole runs


def test_run_first_writes_one_self_describing_file_per_date_and_table_then_the_state(spark, zone):
    three_days(zone)
    summary = cli.run(spark, zone.config(), now=T1)

    assert (summary["mode"], summary["changed_dates"], summary["dates"]) == ("incremental", ["2026-11-01", "2026-11-02", "2026-11-03"], ["2026-11-01", "2026-11-02", "2026-11-03"])
    assert summary["tables"]["url_country_daily"] == {"dates": ["2026-11-01", "2026-11-02", "2026-11-03"], "rows": 5, "emptied": []}
    assert summary["tables"]["sessions_daily"]["rows"] == 4 and summary["rows_written"] == sum(t["rows"] for t in summary["tables"].values())
    for table in TABLE_NAMES:
        files = zone.output_files(table)
        assert {d: len(f) for d, f in files.items()} == {"2026-11-01": 1, "2026-11-02": 1, "2026-11-03": 1}, table
        assert all(p.name.startswith("part-") and p.name.endswith(".json") for f in files.values() for p in f)
    assert not list(zone.output.rglob("_SUCCESS")), "no _SUCCESS objects for the indexer to trip on"

    rows = rows_by_key("url_country_daily", zone.output_rows())
    assert rows[("2026-11-01", HOME, "US")] == {
        "event_date": "2026-11-01", "page_url": HOME, "country": "US", "clicks": 1, "unique_users": 1, "timed_views": 0,
        "total_time_spent_seconds": 0.0, "avg_time_spent_seconds": None, "entrances": 1, "bounces": 1, "bot_clicks": 0,
        "computed_at": "2026-11-04T06:00:00.123Z",
    }  # fmt: skip  (alice's session ends at midnight: no time across it any more)
    line = zone.output_files()["2026-11-03"][0].read_text().strip()
    assert '"avg_time_spent_seconds":null' in line, "a null is written, not left out"

    state = zone.state_document()
    assert (state["format_version"], state["tables"], state["updated_at"]) == (2, list(TABLE_NAMES), "2026-11-04T06:00:00.123Z")
    assert sorted(state["partitions"]) == ["dt=2026-11-01/hr=23", "dt=2026-11-02/hr=00", "dt=2026-11-03/hr=12"]


def test_run_with_no_new_input_writes_nothing(spark, zone):
    three_days(zone)
    cli.run(spark, zone.config(), now=T1)
    before = snapshot(zone)
    summary = cli.run(spark, zone.config(), now=T2)
    assert summary["dates"] == [] and summary["dates_written"] == [] and summary["state_written"] is False
    assert snapshot(zone) == before


def test_run_recomputes_only_the_date_of_a_late_event_in_every_table(spark, zone):
    three_days(zone)
    cli.run(spark, zone.config(), now=T1)
    untouched = {d: files_of_date(zone, d) for d in ("2026-11-02", "2026-11-03")}

    # Bob's click of 23:55 arrives late, in a new object of an already computed hour.
    zone.put("2026-11-01", 23, "clickstream-2-0-0", [event("b2", "bob", "2026-11-01T23:55:00.000Z", CART, "DE", partition=2)])
    summary = cli.run(spark, zone.config(), now=T2)

    assert (summary["changed_dates"], summary["dates"], summary["state_written"]) == (["2026-11-01"], ["2026-11-01"], True)
    assert all(t["dates"] == ["2026-11-01"] for t in summary["tables"].values())
    assert {d: files_of_date(zone, d) for d in untouched} == untouched, "other dates are not rewritten in any table"
    rows = rows_by_key("url_country_daily", zone.output_rows())
    bob = rows[("2026-11-01", HOME, "DE")]
    assert (bob["timed_views"], bob["total_time_spent_seconds"], bob["bounces"], bob["computed_at"]) == (1, 300.0, 0, "2026-11-04T07:00:00.123Z")
    sessions = rows_by_key("sessions_daily", zone.output_rows("sessions_daily"))
    assert sessions[("2026-11-01", "DE", "desktop", "Chrome", "Windows", "search")]["pageviews"] == 2
    assert {r["computed_at"] for r in zone.output_rows("geo_daily") if r["event_date"] != "2026-11-01"} == {"2026-11-04T06:00:00.123Z"}
    assert cli.run(spark, zone.config(), now=T2)["dates"] == [], "the late object is remembered"


def test_run_recomputes_a_rewritten_object_to_the_same_rows(spark, zone):
    three_days(zone)
    cli.run(spark, zone.config(), now=T1)
    before = {t: without_computed_at(zone.output_rows(t)) for t in TABLE_NAMES}
    path = zone.raw / "dt=2026-11-03/hr=12/clickstream-1-0-0.ndjson.gz"
    path.write_bytes(path.read_bytes())  # a redelivered batch overwriting its own key
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    assert cli.run(spark, zone.config(), now=T2)["dates"] == ["2026-11-03"]
    assert {t: without_computed_at(zone.output_rows(t)) for t in TABLE_NAMES} == before


def test_run_backfill_replaces_exactly_the_given_dates(spark, zone):
    three_days(zone)
    cli.run(spark, zone.config(), now=T1)
    other_dates = {d: files_of_date(zone, d) for d in ("2026-11-01", "2026-11-03")}
    state_before = zone.state_document()

    summary = cli.run(spark, zone.config(dates=("2026-11-02",)), now=T2)

    assert (summary["mode"], summary["dates"], summary["dates_written"]) == ("backfill", ["2026-11-02"], ["2026-11-02"])
    assert {d: files_of_date(zone, d) for d in other_dates} == other_dates
    for table in TABLE_NAMES:
        stamps = {r["event_date"]: r["computed_at"] for r in zone.output_rows(table)}
        assert stamps == {"2026-11-01": "2026-11-04T06:00:00.123Z", "2026-11-02": "2026-11-04T07:00:00.123Z", "2026-11-03": "2026-11-04T06:00:00.123Z"}, table
        assert len(zone.output_files(table)["2026-11-02"]) == 1
    assert zone.state_document() == state_before, "nothing changed in the raw zone"


def test_run_backfill_of_a_date_left_without_rows_writes_the_empty_marker(spark, zone):
    three_days(zone)
    zone.put("2026-11-05", 8, "clickstream-0-9-9", [event("e1", "erin", "2026-11-05T08:00:00.000Z"), bot_event("x1", "crawler", "2026-11-05T08:01:00.000Z")])
    cli.run(spark, zone.config(), now=T1)
    # Erin's events are removed from the raw zone (an erasure rewrote the object): only the bot is left.
    zone.put("2026-11-05", 8, "clickstream-0-9-9", [bot_event("x1", "crawler", "2026-11-05T08:01:00.000Z")])
    summary = cli.run(spark, zone.config(dates=("2026-11-05",)), now=T2)

    assert summary["tables"]["url_country_daily"] == {"dates": ["2026-11-05"], "rows": 1, "emptied": []}
    assert summary["tables"]["sessions_daily"] == {"dates": [], "rows": 0, "emptied": ["2026-11-05"]}
    assert summary["tables"]["traffic_sources_daily"]["emptied"] == ["2026-11-05"]
    for table in ("sessions_daily", "traffic_sources_daily"):
        files = zone.output_files(table)["2026-11-05"]
        assert [p.name for p in files] == ["_empty.json"], "the old rows are gone; only the marker is left"
        assert json.loads(files[0].read_text()) == {"table": table, "event_date": "2026-11-05", "rows": 0, "computed_at": "2026-11-04T07:00:00.123Z"}
    assert [(r["clicks"], r["bot_clicks"]) for r in zone.output_rows() if r["event_date"] == "2026-11-05"] == [(0, 1)]

    # Then every record of the date is gone: every table gets the marker; a later run with rows replaces it.
    zone.put("2026-11-05", 8, "clickstream-0-9-9", [])
    summary = cli.run(spark, zone.config(dates=("2026-11-05",)), now=T2)
    assert all(t["emptied"] == ["2026-11-05"] for t in summary["tables"].values()) and summary["dates_written"] == []
    assert all([p.name for p in zone.output_files(t)["2026-11-05"]] == ["_empty.json"] for t in TABLE_NAMES)
    zone.put("2026-11-05", 8, "clickstream-0-9-9", [event("e2", "erin", "2026-11-05T08:30:00.000Z")])
    cli.run(spark, zone.config(), now=T2)
    assert all([p.name[:5] for p in zone.output_files(t)["2026-11-05"]] == ["part-"] for t in TABLE_NAMES)


def test_run_backfill_of_dates_that_never_had_output_writes_nothing(spark, zone):
    three_days(zone)
    cli.run(spark, zone.config(), now=T1)
    before = snapshot(zone)
    summary = cli.run(spark, zone.config(dates=("2026-10-20", "2026-10-21")), now=T2)
    assert summary["dates_written"] == [] and summary["input_partitions"] == 0
    assert all(t["emptied"] == [] for t in summary["tables"].values())
    assert snapshot(zone) == before


def test_run_on_an_empty_raw_zone_writes_nothing(spark, zone):
    summary = cli.run(spark, zone.config(), now=T1)
    assert summary["dates"] == [] and summary["state_written"] is False
    assert not zone.output.exists() and not zone.state.exists()


def test_run_counts_and_skips_invalid_records_and_ignores_files_outside_the_layout(spark, zone):
    zone.put("2026-11-01", 9, "clickstream-0-0-2", [
        event("ok", "u1", "2026-11-01T09:00:00.000Z", HOME),
        "{broken",
        event("no-user", None, "2026-11-01T09:00:00.000Z", HOME),
        event("misplaced", "u2", "2026-11-02T09:00:00.000Z", HOME),  # in the folder of another date
    ])
    (zone.raw / "dt=2026-11-01" / "stray.ndjson.gz").write_bytes(b"not even gzip")
    (zone.raw / "dt=2026-11-01" / "hr=09" / "_temporary-upload").write_bytes(b"partial")
    summary = cli.run(spark, zone.config(), now=T1)
    assert summary["rejected"] == {"malformed_json": 1, "missing_user_id": 1, "date_outside_partition": 1}
    assert summary["records_read"] == 4
    assert [(r["event_date"], r["clicks"]) for r in zone.output_rows()] == [("2026-11-01", 1)]
    assert list(zone.state_document()["partitions"]) == ["dt=2026-11-01/hr=09"]


def test_run_stops_with_a_clear_error_on_an_unreadable_state(spark, zone):
    three_days(zone)
    zone.state.mkdir(parents=True)
    (zone.state / "state.json").write_text("{ truncated")
    with pytest.raises(RuntimeError, match="state.json is unreadable.*Delete it"):
        cli.run(spark, zone.config(), now=T1)
    assert not zone.output.exists()


def test_run_recomputes_everything_over_a_state_of_the_one_table_job(spark, zone):
    three_days(zone)
    zone.state.mkdir(parents=True)
    (zone.state / "state.json").write_text(json.dumps({"format_version": 1, "partitions": {"dt=2026-11-01/hr=23": "x"}}))
    summary = cli.run(spark, zone.config(), now=T1)
    assert summary["dates"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert zone.state_document()["format_version"] == 2


def test_run_with_lookback_lists_only_the_recent_dates(spark, zone):
    now = dt.datetime(2026, 11, 10, 1, 0, tzinfo=dt.timezone.utc)
    zone.put("2026-11-01", 5, "old", [event("o1", "u1", "2026-11-01T05:00:00.000Z", HOME)])
    zone.put("2026-11-09", 0, "new", [event("n1", "u2", "2026-11-09T00:05:00.000Z", CART)])
    summary = cli.run(spark, zone.config(lookback_days=1), now=now)  # 2026-11-09 and later
    assert (summary["changed_dates"], summary["dates_written"]) == (["2026-11-09"], ["2026-11-09"])
    assert "dt=2026-11-01/hr=05" not in zone.state_document()["partitions"]


# ---------------------------------------------------------------------------------------------
# Arguments


def test_parse_job_arguments_without_glue_uses_argparse_and_ignores_foreign_ones(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)  # import fails as it does outside Glue
    config = cli.parse_job_arguments([
        "aggregate_clicks.py", "--raw_uri", "s3a://raw/events", "--output_uri", "s3a://agg/aggregates",
        "--state_uri", "s3a://agg/state/aggregates", "--dates", "2026-11-01..2026-11-02", "--session_gap_minutes", "45",
        "--some-wrapper-flag", "x",
    ])  # fmt: skip
    assert config == JobConfig(
        raw_uri="s3a://raw/events", output_uri="s3a://agg/aggregates", state_uri="s3a://agg/state/aggregates",
        dates=("2026-11-01", "2026-11-02"), session_gap_minutes=45, lookback_days=None,
    )  # fmt: skip


def _fake_glue(monkeypatch, calls):
    """awsglue.utils.getResolvedOptions as aws-glue-libs implements it: argparse with every
    requested name required, unknown arguments tolerated, Glue's own options added."""
    import argparse

    def getResolvedOptions(args, options):
        calls.append(list(options))
        parser = argparse.ArgumentParser()
        parser.add_argument("--job-bookmark-option", required=False)
        parser.add_argument("--JOB_NAME", required=False)
        for option in options:
            parser.add_argument("--" + option, required=True)
        parsed, _extra = parser.parse_known_args(args[1:])
        return vars(parsed)

    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = getResolvedOptions
    package = types.ModuleType("awsglue")
    package.utils = utils
    monkeypatch.setitem(sys.modules, "awsglue", package)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)


def test_parse_job_arguments_under_glue_asks_only_for_the_optional_names_present(monkeypatch):
    calls = []
    _fake_glue(monkeypatch, calls)
    argv = [
        "script.py", "--JOB_NAME", "aggregate-clicks", "--raw_uri", "s3://raw/events", "--job-bookmark-option",
        "job-bookmark-disable", "--output_uri", "s3://agg/aggregates", "--state_uri", "s3://agg/state/aggregates",
        "--lookback_days", "7",
    ]  # fmt: skip
    config = cli.parse_job_arguments(argv)
    assert calls == [["raw_uri", "output_uri", "state_uri", "lookback_days"]]
    assert (config.raw_uri, config.dates, config.session_gap_minutes, config.lookback_days) == ("s3://raw/events", None, 30, 7)


def test_parse_job_arguments_takes_an_empty_dates_argument_as_incremental(monkeypatch):
    _fake_glue(monkeypatch, [])
    argv = ["s.py", "--raw_uri", "s3://r", "--output_uri", "s3://o", "--state_uri", "s3://s", "--dates", " "]
    assert cli.parse_job_arguments(argv).dates is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--session_gap_minutes", "0"], "session_gap_minutes"),
        (["--session_gap_minutes", "30.5"], "session_gap_minutes"),
        (["--lookback_days", "-1"], "lookback_days"),
        (["--dates", "2026-13-01"], "--dates"),
    ],
)
def test_parse_job_arguments_reports_bad_values_clearly(monkeypatch, extra, message):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    argv = ["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o", "--state_uri", "s3a://s", *extra]
    with pytest.raises(ValueError, match=message):
        cli.parse_job_arguments(argv)


def test_parse_job_arguments_stops_on_a_missing_required_argument(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    with pytest.raises(SystemExit):
        cli.parse_job_arguments(["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o"])


def test_main_reports_bad_arguments_with_exit_code_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    argv = ["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o", "--state_uri", "s3a://s", "--dates", "nope"]
    assert cli.main(argv) == 2
