"""Erasure mode (SPEC section 6, docs/privacy.md section 3): remove every stored event of some users
and recompute what they changed.

The request (`erasure/requests/<id>.json`, written by `npm run erase`) holds keyed hashes only:
`H(id) = HMAC-SHA-256(privacy key, id)` in hex. A stored `user_id` matches when it is one of them
(a pseudonym: with pseudonymization on, the stored ID is `H(id)`) or when its `H` is (a clear ID).

One run:
1. scans every line of the raw zone (`events/`) and of the quarantine, with Spark, for objects
   holding an erased user's line;
2. notes the event dates of those objects in `<state_uri>/erasure_pending_dates.json`;
3. rewrites each such object under the same key without those lines, every other line byte for
   byte as it was; an object left without lines becomes an empty gzip object (kept, not deleted);
4. recomputes the pending dates of every table through the job's explicit-dates path (`recompute`),
   then clears the pending dates, and writes the report next to the request.

A run interrupted anywhere is finished by the next one: rewritten objects no longer match, and the
pending dates of the interrupted run are recomputed with the new ones.

Pure helpers (matching, filtering one object's bytes) are plain functions; Spark and the Hadoop
FileSystem are used only by `scan` and `erase`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import io
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from .config import JobConfig, format_instant, is_date
from .io import HadoopFiles, join_uri

LOG = logging.getLogger("clickstream_job")

PENDING_DATES_FILE = "erasure_pending_dates.json"
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_DT_RE = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")
# Separators of the tokens of an unparseable quarantine value (docs/privacy.md section 3).
_TOKEN_SEPARATORS = re.compile(r"""[\s"',:;{}\[\]()=&?/\\]+""")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
MIN_KEY_CHARS = 32


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    hashes: FrozenSet[str]


@dataclass(frozen=True)
class ErasureConfig:
    """What an erasure run works on, besides the job's `JobConfig`.

    request_uri: the request object; the report goes beside it, `/requests/` -> `/reports/`.
    quarantine_uri: root of the quarantine, `<quarantine_uri>/dt=YYYY-MM-DD/*.ndjson.gz`.
    key: the privacy key (never logged).
    """

    request_uri: str
    quarantine_uri: str
    key: str

    def __post_init__(self) -> None:
        if "/requests/" not in self.request_uri:
            raise ValueError(f"--erase_request must be an object under .../requests/, got {self.request_uri!r}")
        if len(self.key) < MIN_KEY_CHARS:
            raise ValueError(f"the privacy key is shorter than {MIN_KEY_CHARS} characters")

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"ErasureConfig(request_uri={self.request_uri!r}, quarantine_uri={self.quarantine_uri!r}, key=<hidden>)"

    @property
    def report_uri(self) -> str:
        head, _, tail = self.request_uri.rpartition("/requests/")
        return f"{head}/reports/{tail}"


def parse_request(text: str) -> ErasureRequest:
    """The request object; fails naming what is wrong (a clear ID is refused, never matched)."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise ValueError("the erasure request is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("request_id"), str) or not isinstance(raw.get("hashes"), list):
        raise ValueError('the erasure request must be {"request_id": "...", "hashes": [...]}')
    bad = [i for i, h in enumerate(raw["hashes"]) if not isinstance(h, str) or not _HASH_RE.match(h)]
    if bad:
        raise ValueError(f"erasure request entries {bad[:5]} are not keyed hashes (64 lower-case hex digits)")
    return ErasureRequest(raw["request_id"], frozenset(raw["hashes"]))


def user_hash(key: str, user_id: str) -> str:
    """HMAC-SHA-256 of the UTF-8 user ID under the UTF-8 key, hex (lambdas/ingest/pseudonymize.ts)."""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def load_key(secret_id: Optional[str] = None, key_file: Optional[str] = None) -> str:
    """The privacy key from Secrets Manager (Glue) or a local key file."""
    if secret_id:
        import boto3  # present under Glue; not needed locally

        value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
        if not isinstance(value, str):
            raise ValueError(f"the secret {secret_id} has no SecretString")
        return value.strip()
    if key_file:
        with open(key_file, encoding="utf-8") as handle:
            return handle.read().strip()
    raise ValueError("erasure needs the privacy key: --privacy_key_secret_id or --privacy_key_file")


class Matcher:
    """Which erased user, if any, a stored user ID belongs to (a hash of the request, or None)."""

    def __init__(self, hashes: Iterable[str], key: str):
        self.hashes = frozenset(hashes)
        self._key = key
        self._seen: Dict[str, Optional[str]] = {}

    def __call__(self, user_id: object) -> Optional[str]:
        if not isinstance(user_id, str) or user_id == "":
            return None
        if user_id in self.hashes:
            return user_id
        found = self._seen.get(user_id, "")
        if found == "":
            found = user_hash(self._key, user_id)
            found = found if found in self.hashes else None
            if len(self._seen) > 100_000:
                self._seen.clear()
            self._seen[user_id] = found
        return found

    def __getstate__(self):  # shipped to Spark workers without the cache
        return {"hashes": self.hashes, "key": self._key}

    def __setstate__(self, state):
        self.__init__(state["hashes"], state["key"])


def event_line_match(line: str, matcher: Matcher) -> Optional[str]:
    """The erased user a canonical event line belongs to (by its `user_id`), or None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return matcher(record.get("user_id")) if isinstance(record, dict) else None


def text_tokens(text: str) -> Iterator[str]:
    """Candidate IDs in a text that is not a JSON object: its separator-delimited tokens and every
    double-quoted string (unescaped when it is a valid JSON string)."""
    for token in _TOKEN_SEPARATORS.split(text):
        if token:
            yield token
    for quoted in _QUOTED.findall(text):
        try:
            yield json.loads(f'"{quoted}"')
        except ValueError:
            yield quoted


def quarantine_line_match(line: str, matcher: Matcher) -> Optional[str]:
    """The erased user a quarantine line names, or None.

    The value is parsed when it can be: a JSON object's `user_id`, then `userId`. Otherwise (invalid
    JSON, invalid UTF-8 kept as base64, not an object) its tokens are matched.
    """
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return next((h for h in map(matcher, text_tokens(line)) if h), None)
    value = record.get("value")
    if not isinstance(value, str):
        return None
    if record.get("encoding") == "base64":
        try:
            value = base64.b64decode(value).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return None
    try:
        parsed = json.loads(value.lstrip("\ufeff"))
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for name in ("user_id", "userId"):
            found = matcher(parsed.get(name))
            if found:
                return found
        return None
    return next((h for h in map(matcher, text_tokens(value)) if h), None)


def gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as out:
        out.write(data)
    return buffer.getvalue()


def filter_object(body: bytes, match: Callable[[str], Optional[str]]) -> Tuple[Optional[bytes], Dict[str, int]]:
    """One raw or quarantine object (gzip NDJSON) without the lines `match` names.

    Returns (new body, lines removed per hash); the body is None when nothing matched (the object
    is left alone). Kept lines keep their exact bytes and order.
    """
    data = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    removed: Dict[str, int] = {}
    kept: List[bytes] = []
    for raw in data.split(b"\n"):
        if raw == b"":
            continue
        found = match(raw.decode("utf-8", errors="replace"))
        if found:
            removed[found] = removed.get(found, 0) + 1
        else:
            kept.append(raw)
    if not removed:
        return None, removed
    return gzip_bytes(b"".join(line + b"\n" for line in kept)), removed


def date_of_object(uri: str) -> Optional[str]:
    """`YYYY-MM-DD` of an object's `dt=` folder."""
    match = _DT_RE.search(uri)
    return match.group(1) if match and is_date(match.group(1)) else None


class ObjectStore:
    """Whole-object reads and writes through the JVM's Hadoop FileSystem (`s3://`, `s3a://`, `file://`)."""

    def __init__(self, spark):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def read_bytes(self, uri: str) -> bytes:
        fs, path = self._fs(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri: str, data: bytes) -> None:
        fs, path = self._fs(uri)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()


def scan(spark, root_uri: str, match: Callable[[str], Optional[str]]) -> Tuple[int, List[str]]:
    """(objects scanned, objects holding a line `match` names) under `root_uri`, read with Spark."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType

    if not HadoopFiles(spark).exists(root_uri):
        return 0, []
    lines = spark.read.option("recursiveFileLookup", "true").text(root_uri).withColumn("file", F.input_file_name())
    hit = F.udf(lambda line: bool(line) and match(line) is not None, BooleanType())
    per_file = lines.groupBy("file").agg(F.max(hit("value").cast("int")).alias("hit")).collect()
    return len(per_file), sorted(r["file"] for r in per_file if r["hit"])


def scan_events(spark, root_uri: str, matcher: Matcher) -> Tuple[int, List[str]]:
    """`scan` for canonical events, hashing each distinct `user_id` once instead of every line."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType

    if not HadoopFiles(spark).exists(root_uri):
        return 0, []
    lines = spark.read.option("recursiveFileLookup", "true").text(root_uri).withColumn("file", F.input_file_name())
    lines = lines.withColumn("uid", F.get_json_object("value", "$.user_id"))
    is_erased = F.udf(lambda uid: matcher(uid) is not None, BooleanType())
    erased = [r["uid"] for r in lines.select("uid").where(F.col("uid").isNotNull()).distinct().where(is_erased("uid")).collect()]
    per_file = lines.groupBy("file").agg(F.max(F.col("uid").isin(erased).cast("int")).alias("hit")).collect()
    return len(per_file), sorted(r["file"] for r in per_file if r["hit"])


def read_pending_dates(files: HadoopFiles, state_uri: str) -> Set[str]:
    text = files.read_text(join_uri(state_uri, PENDING_DATES_FILE))
    if not text:
        return set()
    dates = json.loads(text).get("dates", [])
    return {d for d in dates if isinstance(d, str) and is_date(d)}


def write_pending_dates(files: HadoopFiles, state_uri: str, dates: Iterable[str]) -> None:
    uri = join_uri(state_uri, PENDING_DATES_FILE)
    wanted = sorted(set(dates))
    if wanted:
        files.write_text(uri, json.dumps({"dates": wanted}) + "\n")
    else:
        files.delete(uri)


def erase(
    spark,
    config: JobConfig,
    erasure: ErasureConfig,
    recompute: Callable[[JobConfig], Mapping[str, object]],
    now=None,
) -> Dict[str, object]:
    """One erasure run (see the module's docstring). Returns the report it also writes."""
    import datetime as dt

    files = HadoopFiles(spark)
    store = ObjectStore(spark)
    request_text = files.read_text(erasure.request_uri)
    if request_text is None:
        raise ValueError(f"no erasure request at {erasure.request_uri}")
    request = parse_request(request_text)
    matcher = Matcher(request.hashes, erasure.key)
    LOG.info("erasure %s: %d keyed hashes", request.request_id, len(request.hashes))

    events_scanned, event_objects = scan_events(spark, config.raw_uri, matcher)
    quarantine_scanned, quarantine_objects = scan(spark, erasure.quarantine_uri, lambda line: quarantine_line_match(line, matcher))
    LOG.info("erasure %s: %d of %d event objects and %d of %d quarantine objects hold erased users' lines",
             request.request_id, len(event_objects), events_scanned, len(quarantine_objects), quarantine_scanned)

    # The dates are noted before any object changes: an interrupted run leaves them for the next.
    pending = read_pending_dates(files, config.state_uri)
    pending |= {d for d in map(date_of_object, event_objects) if d}
    write_pending_dates(files, config.state_uri, pending)

    by_hash: Dict[str, Dict[str, int]] = {}
    events_removed = quarantine_removed = 0
    rewritten: List[str] = []
    for kind, objects, match in (
        ("events", event_objects, lambda line: event_line_match(line, matcher)),
        ("quarantine_lines", quarantine_objects, lambda line: quarantine_line_match(line, matcher)),
    ):
        for uri in objects:
            body, removed = filter_object(store.read_bytes(uri), match)
            if body is None:
                continue
            store.write_bytes(uri, body)
            rewritten.append(uri)
            for found, count in removed.items():
                entry = by_hash.setdefault(found, {"events": 0, "quarantine_lines": 0})
                entry[kind] += count
                if kind == "events":
                    events_removed += count
                else:
                    quarantine_removed += count

    dates = sorted(pending)
    if dates:
        recompute(replace(config, dates=tuple(dates)))
    write_pending_dates(files, config.state_uri, [])

    report = {
        "request_id": request.request_id,
        "objects_scanned": events_scanned + quarantine_scanned,
        "objects_rewritten": len(rewritten),
        # Object names only (no personal data): for removing older versions in a versioned bucket.
        "rewritten": rewritten,
        "events_removed": events_removed,
        "quarantine_lines_removed": quarantine_removed,
        "dates_recomputed": dates,
        "by_hash": {h: by_hash[h] for h in sorted(by_hash)},
        "completed_at": format_instant(now or dt.datetime.now(dt.timezone.utc)),
    }
    files.write_text(erasure.report_uri, json.dumps(report, sort_keys=True) + "\n")
    # Counts only: the report object holds the per-hash detail.
    LOG.info("erasure %s done: %d objects rewritten, %d events and %d quarantine lines removed, dates recomputed %s",
             request.request_id, len(rewritten), events_removed, quarantine_removed, dates or "none")
    return report

