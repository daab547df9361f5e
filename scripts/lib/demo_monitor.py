#!/usr/bin/env python3
"""Prints one line per poll while the demo's load runs, from heteroscaled's /hs/status and
/metrics and hs-router's /metrics, and records them in CSV for the summary and the plot.
Usage: demo_monitor.py DAEMON_URL ROUTER_URL SERVICE INTERVAL_S OUT.csv STOP_FILE"""
import json, os, re, sys, time, urllib.request

daemon, router, service, interval, out, stop = sys.argv[1:7]
interval = float(interval)

def get(url):
    try:
        return urllib.request.urlopen(url, timeout=3).read().decode()
    except Exception:
        return ""

def samples(text, name):
    out = []
    for line in text.splitlines():
        if line.startswith(name):
            m = re.match(r'([^{\s]+)(\{[^}]*\})?\s+(\S+)', line)
            if m and m.group(1) == name:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
                out.append((labels, float(m.group(3))))
    return out

def buckets(text, name):
    b = {}
    for labels, v in samples(text, name + "_bucket"):
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        b[le] = b.get(le, 0) + v  # summed over groups
    return b

def p99(prev, cur):
    d = sorted((le, cur[le] - prev.get(le, 0)) for le in cur)
    if not d or d[-1][1] <= 0:
        return float("nan")
    total, lo_le, lo_c = d[-1][1], 0.0, 0.0
    for le, c in d:
        if c >= 0.99 * total:
            if le == float("inf"):
                return lo_le
            return lo_le + (le - lo_le) * ((0.99 * total - lo_c) / max(c - lo_c, 1e-9))
        lo_le, lo_c = le, c
    return float("nan")

t0 = time.time()
prev_req, prev_ttft, prev_tbt, prev_t = None, {}, {}, t0
with open(out, "w") as f:
    f.write("t_s,load_rps,decode_tps,prefill,decode,ttft_p99_s,tbt_p99_s,groups\n")
    print(f"{'time':>5} {'load':>8} {'decode':>9}  {'instances per group (P/D)':<28} {'TTFT p99':>9} {'TBT p99':>8}")
    while not os.path.exists(stop):
        time.sleep(interval)
        now = time.time()
        st = get(f"{daemon}/hs/explain?service={service}")
        dm = get(f"{daemon}/metrics")
        rm = get(f"{router}/metrics")
        try:
            s = json.loads(st)
        except ValueError:
            continue
        req = sum(v for _, v in samples(rm, "hs_router_requests_total"))
        load = (req - prev_req) / (now - prev_t) if prev_req is not None else 0.0
        tps = [v for l, v in samples(dm, "hs_scaler_decode_tokens_per_second") if l.get("service") == service]
        tps = tps[0] if tps else float("nan")
        ttft_b, tbt_b = buckets(rm, "hs_router_ttft_seconds"), buckets(rm, "hs_router_tbt_seconds")
        ttft, tbt = p99(prev_ttft, ttft_b), p99(prev_tbt, tbt_b)
        prev_req, prev_ttft, prev_tbt, prev_t = req, ttft_b, tbt_b, now
        groups = s.get("groups", {})
        P = sum(g.get("prefill", {}).get("current", 0) for g in groups.values())
        D = sum(g.get("decode", {}).get("current", 0) for g in groups.values())
        per = " ".join(f"{g}:{c.get('prefill', {}).get('current', 0)}/{c.get('decode', {}).get('current', 0)}" for g, c in sorted(groups.items()))
        fmt = lambda x, u: "    -" if x != x else f"{x:.2f}{u}"
        print(f"{now - t0:5.0f} {load:6.1f}/s {tps:7.0f}/s  {per:<28} {fmt(ttft, 's'):>9} {fmt(tbt * 1000 if tbt == tbt else tbt, 'ms'):>8}", flush=True)
        f.write(f"{now - t0:.1f},{load:.2f},{tps:.1f},{P},{D},{ttft:.4f},{tbt:.5f},{per}\n")
        f.flush()
