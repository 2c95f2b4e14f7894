"""clickstream_job.state: incremental planning over a listing of the raw zone (plain Python)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from clickstream_job.config import JobConfig
from clickstream_job.state import (
    RawFile,
    RawPartition,
    StaleState,
    dates_to_recompute,
    decode_state,
    encode_state,
    input_uris,
    listing_filter,
    next_state,
)

TABLES = ["url_country_daily", "sessions_daily"]


def partition(date, hour, *files):
    return RawPartition(date, hour, f"s3://raw/events/dt={date}/hr={hour:02d}", [RawFile(*f) for f in files])


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
        partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1000, "etag-2"), ("hr=00/b.ndjson.gz", 20, 2000)),  # new ETag
        partition("2026-11-01", 0, ("hr=00/a.ndjson.gz", 10, 1000), ("hr=00/b.ndjson.gz", 20, 2000), ("hr=00/c.ndjson.gz", 1, 1)),  # added
    ]
    assert len({v.fingerprint() for v in variants} | {base.fingerprint()}) == 6


def test_dates_to_recompute_on_a_first_run_is_every_date_and_nothing_else():
    listing = listing_of(partition("2026-11-01", 23, ("hr=23/a", 1, 1)), partition("2026-11-03", 5, ("hr=05/b", 1, 1)))
    assert dates_to_recompute(listing, {}, None) == (["2026-11-01", "2026-11-03"], ["2026-11-01", "2026-11-03"])


def test_dates_to_recompute_is_exactly_the_dates_with_a_changed_partition():
    old = listing_of(
        partition("2026-11-01", 10, ("hr=10/a", 1, 1)),
        partition("2026-11-02", 0, ("hr=00/b", 1, 1)),
        partition("2026-11-05", 0, ("hr=00/c", 1, 1)),
    )
    state = {k: p.fingerprint() for k, p in old.items()}
    now = dict(old)
    now["dt=2026-11-02/hr=00"] = partition("2026-11-02", 0, ("hr=00/b", 1, 1), ("hr=00/late", 5, 9))
    # A late event just after midnight: its own date only, not the day before any more.
    assert dates_to_recompute(now, state, None) == (["2026-11-02"], ["2026-11-02"])
    assert dates_to_recompute(old, state, None) == ([], [])


def test_dates_to_recompute_ignores_a_vanished_partition():
    p = partition("2026-11-01", 10, ("hr=10/a", 1, 1))
    state = {p.key: p.fingerprint(), "dt=2026-11-01/hr=11": "expired"}
    assert dates_to_recompute(listing_of(p), state, None) == ([], [])


def test_dates_to_recompute_of_a_backfill_is_exactly_the_given_dates():
    listing = listing_of(partition("2026-11-01", 0, ("hr=00/a", 1, 1)))
    assert dates_to_recompute(listing, {}, ["2026-11-03", "2026-11-02", "2026-11-03"]) == (["2026-11-02", "2026-11-03"], [])


def test_input_uris_are_the_partitions_of_the_dates_and_no_other():
    listing = listing_of(
        partition("2026-11-01", 22, ("hr=22/a", 1, 1)),
        partition("2026-11-01", 23, ("hr=23/a", 1, 1)),
        partition("2026-11-02", 0, ("hr=00/b", 1, 1)),
        partition("2026-11-02", 5),  # no files left
        partition("2026-11-03", 0, ("hr=00/c", 1, 1)),
    )
    assert input_uris(listing, ["2026-11-02"]) == ["s3://raw/events/dt=2026-11-02/hr=00"]
    assert input_uris(listing, ["2026-11-01"]) == ["s3://raw/events/dt=2026-11-01/hr=22", "s3://raw/events/dt=2026-11-01/hr=23"]
    assert input_uris(listing, ["2026-10-20"]) == []


def test_next_state_records_the_partitions_of_recomputed_dates():
    p1 = partition("2026-11-01", 0, ("hr=00/a", 1, 1))
    p2 = partition("2026-11-02", 0, ("hr=00/b", 2, 2))
    p3 = partition("2026-11-03", 0, ("hr=00/c", 3, 3))
    old = {p2.key: "old-2", "dt=2026-11-02/hr=07": "gone", "dt=2026-10-01/hr=00": "not-listed", p3.key: "old-3"}
    state = next_state(listing_of(p1, p2, p3), {"2026-11-01", "2026-11-02", "2026-11-03"}, old, {"2026-11-01", "2026-11-02"})
    assert state == {
        "dt=2026-10-01/hr=00": "not-listed",  # date not listed by this run: kept
        p1.key: p1.fingerprint(),  # recomputed: absorbed
        p2.key: p2.fingerprint(),  # recomputed: absorbed; hr=07 of the same date vanished: dropped
        p3.key: "old-3",  # listed, not recomputed: the old entry stays, a later run still sees the change
    }


def test_next_state_after_an_incremental_run_plans_nothing():
    listing = listing_of(partition("2026-11-01", 0, ("hr=00/a", 1, 1)), partition("2026-11-04", 2, ("hr=02/d", 1, 1)))
    dates, _ = dates_to_recompute(listing, {}, None)
    state = next_state(listing, {"2026-11-01", "2026-11-04"}, {}, set(dates))
    assert dates_to_recompute(listing, state, None) == ([], [])


def test_listing_filter_lists_backfill_dates_the_lookback_window_or_everything():
    uris = dict(raw_uri="s3://r", output_uri="s3://o", state_uri="s3://s")
    today = dt.date(2026, 11, 10)
    backfill = listing_filter(JobConfig(**uris, dates=("2026-11-02",)), today)
    assert [backfill(d) for d in ("2026-11-01", "2026-11-02", "2026-11-03")] == [False, True, False]
    window = listing_filter(JobConfig(**uris, lookback_days=1), today)
    assert [window(d) for d in ("2026-11-08", "2026-11-09", "2026-11-10")] == [False, True, True]
    assert listing_filter(JobConfig(**uris), today)("2000-01-01") is True


def test_decode_state_reads_what_encode_state_wrote():
    text = encode_state("s3://raw/events", TABLES, {"dt=2026-11-02/hr=00": "b", "dt=2026-11-01/hr=00": "a"}, "2026-11-04T00:00:00.000Z")
    document = json.loads(text)
    assert (document["format_version"], document["tables"], list(document["partitions"])) == (2, TABLES, ["dt=2026-11-01/hr=00", "dt=2026-11-02/hr=00"])
    assert decode_state(text, TABLES) == {"dt=2026-11-01/hr=00": "a", "dt=2026-11-02/hr=00": "b"}


def test_decode_state_calls_a_one_table_or_other_tables_state_stale():
    with pytest.raises(StaleState, match="format 1"):
        decode_state(json.dumps({"format_version": 1, "partitions": {}}), TABLES)
    with pytest.raises(StaleState, match="tables"):
        decode_state(encode_state("s3://r", ["url_country_daily"], {}, "t"), TABLES)


@pytest.mark.parametrize("text", ["{ truncated", "[]", json.dumps({"format_version": 3}), json.dumps({"format_version": 2, "partitions": {"k": 1}})])
def test_decode_state_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        decode_state(text, TABLES)
