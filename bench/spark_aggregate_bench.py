"""Benchmark of the aggregation job (glue-scripts/clickstream_job, all five tables) on local Spark.

For each size (default 1M and 4M events) it generates a raw zone of enriched gzip NDJSON in a local
folder (bench/support/spark_bench_events.py: dt=/hr= partitions, sessions across midnight, bots,
devices, sources and campaigns, about 1% redelivered events), then times on the same input:
  - job: a full first run of the job (`clickstream_job.cli.run`: listing, state, read, checks,
    dedupe, sessions, the five tables, one file per date and table, state write), local[2];
  - baseline (the single-machine floor): DuckDB computing the same five tables from the same files
    with SQL (bench/support/duckdb_tables.py), with as many threads as Spark has cores, writing one
    NDJSON folder per date and table too; its rows are then checked equal to the job's, every row
    of every table, so the baseline is known to do the same work;
  - for reference, two plain Spark passes over the same input: read + parse + count, and one
    group-by count per (date, page, country).
It prints both times, the ratio job / DuckDB (the product's goal: at most 8x on 4M events) and the
growth from the first size to the last. Each time is the best of --repeat runs (default 2).

  .local-stack/venv/bin/python bench/spark_aggregate_bench.py [--sizes 1000000,4000000] [--repeat 2] [--no-reference]
Exits 1 when DuckDB's tables differ from the job's (a benchmark of different work means nothing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "local-stack" / "spark"))
sys.path.insert(0, str(REPO_ROOT / "glue-scripts"))
sys.path.insert(0, str(REPO_ROOT / "bench" / "support"))

GOAL_RATIO = 8.0
GOAL_SIZE = 4_000_000


def spark_session():
    from local_spark import local_spark_conf, stack_env
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


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def spark_cores(spark) -> int:
    """The N of `local[N]` (or `local[N,F]`); the machine's cores for `local[*]`, 1 for `local`."""
    master = spark.sparkContext.master
    inside = master[master.find("[") + 1 : master.find("]")].split(",")[0] if "[" in master else "1"
    return (os.cpu_count() or 1) if inside == "*" else int(inside)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,4000000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the two plain Spark passes (--no-reference skips them)")
    parser.add_argument("--work-dir", default=None, help="where the generated data goes (default: a temp folder, removed after)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import duckdb
    from pyspark.sql import functions as F

    from clickstream_job.cli import run
    from clickstream_job.config import DEFAULT_SESSION_GAP_MINUTES, JobConfig
    from clickstream_job.schema import RAW_EVENT_SCHEMA
    from clickstream_job.tables import TABLES
    import duckdb_tables
    from spark_bench_events import generate

    spark = spark_session()
    threads = spark_cores(spark)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="spark-aggregate-bench-"))
    print(f"spark_aggregate: local Spark {spark.version}, {spark.sparkContext.master}, {os.cpu_count()} cores (nproc), "
          f"shuffle partitions {spark.conf.get('spark.sql.shuffle.partitions')}, driver memory {spark.conf.get('spark.driver.memory')}; "
          f"DuckDB {duckdb.__version__}, {threads} threads; load average {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    failed = False
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
                frame = spark.read.schema(RAW_EVENT_SCHEMA).json(folders)
                assert frame.where(F.col("user_id").isNotNull() & F.col("ts").isNotNull()).count() == records

            def naive_group_count():
                # What a job without dedupe, sessions or time on page would cost: one group-by.
                frame = spark.read.schema(RAW_EVENT_SCHEMA).json(folders)
                frame.groupBy(F.substring("ts", 1, 10), "page_url", "country").count().write.mode("overwrite").format("noop").save()

            summary = {}

            def job_run():
                for sub in ("out", "state"):
                    shutil.rmtree(zone / sub, ignore_errors=True)
                config = JobConfig(raw_uri=raw.as_uri(), output_uri=(zone / "out").as_uri(), state_uri=(zone / "state").as_uri())
                summary.update(run(spark, config))

            connection = duckdb_tables.connect(threads)
            duck_rows = {}

            def duckdb_run():
                shutil.rmtree(zone / "duckdb-out", ignore_errors=True)
                duck_rows.update(duckdb_tables.compute_tables(connection, raw, zone / "duckdb-out", DEFAULT_SESSION_GAP_MINUTES, "bench"))

            job_s = best_of(args.repeat, job_run)
            duck_s = best_of(args.repeat, duckdb_run)
            base_s = best_of(args.repeat, read_parse_count) if args.reference else None
            naive_s = best_of(args.repeat, naive_group_count) if args.reference else None
            checked = duckdb_tables.compare(connection, zone / "out", list(TABLES))
            connection.close()
            results.append((size, job_s, duck_s))
            per_table = "  ".join(f"{name} {job_rows:,}" for name, (job_rows, _, _) in checked.items())
            print(
                f"spark_aggregate  events={size:>9,}  raw records={records:,} in {len(folders)} hour partitions (generated in {generated:.1f}s)\n"
                f"  job (first run, {len(summary['dates_written'])} dates, five tables, {summary['rows_written']:,} rows): {job_s:7.1f} s  "
                f"= {size / job_s:,.0f} events/s\n"
                f"  baseline, DuckDB SQL of the same five tables (same input, {threads} threads): {duck_s:7.1f} s  = {size / duck_s:,.0f} events/s\n"
                f"  ratio job / DuckDB: {job_s / duck_s:.1f}x\n"
                f"  rows per table (job): {per_table}",
                flush=True,
            )
            if base_s is not None and naive_s is not None:
                print(f"  for reference: Spark read + parse + count {base_s:.1f} s (job {job_s / base_s:.1f}x), one plain group-by {naive_s:.1f} s "
                      f"(job {job_s / naive_s:.1f}x)", flush=True)
            for name, (job_rows, their_rows, differing) in checked.items():
                if job_rows != their_rows or differing:
                    failed = True
                    print(f"  DIFFERENT WORK: {name}: job {job_rows:,} rows, DuckDB {their_rows:,} rows, {differing:,} rows in one and not the other")
            if not failed:
                print(f"  DuckDB's rows equal the job's in all {len(checked)} tables (every row, every column but computed_at)")
        if len(results) > 1:
            (n1, j1, d1), (n2, j2, d2) = results[0], results[-1]
            print(f"growth {n1:,} -> {n2:,} events ({n2 / n1:.1f}x): job time {j2 / j1:.2f}x, DuckDB time {d2 / d1:.2f}x")
        at_goal = [r for r in results if r[0] == GOAL_SIZE]
        if at_goal:
            ratio = at_goal[-1][1] / at_goal[-1][2]
            print(f"goal: job <= {GOAL_RATIO:.0f}x DuckDB on {GOAL_SIZE:,} events: {ratio:.1f}x {'OK' if ratio <= GOAL_RATIO else 'NOT MET'}")
        print(f"load average at the end {os.getloadavg()[0]:.1f} (other processes share the {os.cpu_count()} cores)")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
