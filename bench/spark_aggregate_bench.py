"""Benchmark of the aggregation job (glue-scripts/aggregate_clicks.py) on local Spark.

For each size (default 1M and 4M events) it generates a raw zone of gzip NDJSON in a local folder
(dt=/hr= partitions, about 1% redelivered events), then times in the same Spark session:
  - baseline: a plain read of the same raw folders with the same schema, and a count;
  - job: a full first run of the job (`run`: listing, state, dedupe, sessions, aggregates, writes).
It prints events/s of the job and the job/baseline ratio; the growth from 1M to 4M shows how the
job scales. Each measurement is the best of --repeat runs (default 2): this is a laptop.

  .local-stack/venv/bin/python bench/spark_aggregate_bench.py [--sizes 1000000,4000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "local-stack" / "spark"))


def load_job():
    spec = importlib.util.spec_from_file_location("aggregate_clicks", REPO_ROOT / "glue-scripts" / "aggregate_clicks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["aggregate_clicks"] = module
    spec.loader.exec_module(module)
    return module


def spark_session():
    from local_spark import local_spark_conf, stack_env  # noqa: E402
    from pyspark.sql import SparkSession

    env = stack_env()
    for key, value in env.items():
        os.environ.setdefault(key, value)
    builder = SparkSession.builder
    for key, value in local_spark_conf(env, python=sys.executable).items():
        builder = builder.config(key, value)
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    spark = builder.appName("spark-aggregate-bench").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def generate(spark, events: int, folder: Path) -> int:
    """Writes `events` click events (plus ~1% redelivered copies) as a raw zone; returns the record count.

    Users click every 2 minutes or so, with a pause of over an hour every 10 clicks (a new
    session), for about 5 hours from a start spread over a day, so sessions cross midnight too.
    """
    from pyspark.sql import functions as F

    users = max(1, events // 40)
    countries = F.array(*[F.lit(c) for c in "US DE FR GB NL ES IT PL SE NO DK FI BE AT CH IE PT CZ HU RO BR MX CA AU NZ JP KR IN SG ZA".split()])
    base_ms = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    ids = spark.range(events)
    user = F.col("id") % users
    seq = (F.col("id") / users).cast("long")
    ts_ms = (
        F.lit(base_ms)
        + (F.abs(F.hash(user)) % 86_400_000)
        + seq * 120_000
        + (seq / 10).cast("long") * 3_900_000
        + F.abs(F.hash(F.col("id"), F.lit(7))) % 60_000
    )
    frame = ids.select(
        F.concat(F.lit("clickstream-"), F.col("id")).alias("event_id"),
        F.concat(F.lit("user-"), user).alias("user_id"),
        F.lit(None).cast("string").alias("session_id"),
        F.date_format((ts_ms / 1000).cast("timestamp"), "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias("ts"),
        F.concat(F.lit("https://shop.example.com/p/"), F.abs(F.hash(F.col("id"), F.lit(1))) % 500).alias("page_url"),
        F.element_at(countries, (F.abs(F.hash(user)) % 30 + 1).cast("int")).alias("country"),
        F.lit("Mozilla/5.0 (bench)").alias("user_agent"),
        F.struct(F.lit("clickstream").alias("topic"), (F.col("id") % 3).alias("partition"), F.col("id").alias("offset"), ts_ms.alias("timestamp")).alias("kafka"),
        F.date_format((ts_ms / 1000).cast("timestamp"), "yyyy-MM-dd").alias("dt"),
        F.date_format((ts_ms / 1000).cast("timestamp"), "HH").alias("hr"),
    ).withColumn("url", F.col("page_url"))
    redelivered = frame.where(F.col("kafka.offset") % 100 == 7)
    (
        frame.unionByName(redelivered)
        .repartition(16, "dt", "hr")
        .write.mode("overwrite")
        .partitionBy("dt", "hr")
        .option("compression", "gzip")
        .json(str(folder))
    )
    return events + events // 100


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,4000000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work-dir", default=None, help="where the generated data goes (default: a temp folder, removed after)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    job = load_job()
    spark = spark_session()
    from pyspark.sql import functions as F
    cores = os.cpu_count()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="spark-aggregate-bench-"))
    print(f"spark_aggregate: local Spark {spark.version}, {spark.sparkContext.master}, {cores} cores (nproc), "
          f"shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}, driver memory {spark.conf.get('spark.driver.memory')}, "
          f"load average {os.getloadavg()[0]:.1f}")
    results = []
    try:
        for size in sizes:
            zone = work / f"n{size}"
            raw = zone / "raw"
            t = time.perf_counter()
            records = generate(spark, size, raw)
            generated = time.perf_counter() - t
            folders = sorted(str(p) for p in raw.glob("dt=*/hr=*"))

            def read_parse_count():
                # A filter on parsed fields, so Spark parses every record (a bare count() skips parsing).
                frame = spark.read.schema(job.RAW_EVENT_SCHEMA).json(folders)
                assert frame.where(F.col("user_id").isNotNull() & F.col("ts").isNotNull()).count() == records

            def naive_group_count():
                # What a job without dedupe, sessions or time on page would cost: one group-by.
                frame = spark.read.schema(job.RAW_EVENT_SCHEMA).json(folders)
                frame.groupBy(F.substring("ts", 1, 10), "page_url", "country").count().write.mode("overwrite").format("noop").save()

            summary = {}

            def job_run():
                for sub in ("out", "state"):
                    shutil.rmtree(zone / sub, ignore_errors=True)
                config = job.JobConfig(raw_uri=raw.as_uri(), output_uri=(zone / "out").as_uri(), state_uri=(zone / "state").as_uri())
                summary.update(job.run(spark, config))

            base_s = best_of(args.repeat, read_parse_count)
            naive_s = best_of(args.repeat, naive_group_count)
            job_s = best_of(args.repeat, job_run)
            results.append((size, records, job_s, base_s))
            print(
                f"spark_aggregate  events={size:>9,}  raw records={records:,} in {len(folders)} hour partitions (generated in {generated:.1f}s)\n"
                f"  job (first run, all {len(summary['dates_written'])} dates, {summary['rows_written']:,} rows): {job_s:7.1f} s  "
                f"= {size / job_s:,.0f} events/s\n"
                f"  baseline 1, read + parse + count (same input): {base_s:7.1f} s  = {records / base_s:,.0f} records/s\n"
                f"  baseline 2, one plain group-by count:          {naive_s:7.1f} s\n"
                f"  ratio job / baseline 1: {job_s / base_s:.1f}x   job / baseline 2: {job_s / naive_s:.1f}x",
                flush=True,
            )
        if len(results) > 1:
            (n1, _, j1, b1), (n2, _, j2, b2) = results[0], results[-1]
            print(f"growth {n1:,} -> {n2:,} events ({n2 / n1:.1f}x): job time {j2 / j1:.2f}x, baseline time {b2 / b1:.2f}x")
        print(f"load average at the end {os.getloadavg()[0]:.1f} (other processes share the {cores} cores)")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
