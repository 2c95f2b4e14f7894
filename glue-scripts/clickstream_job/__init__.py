"""The clickstream aggregation job (SPEC section 3) as a package.

One module per concern; only `cli` reads arguments, builds the SparkSession or touches `awsglue`:

- `config`: the frozen `JobConfig` and the argument rules shared by every module;
- `schema`: the raw record schema and the read defaults of the enrichment fields;
- `parse`: typing, validation and deduplication of raw records (DataFrame in, DataFrame out);
- `sessions`: sessions, entries, exits, bounces and time on page (one window over each user's date);
- `tables`: one function per output table, and the `TABLES` registry;
- `state`: incremental planning, plain Python over a listing of the raw zone;
- `io`: the Hadoop FileSystem (listing, state, markers), the raw read and the output writes;
- `cli`: `run` (one job run) and `main` (Glue or spark-submit entry point).

The same code runs under AWS Glue 5 (`s3://`) and a local pyspark 3.5 (`s3a://`, `file://`).
"""
