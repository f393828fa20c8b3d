#!/usr/bin/env bash
# CI recipe: start cinepass in the background with the fixtures, wait until it is ready, run the
# client's tests against it, stop it. Run from the project folder: `bash ci/run-tests.sh`.
set -euo pipefail
PORT="${CINEPASS_PORT:-8080}"
export TMDB_BASE_URL="http://127.0.0.1:${PORT}"
export TMDB_API_KEY="00000000000000000000000000c1e7a5"   # fixed in fixtures.json

# --auto-approve: every request token is approved as alice, for a flow that would open the website.
node_modules/.bin/cinepass serve --database :memory: --port "$PORT" --fixtures fixtures.json --auto-approve alice > cinepass.log 2>&1 &
CINEPASS_PID=$!
trap 'kill "$CINEPASS_PID" 2>/dev/null || true' EXIT

# Ready within 10 seconds, or the job fails with cinepass's own output.
for _ in $(seq 1 100); do
  if curl -fsS "${TMDB_BASE_URL}/readyz" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$CINEPASS_PID" 2>/dev/null; then cat cinepass.log; exit 1; fi
  sleep 0.1
done
curl -fsS "${TMDB_BASE_URL}/readyz" > /dev/null || { cat cinepass.log; exit 1; }

node --test ci/
