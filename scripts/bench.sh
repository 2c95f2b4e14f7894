#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, each printing its figure beside a baseline measured
# in the same run. Benchmarks are not tests: they assert nothing about time.
set -uo pipefail
cd "$(dirname "$0")/.."
source local-stack/env.sh
bash local-stack/stack.sh up || exit 1
rc=0
only="${1:-}"
for f in bench/*.bench.ts; do
  [ -e "$f" ] || continue
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  printf '\n==> %s\n' "$f"
  npx tsx "$f" || rc=1
done
for f in bench/*_bench.py; do
  [ -e "$f" ] || continue
  [ -n "$only" ] && [[ "$f" != *"$only"* ]] && continue
  printf '\n==> %s\n' "$f"
  "$VENV/bin/python" "$f" || rc=1
done
exit $rc
