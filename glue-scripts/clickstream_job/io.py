"""I/O through Spark and the Hadoop FileSystem API (`s3://` under Glue, `s3a://` and `file://`
locally): listing the raw zone, the job state, reading raw objects, writing outputs.

Nothing here decides what to compute (that is `state`) or how (`parse`, `sessions`, `tables`), so
other jobs over the same zones (rewriting raw objects, recomputing explicit dates) reuse it.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from py4j.protocol import Py4JError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .config import is_date
from .schema import RAW_EVENT_SCHEMA
from .state import STATE_FILE_NAME, RawFile, RawPartition, StaleState, decode_consumed_changes, decode_state, encode_state, partition_key

LOG = logging.getLogger("clickstream_job")

# The object that replaces a date's output when the date has no rows left in a table (see
# docs/processing.md, "Output contract"). Hidden from Spark, Hive and Athena readers by its
# leading underscore; seen by S3 notifications (suffix .json).
EMPTY_MARKER = "_empty.json"

_DT_DIR_RE = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_HR_DIR_RE = re.compile(r"^hr=(\d{2})$")


def join_uri(uri: str, *names: str) -> str:
    return "/".join([uri.rstrip("/"), *names])


def date_folder(output_uri: str, table: str, date: str) -> str:
    """`<output_uri>/<table>/event_date=<date>`: where one date of one table lives."""
    return join_uri(output_uri, table, f"event_date={date}")


class HadoopFiles:
    """The few file operations the job needs, through the JVM's Hadoop FileSystem."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def exists(self, uri: str) -> bool:
        fs, path = self._fs(uri)
        return bool(fs.exists(path))

    def delete(self, uri: str) -> None:
        """Deletes a file or a folder with everything in it; nothing when absent."""
        fs, path = self._fs(uri)
        if fs.exists(path):
            fs.delete(path, True)

    def read_text(self, uri: str) -> Optional[str]:
        fs, path = self._fs(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def write_text(self, uri: str, text: str) -> None:
        fs, path = self._fs(uri)
        stream = fs.create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def list_raw(self, raw_uri: str, keep_date: Callable[[str], bool]) -> Tuple[Dict[str, RawPartition], Set[str]]:
        """Lists `dt=*/hr=*` folders of dates that `keep_date` accepts.

        Returns the partitions by key and the set of dates listed. Hidden files (`_*`, `.*`, which
        Spark skips too) and anything outside the `dt=/hr=` layout are left out, the latter with a
        warning.
        """
        fs, root = self._fs(raw_uri)
        partitions: Dict[str, RawPartition] = {}
        listed: Set[str] = set()
        if not fs.exists(root):
            LOG.warning("raw location %s does not exist (yet): nothing to read", raw_uri)
            return partitions, listed
        for status in fs.listStatus(root):
            name = status.getPath().getName()
            match = _DT_DIR_RE.match(name)
            if not status.isDirectory() or not match or not is_date(match.group(1)):
                if not name.startswith(("_", ".")):
                    LOG.warning("ignoring %s: not a dt=YYYY-MM-DD folder", status.getPath().toString())
                continue
            date = match.group(1)
            if not keep_date(date):
                continue
            listed.add(date)
            dt_uri = status.getPath().toString()
            files = fs.listFiles(status.getPath(), True)
            etags = True
            while files.hasNext():
                located = files.next()
                relative = located.getPath().toString()[len(dt_uri) + 1 :]
                parts = relative.split("/")
                if any(part.startswith(("_", ".")) for part in parts):
                    continue
                hour_match = _HR_DIR_RE.match(parts[0]) if len(parts) == 2 else None
                if not hour_match or int(hour_match.group(1)) > 23:
                    LOG.warning("ignoring %s: not in a dt=/hr=HH/ folder", located.getPath().toString())
                    continue
                hour = int(hour_match.group(1))
                key = partition_key(date, hour)
                partition = partitions.setdefault(key, RawPartition(date, hour, f"{dt_uri}/hr={hour:02d}"))
                etag = ""
                if etags:
                    try:
                        etag = located.getEtag() or ""
                    except Py4JError:  # not an org.apache.hadoop.fs.EtagSource
                        etags = False
                partition.files.append(RawFile(relative, int(located.getLen()), int(located.getModificationTime()), etag))
        return partitions, listed

    def list_change_log(self, changes_uri: str) -> List[str]:
        """Every entry of the partition change log, relative to its root (`dt=YYYY-MM-DD/<name>.json`),
        sorted; hidden files (`_*`, `.*`) left out. One recursive listing: the keys carry the dates,
        so no entry is read."""
        fs, root = self._fs(changes_uri)
        if not fs.exists(root):
            return []
        prefix = fs.makeQualified(root).toString().rstrip("/") + "/"
        entries: List[str] = []
        files = fs.listFiles(root, True)
        while files.hasNext():
            path = files.next().getPath().toString()
            relative = path[len(prefix) :] if path.startswith(prefix) else "/".join(path.split("/")[-2:])
            if any(part.startswith(("_", ".")) for part in relative.split("/")):
                continue
            entries.append(relative)
        return sorted(entries)

    def delete_files(self, uris: Sequence[str], threads: int = 8) -> List[str]:
        """Deletes each file (not folders); returns the URIs that could not be deleted. A few calls
        in parallel: a run may consume thousands of change-log entries."""

        def delete(uri: str) -> Optional[str]:
            try:
                fs, path = self._fs(uri)
                fs.delete(path, False)
                return None
            except Py4JError as error:
                LOG.warning("could not delete %s: %s", uri, error)
                return uri

        if not uris:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(uris)))) as pool:
            return [uri for uri in pool.map(delete, uris) if uri is not None]


def load_state(files: HadoopFiles, state_uri: str, tables: Sequence[str]) -> Dict[str, str]:
    """The fingerprints of the last successful run; {} when there is none or it is stale."""
    uri = join_uri(state_uri, STATE_FILE_NAME)
    text = files.read_text(uri)
    if text is None:
        return {}
    try:
        return decode_state(text, tables)
    except StaleState as reason:
        LOG.warning("job state %s is not used: %s. Every listed date is recomputed.", uri, reason)
        return {}
    except ValueError as error:
        # Guessing would either redo everything or skip changes; an operator decides instead.
        raise RuntimeError(
            f"job state {uri} is unreadable ({error}). Delete it to recompute every date from the raw zone, "
            "or restore the previous version."
        ) from None


def load_consumed_changes(files: HadoopFiles, state_uri: str, changes_uri: str) -> Set[str]:
    """The change-log entries the last successful run consumed (see `encode_state`)."""
    text = files.read_text(join_uri(state_uri, STATE_FILE_NAME))
    return set() if text is None else decode_consumed_changes(text, changes_uri)


def save_state(
    files: HadoopFiles,
    state_uri: str,
    raw_uri: str,
    tables: Sequence[str],
    partitions: Dict[str, str],
    updated_at: str,
    change_log: Optional[Mapping[str, object]] = None,
) -> None:
    files.write_text(join_uri(state_uri, STATE_FILE_NAME), encode_state(raw_uri, tables, partitions, updated_at, change_log))


def read_raw(spark: SparkSession, uris: Sequence[str], raw_root: Optional[str] = None, with_source_file: bool = False) -> DataFrame:
    """Reads raw NDJSON (gzip or not) with the explicit schema; never infers one.

    With `raw_root` (the folder holding the `dt=` folders), each record also gets the `dt` of the
    folder it was read from (Spark's partition discovery), so parsing can check that a record sits
    in the partition of its own date.
    """
    reader = spark.read.schema(RAW_EVENT_SCHEMA).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", "_corrupt_record")
    if raw_root is not None:
        reader = reader.option("basePath", raw_root)
    frame = reader.json(list(uris))
    return frame.withColumn("source_file", F.input_file_name()) if with_source_file else frame


def write_date(rows: DataFrame, folder: str, sort_columns: Sequence[str]) -> None:
    """Replaces `folder` with one `part-*.json` file of `rows` (already limited to one date).

    One overwrite per date instead of `partitionBy`: Spark leaves partition columns out of the
    files, and the indexer needs `event_date` in every row. Only this folder is replaced.
    """
    (
        rows.coalesce(1)
        .sortWithinPartitions(*sort_columns)
        .write.mode("overwrite")
        .option("ignoreNullFields", "false")  # nulls written as null, not left out
        .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")  # no _SUCCESS object
        .json(folder)
    )


def write_empty_date(files: HadoopFiles, folder: str, table: str, date: str, computed_at: str) -> bool:
    """Replaces an existing `folder` by the empty marker alone; returns whether it did.

    A date that never had output in this table gets nothing: there is nothing to replace.
    """
    if not files.exists(folder):
        return False
    files.delete(folder)
    marker = {"table": table, "event_date": date, "rows": 0, "computed_at": computed_at}
    files.write_text(join_uri(folder, EMPTY_MARKER), json.dumps(marker, sort_keys=True) + "\n")
    return True
