#!/usr/bin/env python3
"""Writes the demo's request trace: one real day's arrival-rate shape (ServeGen m-large, per
600 s window) compressed to DURATION wall seconds and scaled to PEAK requests/s, Poisson
arrivals, each request's prompt and output lengths taken in order from the real Azure 2023
code trace. Output: Mooncake-style JSONL (timestamp ms, input_length, output_length,
hash_ids with no sharing), which hs-loadgen replays.
Usage: diurnal_trace.py RATE_CSV AZURE_CSV DURATION_S PEAK_RPS OUT.jsonl [SEED]"""
import csv, json, math, random, sys

rate_csv, azure_csv, duration, peak, out = sys.argv[1:6]
duration, peak = float(duration), float(peak)
rng = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
rates = [float(r["rate"]) for r in csv.DictReader(l for l in open(rate_csv) if not l.startswith("#"))]
top = max(rates)
lengths = [(int(r["ContextTokens"]), int(r["GeneratedTokens"])) for r in csv.DictReader(open(azure_csv))]
win = duration / len(rates)
t, i, block = 0.0, 0, 0
with open(out, "w") as f:
    while True:
        w = min(int(t / win), len(rates) - 1)
        t += rng.expovariate(max(peak * rates[w] / top, 1e-6))
        if t >= duration:
            break
        n_in, n_out = lengths[i % len(lengths)]
        i += 1
        blocks = math.ceil(n_in / 512)
        f.write(json.dumps({"timestamp": int(t * 1000), "input_length": n_in, "output_length": max(n_out, 1),
                            "hash_ids": list(range(block, block + blocks))}) + "\n")
        block += blocks
print(f"{i} requests over {duration:.0f} s (peak {peak} req/s, trough {peak * min(rates) / top:.1f} req/s)")
