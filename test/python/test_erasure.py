"""clickstream_job.erasure: matching erased users' lines, rewriting objects in place, and whole
erasure runs on local Spark over a generated stream (docs/privacy.md section 3).

The strongest check: after erasing some users, every table equals a fresh run over the same stream
without those users' messages.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import json
import random
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from aggregate_fixtures import CART, HOME, TABLE_NAMES, LocalRawZone, bot_event, event, ndjson_gzip, without_computed_at
from clickstream_job import cli, erasure
from clickstream_job.erasure import ErasureConfig, Matcher, filter_object, parse_request, quarantine_line_match, text_tokens

KEY = "k" * 40
NOW = dt.datetime(2026, 11, 5, tzinfo=dt.timezone.utc)
PAGES = [HOME, CART, "https://shop.example.com/p/1", "https://shop.example.com/p/2", "https://blog.example.com/"]
ERASED = ["user-3", "user-7", "user-12"]
UNKNOWN = "ghost-user"


def h(user_id: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------
# Pure helpers


def test_user_hash_is_the_same_hmac_as_ingest():
    # RFC 4231 test case 2, as in test/privacy/pseudonymize.test.ts.
    assert erasure.user_hash("Jefe", "what do ya want for nothing?") == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_matcher_matches_clear_ids_by_their_hash_and_pseudonyms_as_they_are():
    matcher = Matcher([h("alice")], KEY)
    assert matcher("alice") == h("alice")
    assert matcher(h("alice")) == h("alice")
    assert matcher("bob") is None
    assert matcher(None) is None and matcher(7) is None and matcher("") is None


def test_parse_request_refuses_clear_ids():
    assert parse_request(json.dumps({"request_id": "r1", "hashes": [h("a")]})).hashes == frozenset([h("a")])
    with pytest.raises(ValueError, match="not keyed hashes"):
        parse_request(json.dumps({"request_id": "r1", "hashes": ["alice"]}))
    with pytest.raises(ValueError, match="must be"):
        parse_request("[]")


def test_erasure_config_hides_the_key_and_puts_the_report_beside_the_request():
    config = ErasureConfig("s3://raw/erasure/requests/r1.json", "s3://raw/quarantine", KEY)
    assert config.report_uri == "s3://raw/erasure/reports/r1.json"
    assert KEY not in repr(config)
    with pytest.raises(ValueError, match="shorter than 32"):
        ErasureConfig("s3://raw/erasure/requests/r1.json", "s3://raw/quarantine", "short")


def qline(value: Any, encoding: str = "utf8", offset: int = 0) -> str:
    """A quarantine line as the ingest function writes it."""
    return json.dumps({
        "reason": "missing_url", "field": "url", "detail": "url is missing", "topic": "clickstream", "partition": 0,
        "offset": offset, "kafka_timestamp": 1762000000000, "key": None, "value": value, "encoding": encoding if value is not None else None,
    }, separators=(",", ":"))


@pytest.mark.parametrize("line, erased", [
    (qline(json.dumps({"user_id": "alice", "ts": 1})), True),
    (qline(json.dumps({"userId": "alice"})), True),
    (qline(json.dumps({"user_id": h("alice")})), True),  # already a pseudonym
    (qline('{"user_id": "alice", oops'), True),  # invalid JSON: its tokens
    (qline(base64.b64encode(b'\xff{"user_id":"alice"}').decode(), "base64"), True),  # invalid UTF-8
    (qline("alice"), True),  # a bare JSON string is not an object: its text
    (qline(json.dumps({"user_id": "bob", "note": "alice"})), False),  # parsed: only user_id/userId count
    (qline('{"user_id": "alice2", oops'), False),  # tokens, not substrings
    (qline(None), False),  # tombstone
    ('{"broken line with alice', True),  # an unreadable line: its tokens
])
def test_quarantine_line_match(line, erased):
    assert (quarantine_line_match(line, Matcher([h("alice")], KEY)) is not None) == erased


def test_text_tokens_include_quoted_strings_with_separators():
    assert "a b" in list(text_tokens('{"id": "a b"'))
    assert {"x", "y"} <= set(text_tokens("x=y&z"))


def test_filter_object_keeps_every_other_line_byte_for_byte():
    lines = [b'{"user_id":"bob","x":1}', b'{"user_id":"alice"}', b'{"user_id": "carol" ,  "weird":  "spacing"}']
    body = gzip.compress(b"\n".join(lines) + b"\n")
    matcher = Matcher([h("alice")], KEY)
    new, removed = filter_object(body, lambda line: erasure.event_line_match(line, matcher))
    assert removed == {h("alice"): 1}
    assert gzip.decompress(new) == lines[0] + b"\n" + lines[2] + b"\n"
    assert filter_object(body, lambda line: None) == (None, {})


def test_filter_object_leaves_an_empty_gzip_object_when_nothing_is_left():
    matcher = Matcher([h("alice")], KEY)
    new, removed = filter_object(gzip.compress(b'{"user_id":"alice"}\n'), lambda line: erasure.event_line_match(line, matcher))
    assert removed == {h("alice"): 1} and gzip.decompress(new) == b""


def test_parse_erasure_arguments(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    base = ["aggregate_clicks.py", "--raw_uri", "s3://raw/events", "--output_uri", "s3://agg/aggregates", "--state_uri", "s3://agg/state"]
    config = cli.parse_job_arguments(base)
    assert cli.parse_erasure_arguments(base, config) is None
    erase_args = base + ["--mode", "erase", "--erase_request", "s3://raw/erasure/requests/r.json", "--privacy_key_file", str(key_file)]
    parsed = cli.parse_erasure_arguments(erase_args, config)
    assert parsed.quarantine_uri == "s3://raw/quarantine" and parsed.key == KEY
    with pytest.raises(ValueError, match="needs --erase_request"):
        cli.parse_erasure_arguments(base + ["--mode", "erase"], config)
    with pytest.raises(ValueError, match="aggregate or erase"):
        cli.parse_erasure_arguments(base + ["--mode", "delete"], config)
    with pytest.raises(ValueError, match="privacy key"):
        cli.parse_erasure_arguments(base + ["--mode", "erase", "--erase_request", "s3://raw/erasure/requests/r.json"], config)


# ---------------------------------------------------------------------------------------------
# Whole runs over a generated stream


def generate_stream(seed: int, users: int = 24) -> List[Dict[str, Any]]:
    """Click records of `users` users over three days: humans and some bot clicks, several
    partitions, sessions across midnight, gaps around 30 minutes."""
    rng = random.Random(seed)
    records: List[Dict[str, Any]] = []
    offsets = [0, 0, 0]
    start = dt.datetime(2026, 11, 1, 6, tzinfo=dt.timezone.utc)
    for u in range(users):
        user = f"user-{u}"
        partition = u % 3
        country = rng.choice(["US", "DE", "FR", "unknown"])
        at = start + dt.timedelta(minutes=rng.randrange(0, 48 * 60))
        for _ in range(rng.randrange(1, 14)):
            at += dt.timedelta(milliseconds=rng.choice([rng.randrange(1_000, 600_000), 1_800_000, 1_800_001, rng.randrange(2_000_000, 20_000_000)]))
            ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
            make = bot_event if rng.random() < 0.08 else event
            offset = offsets[partition]
            offsets[partition] += 1
            records.append(make(f"clickstream-{partition}-{offset}", user, ts, rng.choice(PAGES), country,
                                **({"kafka": {"topic": "clickstream", "partition": partition, "offset": offset, "timestamp": 0}})))
    return records


def write_stream(zone: LocalRawZone, records: List[Dict[str, Any]], redelivered: List[Dict[str, Any]]) -> None:
    """Objects as ingest writes them: per (date, hour, partition), named by the offsets in them;
    `redelivered` copies go to a second object of their hour (an overlapping redelivery)."""
    groups: Dict[Tuple[str, int, int], List[Dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["ts"][:10], int(r["ts"][11:13]), r["kafka"]["partition"]), []).append(r)
    for (date, hour, partition), items in sorted(groups.items()):
        offsets = [r["kafka"]["offset"] for r in items]
        zone.put(date, hour, f"clickstream-{partition}-{min(offsets)}-{max(offsets)}", items)
    for r in redelivered:
        zone.put(r["ts"][:10], int(r["ts"][11:13]), f"clickstream-{r['kafka']['partition']}-{r['kafka']['offset']}-{r['kafka']['offset']}", [r])


def quarantine_lines(users: List[str]) -> List[str]:
    lines = []
    for i, user in enumerate(users):
        lines.append(qline(json.dumps({"user_id": user, "timestamp": "2026-11-02T10:00:00Z"}), offset=900 + i))
        lines.append(qline(f'{{"userId": "{user}", "url": broken', offset=950 + i))
    lines.append(qline(None, offset=999))
    return lines


def put_quarantine(root: Path, lines: List[str]) -> Path:
    path = root / "raw" / "quarantine" / "dt=2026-11-02" / "clickstream-0-900-999.ndjson.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ndjson_gzip(lines))
    return path


def raw_files(zone: LocalRawZone) -> Dict[str, bytes]:
    return {str(p.relative_to(zone.root)): p.read_bytes() for p in sorted((zone.root / "raw").rglob("*.gz"))}


def lines_of(body: bytes) -> List[bytes]:
    return [line for line in gzip.decompress(body).split(b"\n") if line]


def write_request(root: Path, request_id: str, users: List[str], key: str = KEY) -> ErasureConfig:
    path = root / "raw" / "erasure" / "requests" / f"{request_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"request_id": request_id, "requested_at": "2026-11-05T00:00:00Z", "hashes": sorted(h(u, key) for u in users)}))
    return ErasureConfig(path.as_uri(), (root / "raw" / "quarantine").as_uri(), key)


def tables(zone: LocalRawZone) -> Dict[str, List[Dict[str, Any]]]:
    return {table: without_computed_at(rows) for table, rows in zone.all_rows().items()}


@pytest.fixture(scope="module")
def stream():
    records = generate_stream(20261117)
    rng = random.Random(5)
    redelivered = [r for r in records if rng.random() < 0.08]
    assert {r["user_id"] for r in records} >= set(ERASED)
    return records, redelivered


@pytest.fixture(scope="module")
def fresh_tables(spark, stream, tmp_path_factory):
    """A fresh run over the same stream without the erased users' messages."""
    records, redelivered = stream
    zone = LocalRawZone(tmp_path_factory.mktemp("fresh"))
    keep = lambda rs: [r for r in rs if r["user_id"] not in ERASED]  # noqa: E731
    write_stream(zone, keep(records), keep(redelivered))
    cli.run(spark, zone.config(), now=NOW)
    return tables(zone)


def recompute_with(spark):
    return lambda config: cli.run(spark, config, now=NOW)


def test_erase_equals_a_fresh_run_without_the_users_and_changes_nothing_else(spark, stream, fresh_tables, tmp_path):
    records, redelivered = stream
    zone = LocalRawZone(tmp_path)
    write_stream(zone, records, redelivered)
    quarantine_users = ERASED + ["user-1", "user-33"]
    quarantine = quarantine_lines(quarantine_users)
    put_quarantine(tmp_path, quarantine)
    cli.run(spark, zone.config(), now=NOW)
    before_tables = tables(zone)
    assert before_tables != fresh_tables
    before = raw_files(zone)

    request = write_request(tmp_path, "r1", ERASED + [UNKNOWN])
    report = erasure.erase(spark, zone.config(), request, recompute_with(spark), now=NOW)

    # Every table equals the fresh run without the erased users' messages.
    assert tables(zone) == fresh_tables
    assert all(fresh_tables[t] for t in TABLE_NAMES)

    # Same keys; every other line unchanged, byte for byte; nothing of the erased users left.
    after = raw_files(zone)
    assert sorted(after) == sorted(before)
    erased_ids = set(ERASED)
    events_removed = 0
    for name, body in before.items():
        old, new = lines_of(body), lines_of(after[name])
        if "/quarantine/" in name:
            continue
        kept = [line for line in old if json.loads(line)["user_id"] not in erased_ids]
        events_removed += len(old) - len(kept)
        assert new == kept, name
    q_name = next(n for n in after if "/quarantine/" in n)
    kept_offsets = {999} | {base + i for base in (900, 950) for i, u in enumerate(quarantine_users) if u not in ERASED}
    expected_q = [line.encode() for line in quarantine if json.loads(line)["offset"] in kept_offsets]
    assert lines_of(after[q_name]) == expected_q
    assert len(expected_q) == 5  # user-1 and user-33 (two lines each: "user-33" is not "user-3") and the tombstone

    # The report: counts, dates, per hash; the unknown user is simply absent.
    erased_records = [r for r in records + redelivered if r["user_id"] in erased_ids]
    # (A one-record redelivery may share its object with the original, as the same key: at most len(erased_records).)
    assert report["events_removed"] == events_removed > 0
    assert events_removed <= len(erased_records)
    assert report["quarantine_lines_removed"] == 2 * len(ERASED)
    assert report["dates_recomputed"] == sorted({r["ts"][:10] for r in erased_records})
    assert report["objects_rewritten"] == sum(1 for n in before if before[n] != after[n]) == len(report["rewritten"])
    assert sorted(Path(u.replace("file://", "")).relative_to(tmp_path).as_posix() for u in report["rewritten"]) == sorted(n for n in before if before[n] != after[n])
    assert set(report["by_hash"]) == {h(u) for u in ERASED}
    assert h(UNKNOWN) not in report["by_hash"]
    assert report["objects_scanned"] == len(before)
    written = json.loads((tmp_path / "raw" / "erasure" / "reports" / "r1.json").read_text())
    assert written == report
    assert not any(u in json.dumps(written) for u in ERASED)

    # Twice: the second run changes nothing.
    outputs = {p: p.read_bytes() for p in zone.output.rglob("*") if p.is_file()}
    again = erasure.erase(spark, zone.config(), write_request(tmp_path, "r2", ERASED), recompute_with(spark), now=NOW)
    assert (again["objects_rewritten"], again["events_removed"], again["quarantine_lines_removed"], again["dates_recomputed"]) == (0, 0, 0, [])
    assert raw_files(zone) == after
    assert {p: p.read_bytes() for p in zone.output.rglob("*") if p.is_file()} == outputs


def test_an_interrupted_erasure_is_finished_by_running_it_again(spark, stream, fresh_tables, tmp_path):
    records, redelivered = stream
    zone = LocalRawZone(tmp_path)
    write_stream(zone, records, redelivered)
    cli.run(spark, zone.config(), now=NOW)

    def crash(config):
        raise RuntimeError("the run was stopped")

    with pytest.raises(RuntimeError):
        erasure.erase(spark, zone.config(), write_request(tmp_path, "r1", ERASED), crash, now=NOW)
    # The objects are rewritten but the tables are not recomputed yet; the dates are pending.
    assert json.loads((zone.state / erasure.PENDING_DATES_FILE).read_text())["dates"]
    assert tables(zone) != fresh_tables

    report = erasure.erase(spark, zone.config(), write_request(tmp_path, "r2", ERASED), recompute_with(spark), now=NOW)
    assert report["objects_rewritten"] == 0 and report["dates_recomputed"]
    assert tables(zone) == fresh_tables
    assert not (zone.state / erasure.PENDING_DATES_FILE).exists()


def test_erase_finds_pseudonymized_users(spark, tmp_path):
    """With pseudonymization on, the stored user_id is H(id): the command's hashes match it as is."""
    zone = LocalRawZone(tmp_path)
    zone.put("2026-11-02", 10, "clickstream-0-0-2", [
        event("e0", h("alice"), "2026-11-02T10:00:00.000Z", HOME, offset=0),
        event("e1", h("bob"), "2026-11-02T10:01:00.000Z", CART, offset=1),
        event("e2", h("alice"), "2026-11-02T10:02:00.000Z", CART, offset=2),
    ])
    cli.run(spark, zone.config(), now=NOW)
    report = erasure.erase(spark, zone.config(), write_request(tmp_path, "r1", ["alice"]), recompute_with(spark), now=NOW)
    assert report["events_removed"] == 2 and report["dates_recomputed"] == ["2026-11-02"]
    users = {row["unique_users"] for row in zone.output_rows("url_country_daily")}
    assert users == {1} and sum(row["clicks"] for row in zone.output_rows("url_country_daily")) == 1
