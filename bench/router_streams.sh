#!/bin/bash
# Concurrent open streams through hs-router, real processes on loopback: hs-router in front of
# one prefill and four decode hs-engine-sim, and an asyncio client that opens N streamed
# completions at once and holds them all to their end. Prints hs-router's peak RSS (VmHWM) and
# threads, time to first token p50/p99 as the clients see it, and how many streams completed.
# Numbers only; nothing here passes or fails on them.
# Usage: router_streams.sh BUILD_DIR [STREAMS (default 10000)] [MAX_TOKENS (default 200)]
set -uo pipefail
B=$1 N=${2:-10000} TOKENS=${3:-200}
source "$(dirname "$0")/../scripts/lib/testlib.sh"
hs_setup router-streams
export VLLM_NIXL_SIDE_CHANNEL_HOST=127.0.0.1 VLLM_NIXL_SIDE_CHANNEL_PORT=0
ulimit -Hn 65536 2>/dev/null && ulimit -n 65536 2>/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null
FDS=$(ulimit -n)
# Each stream holds a client socket and an upstream one in the router, and the prefill's
# kept-alive connections (up to 256 idle) and a reserve need their own.
CAP=$(((FDS - 64 - 512) / 2))
if [ "$N" -gt "$CAP" ]; then
  echo "# the open-file limit here is $FDS: $N streams need $((2 * N + 64)) in the router; running $CAP"
  N=$CAP
fi
SIM=$B/launcher/hs-engine-sim
eps="["
for spec in p0:prefill d0:decode d1:decode d2:decode d3:decode; do
  n=${spec%%:*} r=${spec##*:}
  start_server "$n" "$T" "$SIM" --role "$r" --gpu-type h100 --model llama-8b --time-scale 1
  [ "$n" = p0 ] && P0PID=$PID
  eps+="{\"url\": \"http://127.0.0.1:$PORT\", \"role\": \"$r\", \"group\": \"g0\"},"
done
echo "${eps%,}]" >"$T/eps.json"
start_server router "$T" "$B/router/hs-router" --endpoints "$T/eps.json"
RPORT=$PORT RPID=$PID
wait_until 60 curl -sf -o /dev/null "http://127.0.0.1:$RPORT/ready"
threads_peak=0
( while kill -0 "$RPID" 2>/dev/null; do
    echo "$(awk '/^Threads/ {print $2}' "/proc/$RPID/status") $(awk '/^Threads/ {print $2}' "/proc/$P0PID/status")"
    sleep 0.5
  done ) >"$T/threads" 2>/dev/null &
WATCH=$!
python3 - "$RPORT" "$N" "$TOKENS" <<'PY'
import asyncio, json, resource, sys, time
port, n, tokens = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
body = json.dumps({"model": "llama", "prompt": "a long stream", "max_tokens": tokens,
                   "stream": True, "ignore_eos": True}).encode()
req = (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body)) + body
open_now = peak = 0
failures = {}
async def one(results):
    global open_now, peak
    t0 = time.monotonic()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        results.append((None, False)); return
    open_now += 1; peak = max(peak, open_now)
    w.write(req)
    first, done, status = None, False, None
    try:
        while True:
            line = await asyncio.wait_for(r.readline(), 600)
            if not line:
                break
            if status is None:
                status = line.split(b" ")[1].decode() if b" " in line else "?"
            if line.startswith(b"data: {\"error"):
                failures[line.strip()[:120].decode(errors="replace")] = failures.get(
                    line.strip()[:120].decode(errors="replace"), 0) + 1
            if first is None and line.startswith(b"data: {") and b'"text"' in line:
                first = time.monotonic() - t0
            if line.startswith(b"data: [DONE]"):
                done = True
                break
    except (OSError, asyncio.TimeoutError):
        pass
    open_now -= 1
    if not done and status != "200":
        failures["HTTP %s" % status] = failures.get("HTTP %s" % status, 0) + 1
    w.close()
    results.append((first, done))
async def main():
    results = []
    t0 = time.monotonic()
    await asyncio.gather(*(one(results) for _ in range(n)))
    wall = time.monotonic() - t0
    ttft = sorted(f for f, _ in results if f is not None)
    q = lambda p: ttft[int(p * (len(ttft) - 1))] if ttft else float("nan")
    print("%d streams of %d tokens: %d completed, %d open at once at the peak, wall %.1f s"
          % (n, tokens, sum(d for _, d in results), peak, wall))
    print("time to first token as clients see it: p50 %.2f s, p99 %.2f s" % (q(0.5), q(0.99)))
    for why, k in sorted(failures.items(), key=lambda x: -x[1])[:5]:
        print("  not completed: %d x %s" % (k, why))
asyncio.run(main())
PY
echo "hs-router: peak RSS $(awk '/^VmHWM/ {print $2, $3}' "/proc/$RPID/status"), peak threads $(cut -d' ' -f1 "$T/threads" | sort -n | tail -1)"
echo "the prefill hs-engine-sim: peak threads $(cut -d' ' -f2 "$T/threads" | sort -n | tail -1)"
kill "$WATCH" 2>/dev/null
# Why instances stopped getting requests, if they did (the first few, as the router logged it).
grep -E "unreachable|failed its health check|failed \(" "$T/router.err" | head -4
# What the engine calls that failed said, counted (numbers folded).
grep -oE "(prefill|decode) on [^ ]+ failed \(.*" "$T/router.err" | sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -4
