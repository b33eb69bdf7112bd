#!/usr/bin/env bash
# Smoke test of evrepl-bench (docs/performance.md): a short run against a stub evrepld that the
# bench spawns itself, with the bare NNG echo as its baseline. It checks that the bench works
# and reports sane figures (calls made, no failed call, latencies and ratios present), never how
# fast anything is: performance claims come from full runs, not from ctest.
#   bench-smoke.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: bench-smoke.sh BIN_DIR}
dir=$(mktemp -d /tmp/evrepl-bench-smoke.XXXXXX)
trap 'rm -rf "$dir"' EXIT

check() { # method json-file
  python3 - "$1" "$2" <<'PY'
import json, sys
method, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
m = r["measured"]
def fail(why):
    sys.exit(f"bench-smoke ({method}): {why}\n{json.dumps(r, indent=1)[:3000]}")
if r["method"] != method:
    fail("wrong method in the report")
if m["calls"] <= 0:
    fail("no calls were made")
if m["errors"] != 0:
    fail(f"{m['errors']} calls failed: {m['errors_by_status']}")
for q in ("p50", "p90", "p99", "p99.9"):
    if not m["latency_us"][q] > 0:
        fail(f"latency {q} missing")
if not r["server"]["spawned"] or "cpu_s_per_1000_calls" not in m:
    fail("server resource figures missing")
if not r["server"].get("rss_kb_before", 0) > 0:
    fail("server RSS missing")
b = r["baselines"]
if len(b) != 1 or b[0]["name"] != "nng" or b[0]["calls"] <= 0 or b[0]["errors"] != 0:
    fail("the nng baseline did not run cleanly")
ratio = b[0]["ratio"]
for k in ("throughput", "p50", "p99"):
    if not ratio.get(k, 0) > 0:
        fail(f"ratio {k} missing")
print(f"bench-smoke ({method}): {m['calls']} calls, {m['calls_per_s']:.0f}/s, "
      f"throughput ratio to bare NNG {ratio['throughput']:.2f}, p50 ratio {ratio['p50']:.2f}")
PY
}

for method in health propagate; do
  # Every loop is bounded: 2 s of calls plus 0.2 s of warm-up per target, 2 s call timeouts.
  rc=0
  timeout 60 "$bin/evrepl-bench" --url "ipc://$dir/evrepld.sock" \
    --spawn "--stub-replicas us-east,eu-west,ap-south" --evrepld "$bin/evrepld" \
    --method "$method" --concurrency 4 --duration 2 --rounds 2 --warmup 0.2 \
    --timeout-ms 2000 --baseline nng --json >"$dir/$method.json" || rc=$?
  if [ ! -s "$dir/$method.json" ]; then
    echo "bench-smoke ($method): evrepl-bench wrote no report (exit $rc)" >&2
    exit 1
  fi
  check "$method" "$dir/$method.json"
  if [ "$rc" -ne 0 ]; then
    echo "bench-smoke ($method): evrepl-bench exited $rc" >&2
    exit 1
  fi
done
