#!/usr/bin/env bash
# Runs every test against the real programs: the dashboard's build, unit, engine and server tests (node's
# runner), then the dashboard end to end in Chromium (Playwright). Called by `npm test` after
# scripts/install.sh; prints one summary line at the end.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp -d /tmp/freezeframe-tests.XXXXXX)
trap 'rm -rf "$out"' EXIT

echo "== dashboard build"
if ! npx next build >"$out/build.txt" 2>&1; then
  cat "$out/build.txt"
  echo "freezeframe: 0 passed, 1 failed (next build failed)"
  exit 1
fi

# etcd (the fleet's tests): each test that needs it starts its own on a throwaway data folder, listening on loopback
# and its test network's gateway only, and stops and starts it for the etcd-unreachable cases
# (test/support/etcd.ts); scripts/install.sh installs etcd-server.
echo "== unit and engine tests (real Xvnc, real criu)"
node --import tsx --import ./server/runtime/register.js --test --test-concurrency=1 test/*.test.ts 2>&1 | tee "$out/node.txt"
nodeStatus=${PIPESTATUS[0]}
nodePass=$(grep -E '^# pass ' "$out/node.txt" | awk '{print $3}' | tail -1)
nodeFail=$(grep -E '^# fail ' "$out/node.txt" | awk '{print $3}' | tail -1)

echo "== end-to-end tests (Chromium)"
e2eStatus=1 e2ePass=0 e2eFail=0
PLAYWRIGHT_JSON_OUTPUT_NAME="$out/e2e.json" npx playwright test --reporter=list,json
e2eStatus=$?
if [ -s "$out/e2e.json" ]; then
  read -r e2ePass e2eFail < <(node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stats;
    console.log(s.expected + s.flaky, s.unexpected);' "$out/e2e.json")
fi

total=$(( ${nodePass:-0} + e2ePass ))
failed=$(( ${nodeFail:-0} + e2eFail ))
[ "$nodeStatus" = 0 ] && [ "$e2eStatus" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "freezeframe: $total passed, $failed failed"
[ "$nodeStatus" = 0 ] && [ "$e2eStatus" = 0 ]
