#!/usr/bin/env bash
# Serves the dashboard (building it first when the sources changed) with a default desktop running.
# PORT (3000) and HOST (127.0.0.1) choose where; FREEZEFRAME_STATE_DIR where desktops and checkpoints live.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -f .next/BUILD_ID ] || [ -n "$(find app components server next.config.js package-lock.json -newer .next/BUILD_ID -print -quit 2>/dev/null)" ]; then
  echo "[serve] building the dashboard (next build)"
  npx next build
fi
exec node --import tsx --import ./server/runtime/register.js server/main.ts
