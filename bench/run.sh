#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR]: runs the benchmarks of BUILD_DIR (default build),
# writes bench/results/latest.json and prints a table. About two minutes.
#
#   bench_micro     Google Benchmark, one core, no broker;
#   bench_pipeline  RUNS times (default 3; the embedded broker stalls now and
#                   then, so the best run is quoted with the spread of all);
#   checkpoints     (CHECKPOINTS=0 skips them, about 7 minutes here)
#                   bench_checkpoint for 100k and 1M keys (decoded, and
#                   encoded as AUTO tables of that size are), bench_restore
#                   (1M keys: restore from checkpoints against replaying
#                   the table topic), bench_pipeline --checkpoint-compare 3
#                   (checkpoint.interval.ms=1000 against none, same run)
#                   and bench_catchup (a restarted Yahoo pipeline's
#                   backlog with the look back at its repartition topic
#                   against without, 3 rounds, about 2.5 minutes);
#   bench_windows   windowed counts of WINDOW_EVENTS events (default 10M)
#                   over 100k keys, tumbling and hopping, EMIT CHANGES and
#                   EMIT FINAL, each in its own process (WINDOW_EVENTS=0
#                   skips them; about 3 minutes here);
#   bench_sql       the Yahoo Streaming Benchmark and Nexmark Q1, Q2, Q3, Q5,
#                   Q7 in Rivulet SQL, each through the TestDriver, the
#                   Application and the KafkaConsumer -> KafkaProducer
#                   baseline, plus each workload's p50/p99 latency at
#                   half its measured throughput next to the broker
#                   path's own (the same events at the same rate through
#                   as many forwarding hops), with the load average
#                   (SQL_WORKLOADS=none skips them,
#                   SQL_WORKLOADS=yahoo,q1 picks; YAHOO_EVENTS,
#                   NEXMARK_EVENTS, Q3_EVENTS, LATENCY_SECONDS size them;
#                   about 1.5 minutes here with the defaults); then Yahoo
#                   again with the output cache on, final counts checked
#                   (yahoo_cached_*; YAHOO_CACHED_EVENTS, 0 skips it),
#                   and its throughput YAHOO_RATIO_RUNS more times (3;
#                   0 skips them) for the median and range of its ratio
#                   to the baseline (yahoo_cached_ratio_to_baseline_runs,
#                   and _steady_ over the middle of each run's input):
#                   one run's ratio moves with the machine's noise.
#   bench_sql_api   SQL against the same queries written with the C++ API
#                   (orders LEFT JOIN users; per-user count), both through
#                   the TestDriver in one process, alternating, 3 rounds
#                   (SQL_API_ORDERS, default 500000; 0 skips; ~1 minute);
#                   then the SQL join once more with the users table kept
#                   encoded (TABLE_STORAGE='ENCODED'), for its bytes per
#                   entry beside the decoded table's (seconds);
#   bench_subquery  subqueries against a 100-row table (a key lookup, a
#                   cached aggregate scan, a SELECT value, correlated scans
#                   by an equality and by a range, a nested subquery)
#                   against a plain filter,
#                   TestDriver, one thread,
#                   3 rounds (SUBQUERY_TRADES, default 100000; 0 skips;
#                   seconds);
#   bench_fk_join   a foreign-key table join's orders per CPU second with
#                   100 and 50,000 orders per customer against 1, TestDriver,
#                   one thread, 3 rounds (FK_ORDERS, default 50000; 0 skips;
#                   seconds);
#   cluster         `rivulet demo --cluster --nodes K` for each K of
#                   CLUSTER_NODES (default "3 4": scaling 3 -> 4 and
#                   4 -> 5 nodes; CLUSTER_NODES=none skips it): tasks moved
#                   when one node joins, the longest hand-over pause, and
#                   after a SIGKILL the time until the dead node's tasks run
#                   elsewhere and until each wrote output again (failover);
#                   about one minute per K;
#   demo, 1M users  bench_pipeline --users DEMO_USERS (default 1000000; 0
#                   skips) --partitions 32, once with the users table in
#                   decoded storage (also measuring the table's bytes per
#                   entry in both storages, and p50/p99 latency for 10 s
#                   at half of the maximum a burst measured just before,
#                   or at DEMO_LATENCY_RATE orders/s when set)
#                   and once in encoded storage; about 2 minutes;
#   scaling         bench_scaling: the demo's SQL on 1, 2 and 3 `rivulet
#                   node`s (SCALING_NODES, default "1 2 3"; none skips),
#                   each node in its own cgroup with SCALING_QUOTA CPUs
#                   (default 0.4), SCALING_ORDERS orders (default 300000)
#                   preloaded in 12 partitions; skipped with a message when
#                   the cgroup v1 cpu controller is not writable (not
#                   root); SCALING_ROUNDS rounds (default 2), the best run
#                   per node count quoted; each node cgroup's cpu.shares
#                   SCALING_SHARES (default 8192: eight ordinary processes'
#                   weight, so that a node reaches its quota while others
#                   load the machine; the quota still caps it); about 4
#                   minutes.
#
# Extra arguments for bench_pipeline go in PIPELINE_ARGS (for example
# PIPELINE_ARGS="--bootstrap host:9092" for a real Kafka).
set -euo pipefail
build=${1:-build}
runs=${RUNS:-3}
pipeline_args=${PIPELINE_ARGS:-}
here=$(cd "$(dirname "$0")" && pwd)
results="$here/results"
mkdir -p "$results"
checkpoints=${CHECKPOINTS:-1}
window_events=${WINDOW_EVENTS:-10000000}
sql_workloads=${SQL_WORKLOADS:-yahoo,q1,q2,q3,q5,q7}
for exe in bench_micro bench_pipeline bench_checkpoint bench_restore bench_catchup bench_windows \
    bench_sql bench_sql_api bench_subquery bench_fk_join bench_scaling; do
  if [[ ! -x "$build/bin/$exe" ]]; then
    echo "run.sh: $build/bin/$exe is missing; build it first (cmake --build $build --target $exe)" >&2
    exit 1
  fi
done

# Runs one benchmark command (its words split), stdout to $results/OUT and
# stderr to $results/LOG; a failure is reported and does not stop the rest.
run_bench() {  # run_bench CMD OUT LOG
  echo "run.sh: $1" >&2
  # shellcheck disable=SC2086
  $1 2> "$results/$3" > "$results/$2" || echo "run.sh: $1 failed; see $results/$3" >&2
}

micro_cmd="$build/bin/bench_micro --benchmark_format=json --benchmark_min_time=0.5"
echo "run.sh: $micro_cmd" >&2
$micro_cmd > "$results/micro.json"

pipeline_cmd="$build/bin/bench_pipeline $pipeline_args"
: > "$results/pipeline.jsonl"
for i in $(seq 1 "$runs"); do
  echo "run.sh: pipeline run $i/$runs: $pipeline_cmd" >&2
  # A failed run is recorded (its phases carry ok=false and the error) and
  # does not stop the others.
  # shellcheck disable=SC2086
  $pipeline_cmd 2> "$results/pipeline-$i.log" | tail -n 1 >> "$results/pipeline.jsonl" || \
    echo "run.sh: pipeline run $i failed; see $results/pipeline-$i.log" >&2
done

rm -f "$results"/checkpoint-*.json "$results"/restore-*.json "$results/checkpoint-compare.json" \
  "$results/catchup.json"
if [[ "$checkpoints" != 0 ]]; then
  for keys in 100000 1000000; do
    for storage in decoded encoded; do
      suffix=$([[ $storage == encoded ]] && echo "-encoded" || true)
      cmd="$build/bin/bench_checkpoint --keys $keys --changed-percent 1 --rounds 5 --storage $storage"
      echo "run.sh: $cmd" >&2
      $cmd 2> "$results/checkpoint-$keys$suffix.log" | tail -n 1 | \
        python3 -c 'import json,sys; d=json.load(sys.stdin); d["command"]=sys.argv[1]; print(json.dumps(d))' "$cmd" \
        > "$results/checkpoint-$keys$suffix.json" || echo "run.sh: $cmd failed" >&2
    done
  done
  for storage in decoded encoded; do
    cmd="$build/bin/bench_restore --keys 1000000 --partitions 32 --store both --storage $storage"
    echo "run.sh: $cmd" >&2
    $cmd 2> "$results/restore-$storage.log" | tail -n 1 > "$results/restore-$storage.json" || \
      echo "run.sh: $cmd failed" >&2
  done
  cmd="$build/bin/bench_pipeline $pipeline_args --checkpoint-compare 3"
  echo "run.sh: $cmd" >&2
  # shellcheck disable=SC2086
  $cmd 2> "$results/checkpoint-compare.log" | tail -n 1 > "$results/checkpoint-compare.json" || \
    echo "run.sh: $cmd failed" >&2
  cmd="$build/bin/bench_catchup --before 100000 --backlog 400000 --rounds 3"
  echo "run.sh: $cmd" >&2
  $cmd 2> "$results/catchup.log" | tail -n 1 > "$results/catchup.json" || \
    echo "run.sh: $cmd failed" >&2
fi

rm -f "$results/windows.jsonl"
windows_cmd="$build/bin/bench_windows --events $window_events --keys 100000"
if [[ "$window_events" != 0 ]]; then
  run_bench "$windows_cmd" windows.jsonl windows.log
fi

rm -f "$results/sql.json"
sql_cmd="$build/bin/bench_sql --workloads $sql_workloads --yahoo-events ${YAHOO_EVENTS:-100000}"
sql_cmd+=" --nexmark-events ${NEXMARK_EVENTS:-150000} --q3-events ${Q3_EVENTS:-1000000}"
sql_cmd+=" --latency --latency-seconds ${LATENCY_SECONDS:-15} $pipeline_args"
if [[ "$sql_workloads" != none ]]; then
  echo "run.sh: $sql_cmd" >&2
  # shellcheck disable=SC2086
  $sql_cmd 2> "$results/sql.log" | tail -n 1 > "$results/sql.json" || \
    echo "run.sh: $sql_cmd failed; see $results/sql.log" >&2
fi

# Yahoo again with the output cache (ksqlDB's default outside its query
# tests): table updates merged per key and flush, partial counts combined
# before the repartition topic; the final counts checked.
rm -f "$results/sql_cached.json"
sql_cached_cmd="$build/bin/bench_sql --workloads yahoo --yahoo-events ${YAHOO_CACHED_EVENTS:-400000}"
sql_cached_cmd+=" --partitions 32 --check --set statestore.cache.max.bytes=10485760"
sql_cached_cmd+=" --latency --latency-seconds ${LATENCY_SECONDS:-15} $pipeline_args"
if [[ ",$sql_workloads," == *,yahoo,* && "${YAHOO_CACHED_EVENTS:-400000}" != 0 ]]; then
  echo "run.sh: $sql_cached_cmd" >&2
  # shellcheck disable=SC2086
  $sql_cached_cmd 2> "$results/sql_cached.log" | tail -n 1 > "$results/sql_cached.json" || \
    echo "run.sh: $sql_cached_cmd failed; see $results/sql_cached.log" >&2
fi

# The same Yahoo throughput phases again, each run's ratio kept: on a noisy
# machine one run's baseline alone varies by two times.
rm -f "$results/sql_ratio_runs.jsonl"
sql_ratio_cmd="$build/bin/bench_sql --workloads yahoo --yahoo-events ${YAHOO_CACHED_EVENTS:-400000}"
sql_ratio_cmd+=" --partitions 32 --check --set statestore.cache.max.bytes=10485760 $pipeline_args"
if [[ ",$sql_workloads," == *,yahoo,* && "${YAHOO_CACHED_EVENTS:-400000}" != 0 ]]; then
  for i in $(seq 1 "${YAHOO_RATIO_RUNS:-3}"); do
    echo "run.sh: ratio run $i: $sql_ratio_cmd" >&2
    # shellcheck disable=SC2086
    $sql_ratio_cmd 2> "$results/sql_ratio_runs.log" | tail -n 1 >> "$results/sql_ratio_runs.jsonl" || \
      echo "run.sh: $sql_ratio_cmd failed; see $results/sql_ratio_runs.log" >&2
  done
fi

rm -f "$results/sql_api.json"
sql_api_cmd="$build/bin/bench_sql_api --orders ${SQL_API_ORDERS:-500000} --rounds 3"
rm -f "$results/sql_api_encoded.json"
sql_api_encoded_cmd="$build/bin/bench_sql_api --orders 100000 --rounds 1 --workload join --side sql --table-storage encoded"
rm -f "$results/sql_api_auto.json"
sql_api_auto_cmd="$build/bin/bench_sql_api --users 100000 --orders 100000 --rounds 1 --workload join --side sql --table-storage auto"
if [[ "${SQL_API_ORDERS:-500000}" != 0 ]]; then
  run_bench "$sql_api_cmd" sql_api.json sql_api.log
  run_bench "$sql_api_encoded_cmd" sql_api_encoded.json sql_api_encoded.log
  run_bench "$sql_api_auto_cmd" sql_api_auto.json sql_api_auto.log
fi

rm -f "$results/subquery.json"
subquery_cmd="$build/bin/bench_subquery --trades ${SUBQUERY_TRADES:-100000} --rounds 3"
if [[ "${SUBQUERY_TRADES:-100000}" != 0 ]]; then
  run_bench "$subquery_cmd" subquery.json subquery.log
fi

rm -f "$results/fk_join.json"
fk_orders=${FK_ORDERS:-50000}
fk_cmd="$build/bin/bench_fk_join --orders $fk_orders --fanouts 1,100,$fk_orders --rounds 3"
if [[ "$fk_orders" != 0 ]]; then
  run_bench "$fk_cmd" fk_join.json fk_join.log
fi

cluster_nodes=${CLUSTER_NODES:-3 4}
rm -f "$results/cluster.jsonl"
if [[ "$cluster_nodes" != none ]]; then
  for k in $cluster_nodes; do
    cluster_cmd="$build/bin/rivulet demo --cluster --nodes $k"
    echo "run.sh: $cluster_cmd" >&2
    # shellcheck disable=SC2086
    if out=$($cluster_cmd 2>> "$results/cluster.log" | tail -n 1); then
      echo "$out" >> "$results/cluster.jsonl"
    else
      echo "run.sh: $cluster_cmd failed; see $results/cluster.log" >&2
    fi
  done
fi

demo_users=${DEMO_USERS:-1000000}
rm -f "$results"/pipeline-users-*.json
demo_users_cmd="$build/bin/bench_pipeline --users $demo_users --partitions 32 $pipeline_args"
if [[ "$demo_users" != 0 ]]; then
  for storage in decoded encoded; do
    cmd="$demo_users_cmd --users-storage $storage"
    [[ "$storage" == encoded ]] && cmd+=" --no-table-bytes"
    if [[ "$storage" == decoded ]]; then
      cmd+=" --latency-seconds 10"
      [[ -n "${DEMO_LATENCY_RATE:-}" ]] && cmd+=" --latency-rate $DEMO_LATENCY_RATE"
    fi
    echo "run.sh: $cmd" >&2
    # shellcheck disable=SC2086
    $cmd 2> "$results/pipeline-users-$storage.log" | tail -n 1 | \
      python3 -c 'import json,sys; d=json.load(sys.stdin); d["command"]=sys.argv[1]; print(json.dumps(d))' "$cmd" \
      > "$results/pipeline-users-$storage.json" || echo "run.sh: $cmd failed; see $results/pipeline-users-$storage.log" >&2
  done
fi

scaling_nodes=${SCALING_NODES:-1 2 3}
rm -f "$results/scaling.json"
scaling_cmd="$build/bin/bench_scaling --nodes ${scaling_nodes// /,} --cpu-quota ${SCALING_QUOTA:-0.4}"
scaling_cmd+=" --rounds ${SCALING_ROUNDS:-2} --cpu-shares ${SCALING_SHARES:-8192}"
scaling_cmd+=" --orders ${SCALING_ORDERS:-300000} --partitions 12"
if [[ "$scaling_nodes" != none ]]; then
  echo "run.sh: $scaling_cmd" >&2
  $scaling_cmd 2> "$results/scaling.log" | tail -n 1 > "$results/scaling.json" || \
    echo "run.sh: $scaling_cmd failed; see $results/scaling.log" >&2
  if grep -q '"skipped"' "$results/scaling.json" 2>/dev/null; then
    echo "run.sh: scaling skipped: $(tail -n 1 "$results/scaling.log")" >&2
  fi
fi

python3 - "$results" "$micro_cmd" "$pipeline_cmd" "$runs" "$build" "$windows_cmd" "$sql_cmd" \
  "$sql_api_cmd" "$scaling_cmd" "$sql_cached_cmd" "$sql_api_encoded_cmd" "$sql_ratio_cmd" \
  "$sql_api_auto_cmd" "$subquery_cmd" "$fk_cmd" <<'PY'
import datetime, json, os, sys
results, micro_cmd, pipeline_cmd, runs, build = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
windows_cmd, sql_cmd, sql_api_cmd, scaling_cmd = sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9]
sql_cached_cmd, sql_api_encoded_cmd, sql_ratio_cmd = sys.argv[10], sys.argv[11], sys.argv[12]
sql_api_auto_cmd, subquery_cmd, fk_cmd = sys.argv[13], sys.argv[14], sys.argv[15]

model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
              if l.startswith("model name")), "unknown")
out = {
    "machine": {"nproc": os.cpu_count(), "model_name": model,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    "figures": {},
}
fig = out["figures"]

micro = json.load(open(os.path.join(results, "micro.json")))
rows = {b["name"]: b for b in micro["benchmarks"]}
for name, b in rows.items():
    if "error_message" in b:
        fig[name] = {"error": b["error_message"], "command": micro_cmd}
        continue
    f = {"value": round(b["items_per_second"]), "unit": "records/s on one core", "command": micro_cmd}
    for k in ("record_bytes", "table_bytes_per_entry", "raw_bytes_per_entry", "bytes"):
        if k in b:
            f[k] = round(b[k], 1)
    if name.startswith("BM_StreamTableJoin"):
        # Issue 8's goal: a stream-table join in the test driver at 2M records/s per core.
        f["goal"] = 2000000
        f["serde"] = "KAFKA string keys and values" if "Kafka" in name else "KAFKA string keys, JSON values"
        f["load_avg"] = micro.get("context", {}).get("load_avg")
    fig[name] = f
if "BM_OrdersPipeline" in fig and "BM_DecodeOnlyBaseline" in rows:
    fig["BM_OrdersPipeline"]["ratio_to_decode_only"] = round(
        rows["BM_OrdersPipeline"]["items_per_second"] / rows["BM_DecodeOnlyBaseline"]["items_per_second"], 3)

lines = [l for l in open(os.path.join(results, "pipeline.jsonl")) if l.strip().startswith("{")]
pruns = [json.loads(l) for l in lines]
good = [r for r in pruns if r.get("pipeline", {}).get("ok") and r.get("baseline", {}).get("ok")]
out["pipeline_runs"] = {"requested": runs, "completed": len(good), "command": pipeline_cmd}
if pruns:
    out["workload"] = pruns[0].get("workload")
if good:
    best = max(good, key=lambda r: r["pipeline"]["input_records_per_second"])
    spread = lambda phase, key: [round(r[phase][key], 3) for r in good]
    for phase, what in (("driver", "orders through TaskGraph::process, one thread, no broker"),
                        ("baseline", "KafkaConsumer -> KafkaProducer, no processing, embedded broker in-process"),
                        ("pipeline", "Application: orders LEFT JOIN users + per-user count")):
        p = best[phase]
        fig[f"{phase}_records_per_second"] = {
            "value": round(p["input_records_per_second"]), "unit": "input records/s (best run)",
            "all_runs": spread(phase, "input_records_per_second"), "what": what, "command": pipeline_cmd}
        fig[f"{phase}_cpu_seconds_per_million_records"] = {
            "value": round(p["cpu_seconds_per_million_input_records"], 2),
            "unit": "CPU s (user+sys, whole process) per 1M input records", "command": pipeline_cmd}
        fig[f"{phase}_peak_rss_mib"] = {
            "value": round(p["peak_rss_kb"] / 1024, 1), "unit": "MiB, peak of the " + p["peak_rss_scope"],
            "command": pipeline_cmd}
    fig["pipeline_ratio_to_baseline"] = {
        "value": round(best["pipeline"]["ratio_to_baseline"], 3), "unit": "pipeline/baseline, same run",
        "all_runs": spread("pipeline", "ratio_to_baseline"), "command": pipeline_cmd}
failed = [r for r in pruns if r not in good]
if failed or len(pruns) < runs:
    out["pipeline_failures"] = [{k: v.get("error") for k, v in r.items() if isinstance(v, dict) and v.get("error")}
                                for r in failed]

def load(name):
    try:
        return json.load(open(os.path.join(results, name)))
    except (OSError, ValueError):
        return None

for keys, label in ((100000, "100k"), (1000000, "1m")):
    c = load(f"checkpoint-{keys}.json")
    if not c:
        continue
    cmd = c.get("command", "")
    fig[f"checkpoint_full_{label}_ms"] = {
        "value": round(c["full"]["pause_ms_median"] + c["full"]["write_ms_median"], 1),
        "unit": "ms, full checkpoint: serialize on the task + encode, write, fsync (median)",
        "bytes": c["full"]["bytes"], "command": cmd}
    fig[f"checkpoint_incremental_{label}_pause_ms"] = {
        "value": round(c["incremental"]["pause_ms_median"], 1),
        "unit": "ms, incremental (1% keys changed) pause on the task (median wall time)",
        "cpu_ms": round(c["incremental"]["pause_cpu_ms_median"], 1),
        "max_ms": round(c["incremental"]["pause_ms_max"], 1),
        "bytes": c["incremental"]["bytes"], "command": cmd}
    for storage, c in (("decoded", c), ("encoded", load(f"checkpoint-{keys}-encoded.json"))):
        held = c.get("task_held_ms") if c else None
        if not held:
            continue
        cmd = c.get("command", "")
        for kind in ("full", "incremental"):
            fig[f"checkpoint_{kind}_{label}_{storage}_task_held_sync_over_async_ratio"] = {
                "value": round(held[f"{kind}_sync_over_async"], 2),
                "unit": f"ratio, {kind} checkpoint ({storage} table): task's thread held when it "
                        "writes (pause + write) over when the checkpoint writer does "
                        "(pause + hand-over)",
                "sync_ms": round(held[f"{kind}_sync"], 1),
                "async_ms": round(held[f"{kind}_async"], 1), "command": cmd}
for storage in ("decoded", "encoded"):
    r = load(f"restore-{storage}.json")
    if not r:
        continue
    for store in ("directory", "kafka"):
        if store in r and r[store]["restore"].get("ok"):
            fig[f"restore_1m_keys_{storage}_{store}_ms"] = {
                "value": round(r[store]["restore"]["table_ms"]),
                "unit": f"ms, start() until 1M table keys ({storage}) are back from checkpoints ({store} store)",
                "replay_ms": round(r[store]["replay"]["table_ms"]),
                "replay_over_restore": round(r[store].get("replay_over_restore", 0), 2),
                "command": f"{build}/bin/{r['command']}"}
cc = load("checkpoint-compare.json")
if cc and "checkpoint_compare" in cc and "ratio_of_best" in cc["checkpoint_compare"]:
    k = cc["checkpoint_compare"]
    fig["pipeline_checkpoint_1s_throughput_ratio"] = {
        "value": round(k["ratio_of_best"], 3),
        "unit": "pipeline records/s with checkpoint.interval.ms=1000 / without checkpoints (best of each)",
        "all_runs": [round(x["with_checkpoints_rps"] / x["without_checkpoints_rps"], 3)
                     for x in k["rounds"] if x["with_checkpoints_rps"] and x["without_checkpoints_rps"]],
        "command": f"{build}/bin/bench_pipeline --checkpoint-compare 3"}
cu = load("catchup.json")
if cu and cu.get("runs"):
    runs_ok = [r for r in cu["runs"] if "error" not in r]
    if len(runs_ok) != len(cu["runs"]):
        fig["catchup_watermark_over_look_back_seconds"] = {
            "error": next(r["error"] for r in cu["runs"] if "error" in r),
            "command": f"{build}/bin/{cu['command']}"}
    else:
        def pick(look_back, key):
            return [round(r[key], 3) for r in runs_ok if r["look_back"] == look_back]
        fig["catchup_watermark_over_look_back_seconds"] = {
            "value": round(cu["watermark_over_look_back_seconds_median"], 2),
            "unit": f"ratio (median of rounds): seconds a restarted Yahoo pipeline takes for a backlog "
                    f"of {cu['backlog']} events without the look back over with it",
            "look_back_seconds": pick(True, "catchup_seconds"),
            "watermark_seconds": pick(False, "catchup_seconds"),
            "cpu_ratio": round(cu["watermark_over_look_back_cpu_median"], 2),
            "repartition_records_look_back": pick(True, "repartition_records"),
            "repartition_records_watermark": pick(False, "repartition_records"),
            "command": f"{build}/bin/{cu['command']}"}

try:
    wlines = [json.loads(l) for l in open(os.path.join(results, "windows.jsonl")) if l.strip().startswith("{")]
except OSError:
    wlines = []
for w in wlines:
    fig[f"windows_{w['case'].replace('-', '_')}_records_per_second"] = {
        "value": w["records_per_second"],
        "unit": f"records/s, windowed count of {w['events']} events over {w['keys']} keys, one thread",
        "records_per_cpu_second": w.get("records_per_cpu_second"),
        "peak_rss_mb": w["peak_rss_mb"], "command": windows_cmd}

def latency_figures(label, wl, base, cmd):
    """p50/p99 of a latency run at half the measured maximum, with the rate,
    the maximum, the load average and the broker path's own p50/p99 (the
    same events at the same rate through as many forwarding hops)."""
    if not wl:
        return
    if not wl.get("ok"):
        fig[f"{label}_latency_p99_ms"] = {"error": wl.get("error", "failed"), "command": cmd}
        return
    common = {"rate_records_per_second": round(wl["rate_records_per_second"]),
              "max_throughput_records_per_second": round(wl.get("max_throughput_records_per_second", 0)),
              "loadavg_1m": [wl.get("loadavg_1m_start"), wl.get("loadavg_1m_end")],
              "settings": wl.get("settings", []), "command": cmd}
    # How the maximum was measured: a live burst through the latency phase's
    # own Application (its size and seconds), or not at all (--latency-rate).
    for k in ("max_measured", "max_burst_records", "max_burst_orders", "max_burst_seconds",
              "pipeline_phase_records_per_second"):
        if k in wl:
            common[k] = round(wl[k], 3) if isinstance(wl[k], float) else wl[k]
    if base and base.get("ok"):
        common["broker_path_p50_ms"] = base["p50_ms"]
        common["broker_path_p99_ms"] = base["p99_ms"]
        common["broker_path_hops"] = base.get("hops")
    elif base:
        common["broker_path_error"] = base.get("error", "failed")
    fig[f"{label}_latency_p50_ms"] = dict(
        value=wl["p50_ms"],
        unit=f"ms, {wl.get('measured_from', 'event time to read')}, at {round(wl['rate_records_per_second'])} records/s "
             + ("(half the live maximum)" if wl.get("max_measured") == "live burst" else "(--latency-rate)"
                if wl.get("max_measured") else "(half the measured maximum)"),
        **common)
    fig[f"{label}_latency_p99_ms"] = dict(
        value=wl["p99_ms"], unit="ms, same run (goal <= 20)", max_ms=wl.get("max_ms"),
        samples=wl.get("latencies_counted"), **common)

def without_kafka(phase):
    # CPU s per million input records besides librdkafka's own threads
    # (bench_sql's cpu_seconds_per_million_records_without_kafka_threads).
    v = phase.get("cpu_seconds_per_million_records_without_kafka_threads")
    return round(v, 2) if v is not None else None

def sql_figures(sql, suffix, sql_cmd):
    for name, w in sql.get("workloads", {}).items():
        d, p, b = w.get("driver", {}), w.get("pipeline", {}), w.get("baseline", {})
        label = ("yahoo" if name == "yahoo" else f"nexmark_{name}") + suffix
        if not d.get("ok"):
            fig[f"{label}_driver_records_per_cpu_second"] = {
                "error": d.get("error", "failed"), "command": sql_cmd}
        else:
            f = {"value": round(d["records_per_cpu_second"]),
                 "unit": "records/s per core: SQL through the TestDriver, one thread, no broker",
                 "command": sql_cmd}
            if "flink_1_13_per_core_other_hardware" in w:
                f["flink_1_13_per_core_other_hardware"] = w["flink_1_13_per_core_other_hardware"]
            fig[f"{label}_driver_records_per_cpu_second"] = f
        if not p.get("ok") or not b.get("ok"):
            fig[f"{label}_pipeline_records_per_second"] = {
                "error": p.get("error") or b.get("error") or "failed", "command": sql_cmd}
            continue
        fig[f"{label}_pipeline_records_per_second"] = {
            "value": round(p["records_per_second"]),
            "unit": "input records/s: SQL run by the Application, embedded broker in-process",
            "records_per_cpu_second": round(p["records_per_cpu_second"]),
            "cpu_seconds_per_million_records": round(p["cpu_seconds_per_million_records"], 2),
            "cpu_seconds_per_million_records_without_kafka_threads": without_kafka(p),
            "peak_rss_mib": round(p["peak_rss_kb"] / 1024, 1),
            "late_records_dropped": p.get("late_records_dropped", 0),
            "outputs": p["output_records"], "check": p.get("check"), "command": sql_cmd}
        fig[f"{label}_baseline_records_per_second"] = {
            "value": round(b["records_per_second"]),
            "unit": "input records/s: KafkaConsumer -> KafkaProducer, same inputs and output count",
            "records_per_cpu_second": round(b["records_per_cpu_second"]),
            "cpu_seconds_per_million_records": round(b["cpu_seconds_per_million_records"], 2),
            "cpu_seconds_per_million_records_without_kafka_threads": without_kafka(b),
            "peak_rss_mib": round(b["peak_rss_kb"] / 1024, 1), "command": sql_cmd}
        fig[f"{label}_ratio_to_baseline"] = {
            "value": round(w["ratio_to_baseline"], 3), "unit": "pipeline/baseline records/s, same run",
            "command": sql_cmd}
        # Workloads with more than one broker round trip (Yahoo: input -> join
        # task -> repartition topic -> count task -> output): the broker path
        # through as many hops.
        bh = w.get("baseline_hops")
        if bh and not bh.get("ok"):
            fig[f"{label}_baseline_hops_records_per_second"] = {
                "error": bh.get("error", "failed"), "command": sql_cmd}
        elif bh:
            fig[f"{label}_baseline_hops_records_per_second"] = {
                "value": round(bh["records_per_second"]),
                "unit": f"input records/s: {bh['hops']} KafkaConsumer -> KafkaProducer hops, as many records per hop as the pipeline",
                "records_per_cpu_second": round(bh["records_per_cpu_second"]),
                "cpu_seconds_per_million_records": round(bh["cpu_seconds_per_million_records"], 2),
                "peak_rss_mib": round(bh["peak_rss_kb"] / 1024, 1),
                "records_written_per_hop": bh.get("records_written_per_hop"), "command": sql_cmd}
            fig[f"{label}_ratio_to_baseline_hops"] = {
                "value": round(w["ratio_to_baseline_hops"], 3),
                "unit": f"pipeline/{bh['hops']}-hop baseline records/s, same run", "command": sql_cmd}
        latency_figures(label, w.get("latency") or (sql.get("latency") if name == "yahoo" else None),
                        w.get("latency_baseline") or (sql.get("latency_baseline") if name == "yahoo" else None),
                        sql_cmd)


sql_figures(load("sql.json") or {}, "", sql_cmd)
# Yahoo with the output cache: table updates merged, partial counts combined.
sql_figures(load("sql_cached.json") or {}, "_cached", sql_cached_cmd)
# Yahoo with the cache, run again: the ratio's median and range.
ratio_runs = []
try:
    for line in open(os.path.join(results, "sql_ratio_runs.jsonl")):
        try:
            y = json.loads(line)["workloads"]["yahoo"]
        except (ValueError, KeyError):
            continue
        if y.get("pipeline", {}).get("ok") and y.get("baseline", {}).get("ok"):
            ratio_runs.append({"ratio": round(y["ratio_to_baseline"], 3),
                               "steady_ratio": round(y.get("steady_ratio_to_baseline", -1), 3),
                               "pipeline_seconds": round(y["pipeline"]["seconds"], 3),
                               "baseline_seconds": round(y["baseline"]["seconds"], 3),
                               "check": y["pipeline"].get("check")})
except OSError:
    pass
if ratio_runs:
    ratios = sorted(r["ratio"] for r in ratio_runs)
    n = len(ratios)
    median = ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2
    fig["yahoo_cached_ratio_to_baseline_runs"] = {
        "value": round(median, 3), "min": ratios[0], "max": ratios[-1], "runs": ratio_runs,
        "unit": "median of the runs' pipeline/baseline records/s, each pair in one process",
        "command": sql_ratio_cmd}
    steady = sorted(r["steady_ratio"] for r in ratio_runs if r["steady_ratio"] > 0)
    if steady:
        m = len(steady)
        fig["yahoo_cached_steady_ratio_to_baseline_runs"] = {
            "value": round(steady[m // 2] if m % 2 else (steady[m // 2 - 1] + steady[m // 2]) / 2, 3),
            "min": steady[0], "max": steady[-1],
            "unit": "median of the same runs' ratios over the middle three fifths of the input "
                    "(steady_records_per_second: start and drain left out; overstates the pipeline, whose "
                    "first 300 ms go to the consumer parsing ahead: docs/benchmarks.md)",
            "command": sql_ratio_cmd}

sa = load("sql_api.json")
if sa:
    for w, what in (("join", "orders LEFT JOIN users"), ("aggregate", "per-user COUNT(*)")):
        if w not in sa:
            continue
        d = sa[w]
        fig[f"sql_api_{w}_sql_records_per_second"] = {
            "value": round(d["sql"]["records_per_second"]),
            "unit": f"records/s, {what} in SQL through the TestDriver, one thread (median)",
            "api": round(d["api"]["records_per_second"]), "command": sql_api_cmd}
        fig[f"sql_api_{w}_ratio"] = {
            "value": round(d["ratio_sql_to_api"], 3),
            "unit": "SQL / hand-written C++ API, same run (goal >= 0.8)",
            "per_core": round(d["ratio_sql_to_api_per_core"], 3), "command": sql_api_cmd}

# The SQL users table's bytes per entry (KTable::bytes_estimate), decoded,
# encoded (TABLE_STORAGE='ENCODED') and with SQL's default (AUTO: encoded
# from 32,768 rows on; 100,000 users), against the raw key and value bytes
# (goal: at most twice).
for storage, doc, cmd in (("decoded", sa, sql_api_cmd),
                          ("encoded", load("sql_api_encoded.json"), sql_api_encoded_cmd),
                          ("auto", load("sql_api_auto.json"), sql_api_auto_cmd)):
    per_entry = ((doc or {}).get("join") or {}).get("users_table_bytes_per_entry", {}).get("sql")
    raw = (doc or {}).get("users_raw_bytes_per_entry")
    if per_entry and raw:
        fig[f"sql_api_users_table_{storage}_bytes_per_entry"] = {
            "value": round(per_entry, 1),
            "unit": f"bytes per entry, the SQL users table of {doc['users']} keys ({storage}), KTable::bytes_estimate",
            "raw_bytes_per_entry": round(raw, 1), "ratio_to_raw": round(per_entry / raw, 2),
            "command": cmd}

# Subqueries against a table: trades per CPU second against a plain filter's.
sq = load("subquery.json")
if sq:
    for q, what in (("lookup", "a key lookup"), ("cached_avg", "a cached AVG scan"),
                    ("select", "a lookup in SELECT (every trade written)"),
                    ("correlated", f"a correlated MAX scan of {sq['limits']} rows by an equality (indexed)"),
                    ("nested", "a key lookup whose WHERE holds a nested IN (an indexed probe)"),
                    ("correlated_range", f"a correlated COUNT scan of {sq['limits']} rows by a range")):
        if q in sq:
            fig[f"subquery_{q}_ratio_to_filter"] = {
                "value": round(sq[q]["ratio_to_filter"], 3),
                "unit": f"trades per CPU second with {what} / with a plain filter, TestDriver",
                "trades_per_cpu_second": sq[q]["trades_per_cpu_second"],
                "filter_trades_per_cpu_second": sq["filter"]["trades_per_cpu_second"],
                "command": subquery_cmd}

# A foreign-key join: orders per CPU second as one customer's fan-out grows.
fk = load("fk_join.json")
if fk:
    for f in fk["fanouts"][1:]:
        fig[f"fk_join_fanout_{f['fanout']}_ratio_to_fanout_1"] = {
            "value": round(f["subscribe_ratio_to_first"], 3),
            "unit": f"orders per CPU second joined with {f['fanout']} orders per customer / with 1, TestDriver",
            "orders_per_cpu_second": f["subscribe_orders_per_cpu_second"],
            "update_ratio_to_fanout_1": round(f["update_ratio_to_first"], 3),
            "command": fk_cmd}

try:
    clines = [json.loads(l) for l in open(os.path.join(results, "cluster.jsonl")) if l.strip()]
except OSError:
    clines = []
for c in clines:
    k = c["nodes"] - 1
    cmd = f"{build}/bin/rivulet demo --cluster --nodes {k}"
    fig[f"cluster_{k}_to_{k + 1}_tasks_moved"] = {
        "value": c["tasks_moved_on_join"],
        "unit": f"of {c['tasks']} tasks moved when node {k + 1} joined (its share: about {c['tasks'] / (k + 1):.1f})",
        "command": cmd}
    fig[f"cluster_{k}_to_{k + 1}_handover_pause_ms_max"] = {
        "value": c["handover_pause_ms_max"],
        "unit": "ms, longest pause of a moved task (drain, acks, checkpoint, commit, stop)",
        "command": cmd}
    fig[f"cluster_{k + 1}_nodes_reassigned_seconds"] = {
        "value": c["reassigned_seconds"],
        "unit": "s, SIGKILL of a node -> all its tasks running elsewhere (failure timeout 3 s)",
        "command": cmd}
    if c.get("failover_seconds") is not None:
        fig[f"cluster_{k + 1}_nodes_failover_seconds"] = {
            "value": c["failover_seconds"],
            "unit": "s, SIGKILL of a node -> every one of its tasks wrote output again",
            "command": cmd}

for storage in ("decoded", "encoded"):
    d = load(f"pipeline-users-{storage}.json")
    if not d:
        continue
    cmd = d.get("command", "")
    users = d.get("workload", {}).get("users", 0)
    label = f"demo_{users // 1000000}m_users" if users >= 1000000 else f"demo_{users}_users"
    p, b = d.get("pipeline", {}), d.get("baseline", {})
    if not p.get("ok") or not b.get("ok"):
        fig[f"{label}_{storage}_pipeline_records_per_second"] = {
            "error": p.get("error") or b.get("error") or "failed", "command": cmd}
    else:
        fig[f"{label}_{storage}_pipeline_records_per_second"] = {
            "value": round(p["input_records_per_second"]),
            "unit": f"input records/s, orders LEFT JOIN {users} users ({storage} table) + counts, Application",
            "cpu_seconds_per_million_records": round(p["cpu_seconds_per_million_input_records"], 2),
            "peak_rss_mib": round(p["peak_rss_kb"] / 1024, 1),
            "records_per_cpu_second": round(p["input_records"] / p["cpu_seconds"]) if p["cpu_seconds"] else 0,
            "command": cmd}
        fig[f"{label}_{storage}_ratio_to_baseline"] = {
            "value": round(p["ratio_to_baseline"], 3), "unit": "pipeline/baseline, same run",
            "baseline_records_per_second": round(b["input_records_per_second"]), "command": cmd}
    lat = d.get("latency")
    if lat:
        latency_figures(label, dict(lat, measured_from=f"order written -> enriched order read back ({storage} table)"),
                        None, cmd)
    for t in d.get("users_table", []):
        if "bytes_per_entry" in t:
            fig[f"{label}_table_{t['storage']}_bytes_per_entry"] = {
                "value": round(t["bytes_per_entry"], 1),
                "unit": f"bytes per entry, users KTable of {t['entries']} keys ({t['storage']}), KTable::bytes_estimate",
                "raw_bytes_per_entry": round(t["raw_bytes_per_entry"], 1),
                "ratio_to_raw": round(t["ratio_to_raw"], 2), "command": cmd}
    for t in d.get("users_table_tasks", []):
        if "bytes" in t:
            b = t["budget"]
            name = "unbounded" if b is None else str(b)
            fig[f"{label}_table_tasks_budget_{name}_ratio_to_raw"] = {
                "value": round(t["ratio_to_raw"], 2),
                "unit": f"bytes / raw bytes, users over {t['partitions']} tasks' AUTO tables, "
                        f"table.decoded.max.bytes {name} ({t['encoded_tasks']} encoded)",
                "command": cmd}

sc = load("scaling.json")
if sc and "skipped" in sc:
    fig["scaling_skipped"] = {"error": "skipped: " + sc["skipped"], "command": scaling_cmd}
elif sc:
    for k in sorted({r["nodes"] for r in sc.get("runs", [])}):
        ok_runs = [r for r in sc["runs"] if r["nodes"] == k and r.get("ok")]
        if not ok_runs:
            bad = [r for r in sc["runs"] if r["nodes"] == k]
            fig[f"scaling_{k}_nodes_orders_per_second"] = {
                "error": bad[0].get("error", "failed") if bad else "failed", "command": scaling_cmd}
            continue
        r = max(ok_runs, key=lambda x: x["orders_per_second"])
        s = next((x for x in sc.get("summary", []) if x["nodes"] == k), {})
        fig[f"scaling_{k}_nodes_orders_per_second"] = {
            "value": round(r["orders_per_second"]),
            "unit": f"orders/s (best run), first to last output, {k} node(s) at {sc.get('cpu_quota_per_node')} CPU each",
            "all_runs": [round(x["orders_per_second"]) for x in ok_runs],
            "ratio_to_one_node": round(s.get("ratio_of_best_to_one_node", 0), 2),
            "node_cpu_seconds": [round(n["cpu_seconds"], 2) for n in r["node_cpu"]],
            "cpus_used_per_node": [round(n.get("cpus_used_first_to_last_output", 0), 2) for n in r["node_cpu"]],
            "loadavg_at_submit": r.get("loadavg_at_submit"), "command": scaling_cmd}

json.dump(out, open(os.path.join(results, "latest.json"), "w"), indent=2)

def human(v):
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} K" if v >= 1e3 else f"{v:g}"
print(f"machine: {out['machine']['nproc']} x {model}, {out['machine']['date']}")
print(f"{'figure':42} {'value':>12}  unit")
for name, f in fig.items():
    if "error" in f:
        print(f"{name:42} {'ERROR':>12}  {f['error']}")
        continue
    v = f["value"]
    rate = "records/s" in f["unit"] or "orders/s" in f["unit"]
    shown = human(v) if rate else f"{v:g}"
    extra = ""
    if "all_runs" in f:
        extra = "  runs: " + ", ".join(human(x) if rate else f"{x:g}" for x in f["all_runs"])
    if "ratio_to_decode_only" in f:
        extra = f"  (x{f['ratio_to_decode_only']} of decode-only)"
    if "goal" in f:
        extra = f"  ({f['serde']}; goal {human(f['goal'])}/s)"
    if "flink_1_13_per_core_other_hardware" in f:
        extra = f"  (Flink 1.13, other hardware: {human(f['flink_1_13_per_core_other_hardware'])}/s per core)"
    if "ratio_to_one_node" in f:
        extra += f"  (x{f['ratio_to_one_node']} of 1 node; node CPU s {f['node_cpu_seconds']}, CPUs used {f['cpus_used_per_node']})"
    if "ratio_to_raw" in f:
        extra = f"  (raw {f['raw_bytes_per_entry']} bytes: x{f['ratio_to_raw']})"
    if "baseline_records_per_second" in f:
        extra = f"  (baseline {human(f['baseline_records_per_second'])}/s)"
    if "cpu_seconds_per_million_records" in f and "peak_rss_mib" in f:
        own = f.get("cpu_seconds_per_million_records_without_kafka_threads")
        own = f", {own} without librdkafka's threads" if own is not None else ""
        extra = f"  ({human(f['records_per_cpu_second'])} per CPU s, {f['cpu_seconds_per_million_records']} CPU s/1M{own}, {f['peak_rss_mib']} MiB)"
    print(f"{name:42} {shown:>12}  {f['unit']}{extra}")
print(f"pipeline runs completed: {len(good)}/{runs}")
print(f"written: {os.path.join(results, 'latest.json')}")
sys.exit(0 if good else 1)
PY
