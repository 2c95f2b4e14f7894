"""The job's incremental bookkeeping and argument parsing: plain Python, no Spark session."""

from __future__ import annotations

import sys
import types

import pytest

from aggregate_fixtures import load_job_module

job = load_job_module()


def partition(date, hour, *files):
    return job.RawPartition(date, hour, f"s3://raw/events/dt={date}/hr={hour:02d}", [job.RawFile(*f) for f in files])


def listing_of(*partitions):
    return {p.key: p for p in partitions}


def test_fingerprint_changes_with_any_file_change_and_not_with_listing_order():
    base = partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1000), ("hr=00/b.ndjson.gz", 20, 2000))
    same_reordered = partition("2026-11-01", 0, ("hr=00/b.ndjson.gz", 20, 2000), ("hr=00/a.ndjson.gz", 10, 1000))
    assert base.fingerprint() == same_reordered.fingerprint()
    variants = [
        partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1000)),  # file removed
        partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 11, 1000), ("hr=00/b.ndjson.gz", 20, 2000)),  # resized
        partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1001), ("hr=00/b.ndjson.gz", 20, 2000)),  # rewritten
        partition(
            "2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1000), ("hr=00/b.ndjson.gz", 20, 2000), ("hr=00/c.ndjson.gz", 1, 1)
        ),  # added
    ]
    assert len({v.fingerprint() for v in variants} | {base.fingerprint()}) == 5


def test_first_run_recomputes_every_date_and_the_day_before_each():
    listing = listing_of(
        partition("2026-11-01", 23, ("hr=23/a", 1, 1)),
        partition("2026-11-03", 5, ("hr=05/b", 1, 1)),
    )
    dates, changed = job.dates_to_recompute(listing, {}, None)
    assert changed == ["2026-11-01", "2026-11-03"]
    assert dates == ["2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03"]


def test_only_changed_partitions_make_their_dates_recompute():
    old = listing_of(
        partition("2026-11-01", 10, ("hr=10/a", 1, 1)),
        partition("2026-11-02", 10, ("hr=10/b", 1, 1)),
        partition("2026-11-05", 0, ("hr=00/c", 1, 1)),
    )
    state = {k: p.fingerprint() for k, p in old.items()}
    now = dict(old)
    now["dt=2026-11-05/hr=03"] = partition("2026-11-05", 3, ("hr=03/late", 5, 9))
    assert job.dates_to_recompute(now, state, None) == (["2026-11-04", "2026-11-05"], ["2026-11-05"])
    assert job.dates_to_recompute(old, state, None) == ([], [])


def test_a_vanished_partition_is_not_a_change():
    kept = partition("2026-11-02", 10, ("hr=10/b", 1, 1))
    state = {"dt=2026-11-01/hr=10": "whatever-it-was", kept.key: kept.fingerprint()}
    assert job.dates_to_recompute(listing_of(kept), state, None) == ([], [])


def test_backfill_recomputes_exactly_the_given_dates():
    listing = listing_of(partition("2026-11-01", 0, ("hr=00/a", 1, 1)))
    assert job.dates_to_recompute(listing, {}, ["2026-11-07", "2026-11-06", "2026-11-07"]) == (
        ["2026-11-06", "2026-11-07"],
        [],
    )


def test_inputs_are_the_dates_and_the_first_hours_of_the_next_day():
    listing = listing_of(
        partition("2026-11-01", 0, ("hr=00/a", 1, 1)),
        partition("2026-11-01", 23, ("hr=23/a", 1, 1)),
        partition("2026-11-02", 0, ("hr=00/a", 1, 1)),
        partition("2026-11-02", 1, ("hr=01/a", 1, 1)),
        partition("2026-11-02", 2, ("hr=02/a", 1, 1)),
        partition("2026-11-03", 0, ("hr=00/a", 1, 1)),
    )
    uris = lambda *keys: sorted(listing[k].uri for k in keys)  # noqa: E731
    assert job.input_uris(listing, ["2026-11-01"], 30) == uris("dt=2026-11-01/hr=00", "dt=2026-11-01/hr=23", "dt=2026-11-02/hr=00")
    assert job.input_uris(listing, ["2026-11-01"], 90) == uris(
        "dt=2026-11-01/hr=00", "dt=2026-11-01/hr=23", "dt=2026-11-02/hr=00", "dt=2026-11-02/hr=01"
    )
    assert job.input_uris(listing, ["2026-11-02"], 30) == uris(
        "dt=2026-11-02/hr=00", "dt=2026-11-02/hr=01", "dt=2026-11-02/hr=02", "dt=2026-11-03/hr=00"
    )
    assert job.input_uris(listing, ["2026-10-31"], 30) == uris("dt=2026-11-01/hr=00")
    assert job.input_uris(listing, [], 30) == []


@pytest.mark.parametrize("gap, hours", [(1, [0]), (30, [0]), (60, [0]), (61, [0, 1]), (1440, list(range(24)))])
def test_next_day_hours_cover_the_session_gap(gap, hours):
    assert job.next_day_hours(gap) == hours


def test_new_state_records_a_partition_only_when_its_date_and_the_day_before_were_recomputed():
    p1 = partition("2026-11-01", 0, ("hr=00/a", 1, 1))
    p2 = partition("2026-11-02", 0, ("hr=00/b", 2, 2))
    p3 = partition("2026-11-03", 0, ("hr=00/c", 3, 3))
    listing = listing_of(p1, p2, p3)
    old = {p2.key: "old-2", "dt=2026-11-02/hr=07": "gone", "dt=2026-10-01/hr=00": "not-listed"}
    state = job.next_state(listing, {"2026-11-01", "2026-11-02", "2026-11-03"}, old, {"2026-11-01", "2026-11-02"})
    assert state == {
        "dt=2026-10-01/hr=00": "not-listed",  # date not listed by this run: kept
        # p1: 2026-10-31 was not recomputed, so a later run must still see p1 as new
        p2.key: p2.fingerprint(),  # 11-02 and 11-01 recomputed: absorbed; hr=07 vanished: dropped
        # p3: not recomputed and not in the old state: still new for the next run
    }


def test_an_incremental_plan_always_absorbs_what_it_found_changed():
    listing = listing_of(
        partition("2026-11-01", 0, ("hr=00/a", 1, 1)),
        partition("2026-11-04", 2, ("hr=02/d", 1, 1)),
    )
    dates, _ = job.dates_to_recompute(listing, {}, None)
    state = job.next_state(listing, {"2026-11-01", "2026-11-04"}, {}, set(dates))
    assert job.dates_to_recompute(listing, state, None) == ([], [])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-01", ["2026-11-01"]),
        ("2026-11-02, 2026-11-01,2026-11-02", ["2026-11-01", "2026-11-02"]),
        ("2026-02-27..2026-03-01", ["2026-02-27", "2026-02-28", "2026-03-01"]),
        ("2026-11-05,2026-10-30..2026-11-01", ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-05"]),
    ],
)
def test_dates_argument(text, expected):
    assert job.parse_dates_argument(text) == expected


@pytest.mark.parametrize("text", ["2026-11-1", "2026-02-30", "yesterday", "2026-11-03..2026-11-01", ",", "2026-11-01.."])
def test_bad_dates_argument_is_a_clear_error(text):
    with pytest.raises(ValueError, match="--dates"):
        job.parse_dates_argument(text)


def test_arguments_without_glue_use_argparse_and_ignore_foreign_ones(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)  # import fails as it does outside Glue
    config = job.parse_job_arguments(
        [
            "aggregate_clicks.py",
            "--raw_uri",
            "s3a://raw/events",
            "--output_uri",
            "s3a://agg/aggregates/url_country_daily",
            "--state_uri",
            "s3a://agg/state/url_country_daily",
            "--dates",
            "2026-11-01..2026-11-02",
            "--session_gap_minutes",
            "45",
            "--some-wrapper-flag",
            "x",
        ]
    )
    assert config == job.JobConfig(
        raw_uri="s3a://raw/events",
        output_uri="s3a://agg/aggregates/url_country_daily",
        state_uri="s3a://agg/state/url_country_daily",
        dates=("2026-11-01", "2026-11-02"),
        session_gap_minutes=45,
        lookback_days=None,
    )


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


def test_arguments_under_glue_ask_only_for_the_optional_names_present(monkeypatch):
    calls = []
    _fake_glue(monkeypatch, calls)
    argv = [
        "script.py",
        "--JOB_NAME",
        "aggregate-clicks",
        "--raw_uri",
        "s3://raw/events",
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--output_uri",
        "s3://agg/aggregates/url_country_daily",
        "--state_uri",
        "s3://agg/state/url_country_daily",
        "--lookback_days",
        "7",
    ]
    config = job.parse_job_arguments(argv)
    assert calls == [["raw_uri", "output_uri", "state_uri", "lookback_days"]]
    assert (config.raw_uri, config.dates, config.session_gap_minutes, config.lookback_days) == ("s3://raw/events", None, 30, 7)


def test_an_empty_dates_argument_means_incremental(monkeypatch):
    _fake_glue(monkeypatch, [])
    argv = ["s.py", "--raw_uri", "s3://r", "--output_uri", "s3://o", "--state_uri", "s3://s", "--dates", " "]
    assert job.parse_job_arguments(argv).dates is None


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--session_gap_minutes", "0"], "session_gap_minutes"),
        (["--session_gap_minutes", "30.5"], "session_gap_minutes"),
        (["--lookback_days", "-1"], "lookback_days"),
        (["--dates", "2026-13-01"], "--dates"),
    ],
)
def test_bad_arguments_are_clear_errors(monkeypatch, extra, message):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    argv = ["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o", "--state_uri", "s3a://s", *extra]
    with pytest.raises(ValueError, match=message):
        job.parse_job_arguments(argv)


def test_a_missing_required_argument_stops_the_job(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    with pytest.raises(SystemExit):
        job.parse_job_arguments(["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o"])


def test_main_reports_bad_arguments_with_exit_code_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "awsglue", None)
    argv = ["s.py", "--raw_uri", "s3a://r", "--output_uri", "s3a://o", "--state_uri", "s3a://s", "--dates", "nope"]
    assert job.main(argv) == 2
