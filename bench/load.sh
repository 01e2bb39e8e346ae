#!/usr/bin/env bash
# Load benchmark of the gateway on the canonical benchmark query (schema/operations/canonical.graphql).
#
# Builds release binaries, starts the four subgraphs and the gateway as separate processes on
# loopback, then drives the gateway with wrk (50 connections, a distinct valid Authorization
# header per request so nothing can be coalesced). Reports requests/s, latency percentiles, the
# gateway's CPU time per request (user+sys from /proc ÷ requests) and its peak RSS; then the
# ceiling: the same load sent straight to each subgraph's own busiest query.
#
# The subgraphs keep answers for 5 s (`--response-cache-seconds`), so that they are not the
# bottleneck: the gateway still does all of its work for every request.
#
# DATASET is what the subgraphs are seeded with: `bench` (default) is shaped like the public gateway
# benchmarks' data (6 users, 5 products, 12 reviews; a ~90 KB answer), so figures compare with
# theirs; `demo` is the larger demo graph (12 users, 24 products, 72 reviews; a 312 KB answer).
#
# Usage: bench/load.sh [DURATION_SECONDS (default 20)] [CONNECTIONS (default 50)] [DATASET (default bench)]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20}"
CONNECTIONS="${2:-50}"
DATASET="${3:-bench}"
case "$DATASET" in
  bench) USERS=6 PRODUCTS=5 ;;
  demo) USERS=12 PRODUCTS=24 ;;
  *) echo "unknown data set: $DATASET (bench or demo)" >&2; exit 2 ;;
esac
BASE=5100
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p mosaic -p accounts -p products -p inventory -p reviews
BIN="${CARGO_TARGET_DIR:-target}/release"

wait_up() { for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }

i=1
for name in accounts products inventory reviews; do
  port=$((BASE + i))
  RUST_LOG=warn "$BIN/$name" --listen "127.0.0.1:$port" --database-url "sqlite://$WORK/$name.db?mode=rwc" --seed --dataset "$DATASET" --response-cache-seconds 5 >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_up "$port"
  i=$((i + 1))
done
# The tokens below are signed with the development key; the gateway is told so explicitly.
MOSAIC_JWT_SECRET="mosaic-dev-secret-do-not-use-in-production" RUST_LOG=warn "$BIN/mosaic" gateway --supergraph schema/supergraph.graphql --listen "127.0.0.1:$BASE" \
  --subgraph-url "accounts=http://127.0.0.1:$((BASE + 1))/graphql" \
  --subgraph-url "products=http://127.0.0.1:$((BASE + 2))/graphql" \
  --subgraph-url "inventory=http://127.0.0.1:$((BASE + 3))/graphql" \
  --subgraph-url "reviews=http://127.0.0.1:$((BASE + 4))/graphql" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_up "$BASE"

# 1000 distinct HS256 tokens signed with the development key (stdlib only).
python3 - "$WORK/tokens.txt" <<'PY'
import base64, hashlib, hmac, json, sys, time
key = b"mosaic-dev-secret-do-not-use-in-production"
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
with open(sys.argv[1], "w") as out:
    for n in range(1000):
        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": str(n % 12 + 1), "username": f"bench{n}", "scope": "", "iss": "mosaic", "iat": now + n, "exp": now + 86400}
        body = b64(json.dumps(claims).encode())
        sig = b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        out.write(f"{head}.{body}.{sig}\n")
PY

# wrk script: POST a body, rotating through the tokens.
make_script() { # $1 = JSON body file
  cat <<LUA
local tokens = {}
for line in io.lines("$WORK/tokens.txt") do tokens[#tokens + 1] = line end
local f = io.open("$1"); local body = f:read("*a"); f:close()
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1] }, body)
end
LUA
}

python3 -c "import json,sys; print(json.dumps({'query': open('schema/operations/canonical.graphql').read()}))" >"$WORK/canonical.json"
RESPONSE="$(curl -s "http://127.0.0.1:$BASE/graphql" -H 'content-type: application/json' -d @"$WORK/canonical.json")"
echo "$RESPONSE" | python3 -c "import json,sys; r=json.load(sys.stdin); assert 'errors' not in r, r['errors']; print('canonical query OK:', len(json.dumps(r)), 'bytes')"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_wrk() { # $1 = port, $2 = body file, $3 = label
  make_script "$2" >"$WORK/script.lua"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/script.lua" "http://127.0.0.1:$1" >"$WORK/wrk.txt"
  local rps p50 p99 requests
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
  errors=$(awk '/Non-2xx|Socket errors/' "$WORK/wrk.txt")
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s %s\n' "$3" "$rps" "$p50" "$p99" "$errors"
  echo "$requests" >"$WORK/requests"
}

echo "== gateway, canonical query, $CONNECTIONS connections, ${DURATION}s, $DATASET data"
all_ticks() { for pid in "${PIDS[@]}"; do cpu_ticks "$pid"; done | paste -sd' '; }
before=$(all_ticks)
run_wrk "$BASE" "$WORK/canonical.json" "gateway (canonical query)"
after=$(all_ticks)
requests=$(cat "$WORK/requests")
hz=$(getconf CLK_TCK)
# PIDS holds the four subgraphs, then the gateway.
python3 - "$before" "$after" "$hz" "$requests" <<'PY'
import sys
before, after = ([int(t) for t in a.split()] for a in sys.argv[1:3])
hz, requests = int(sys.argv[3]), int(sys.argv[4])
ms = [(a - b) / hz / requests * 1000 for a, b in zip(after, before)]
print(f"gateway CPU per request: {ms[4]:.3f} ms  ({requests} requests)")
names = ("accounts", "products", "inventory", "reviews")
print("subgraphs' CPU per request: " + ", ".join(f"{n} {m:.3f} ms" for n, m in zip(names, ms)))
PY
echo "gateway peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$GATEWAY_PID/status")"
echo "subgraph fetches per query: $("$BIN/mosaic" plan --supergraph schema/supergraph.graphql --operation schema/operations/canonical.graphql | grep -c 'Fetch(service')"

echo "== ceiling: each subgraph's own busiest query, same load"
echo '{"query":"{ users { id username name } }"}' >"$WORK/accounts.json"
echo '{"query":"{ topProducts(first: 5) { upc name price weight } }"}' >"$WORK/products.json"
python3 -c "import json; print(json.dumps({'query': 'query(\$r: [_Any!]!) { _entities(representations: \$r) { ... on Product { inStock shippingEstimate } } }', 'variables': {'r': [{'__typename': 'Product', 'upc': str(n), 'price': 100 * n, 'weight': 10 * n} for n in range(1, $PRODUCTS + 1)]}}))" >"$WORK/inventory.json"
python3 -c "import json; print(json.dumps({'query': 'query(\$r: [_Any!]!) { _entities(representations: \$r) { ... on User { reviews { id body product { upc reviews { id body author { id username reviews { id body product { upc } } } } } } } } }', 'variables': {'r': [{'__typename': 'User', 'id': str(n)} for n in range(1, $USERS + 1)]}}))" >"$WORK/reviews.json"
i=1
for name in accounts products inventory reviews; do
  run_wrk "$((BASE + i))" "$WORK/$name.json" "$name (direct)"
  i=$((i + 1))
done
