#!/usr/bin/env bash
# Spark has no server here (see start.sh): nothing to stop. A running job is its caller's to end.
echo "spark: nothing to stop (runs per job)"
