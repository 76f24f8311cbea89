#!/usr/bin/env bash
# Runs the benchmarks of BUILD_DIR (default build), writes
# bench/results/latest.json and prints a table. Figures are per core; the
# pipeline is also given as a ratio to a decode-only baseline measured in the
# same process (these machines are noisy: compare ratios, not absolutes).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/results"
raw="$here/results/micro.json"
"$build/bin/bench_micro" --benchmark_format=json --benchmark_min_time=0.5 > "$raw"
python3 - "$raw" "$here/results/latest.json" <<'PY'
import json, sys, platform, datetime, os
raw = json.load(open(sys.argv[1]))
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rows = {b["name"]: b for b in raw["benchmarks"]}
ips = lambda n: rows[n]["items_per_second"]
out = {
    "machine": {"cores": os.cpu_count(), "cpu": model, "date": datetime.datetime.utcnow().isoformat() + "Z"},
    "command": "make bench (bench/run.sh build)",
    "figures": {n: {"records_per_second": round(b["items_per_second"]), "unit": "records/s on one core"}
                for n, b in rows.items()},
}
out["figures"]["BM_OrdersPipeline"]["ratio_to_decode_only_baseline"] = round(
    ips("BM_OrdersPipeline") / ips("BM_DecodeOnlyBaseline"), 3)
if "BM_CheckpointDecodeRestore" in rows:
    out["figures"]["BM_CheckpointDecodeRestore"]["checkpoint_bytes_100k_keys"] = rows["BM_CheckpointDecodeRestore"].get("bytes")
json.dump(out, open(sys.argv[2], "w"), indent=2)
print(f"{'benchmark':32} {'records/s/core':>16}")
for n, f in out["figures"].items():
    extra = f" (x{f['ratio_to_decode_only_baseline']} of decode-only)" if "ratio_to_decode_only_baseline" in f else ""
    print(f"{n:32} {f['records_per_second']:>16,}{extra}")
print(f"written: {sys.argv[2]}")
PY
