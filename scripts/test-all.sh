#!/usr/bin/env bash
# The README's test command (`npm test`): installs whatever is missing (npm packages, the Python
# venv, Maven jars, Debian's chromium for the report screenshot), starts the real local engines,
# runs every test (TypeScript type check, jest, pytest), stops the engines it started, and ends
# with one summary line "tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source local-stack/env.sh

results="$LOCAL_STACK_HOME/results"
mkdir -p "$results"
step() { printf '\n==> %s\n' "$*"; }
die() { echo "test-all: $*" >&2; exit 1; }

step "npm packages"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.install-stamp ] || [ "$(cat node_modules/.install-stamp)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund || die "npm ci failed"
  echo "$lock_hash" > node_modules/.install-stamp
else
  echo "up to date"
fi

step "chromium (headless screenshots of the HTML report)"
if command -v chromium >/dev/null 2>&1; then
  echo "present: $(command -v chromium)"
elif [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || die "apt-get install chromium failed"
else
  die "Debian's chromium is needed for the report screenshot test: run 'sudo apt-get install -y chromium'"
fi

step "local engines: install (cached after the first run)"
bash local-stack/stack.sh install || die "installing the local engines failed"

# Engines that were already running (e.g. `npm run stack:up` for exploration) are left running.
already_up=$(bash local-stack/stack.sh status 2>/dev/null | grep -c ': running' || true)
step "local engines: start"
bash local-stack/stack.sh up || die "starting the local engines failed"
if [ "${already_up:-0}" = 0 ]; then
  trap 'step "local engines: stop"; bash local-stack/stack.sh down' EXIT
fi

failed_steps=0
step "type check"
npx tsc --noEmit -p tsconfig.json || failed_steps=$((failed_steps + 1))

step "jest"
rm -f "$results/jest.json"
npx jest --ci --json --outputFile="$results/jest.json" "$@"
jest_rc=$?

step "pytest"
rm -f "$results/pytest.xml"
"$VENV/bin/python" -m pytest -q --junitxml="$results/pytest.xml" -p no:cacheprovider
pytest_rc=$?

# One summary line over both runners; a missing result file counts as a failure of that runner.
summary=$(node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  try {
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    passed += j.numPassedTests; failed += j.numFailedTests;
    // A suite that fails to load has no failed tests but must still count.
    failed += j.numRuntimeErrorTestSuites || 0;
  } catch (e) { failed += 1; console.error("no jest results: " + e.message); }
  try {
    const x = fs.readFileSync(process.argv[2], "utf8");
    const m = /<testsuite\s[^>]*>/.exec(x)[0];
    const attr = (n) => Number((new RegExp(" " + n + "=\"(\\d+)\"").exec(m) || [0, 0])[1]);
    const f = attr("failures") + attr("errors");
    passed += attr("tests") - f - attr("skipped"); failed += f;
  } catch (e) { failed += 1; console.error("no pytest results: " + e.message); }
  console.log(`${passed} ${failed}`);
' "$results/jest.json" "$results/pytest.xml")
read -r passed failed <<<"$summary"
failed=$((failed + failed_steps))
echo
echo "tests: ${passed} passed, ${failed} failed"
if [ "$failed" -ne 0 ] || [ "$jest_rc" -ne 0 ] || [ "$pytest_rc" -ne 0 ]; then
  exit 1
fi
