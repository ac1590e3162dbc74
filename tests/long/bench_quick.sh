#!/usr/bin/env bash
# Long: the benchmark harness works (not how fast anything is). `make bench` in quick mode
# with tiny counts on its own broker: it ends with the table, writes JSON with every
# field the README names (figures are not judged), and stops its broker; a second run
# stopped with SIGTERM mid-way stops its broker and agents too.
source "$(dirname "$0")/../integration/lib.sh"
lt_setup

port=$((${LT_TEST_KAFKA_PORT:-18092} + 300))
make -s -C "$LT_ROOT" BUILD="$LT_BUILD" "$LT_BUILD/bench/crypto_bench" >/dev/null
export LT_BENCH_PORT=$port LT_BENCH_QUICK=1 LT_BENCH_RESULTS=$LT_WORK/results \
	LT_BENCH_REF_RECORDS=2000 LT_BENCH_REF_MIB=8 LT_BENCH_DOCS=200 LT_BENCH_DOC_MIB=4 \
	LT_BENCH_PACED_SECONDS=2 LT_BENCH_LARGE_DOCS=1 LT_BENCH_CRYPTO_SECONDS=1

port_closed() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rc=0
python3 "$LT_ROOT/bench/bench.py" >"$LT_WORK/bench.out" 2>"$LT_WORK/bench.err" || rc=$?
cat "$LT_WORK/bench.out"
lt_check "quick bench exits 0 (exit $rc; stderr in $LT_WORK/bench.err)" [ $rc -eq 0 ]
lt_check "the table ends with the ratios and the JSON path" \
	grep -q "^results: $LT_WORK/results/.*-quick.json" "$LT_WORK/bench.out"
lt_check "its broker is stopped at the end (127.0.0.1:$port closed)" port_closed "$port"

json=$(ls "$LT_WORK"/results/*-quick.json 2>/dev/null | head -n 1)
lt_check "one JSON file in the results folder" [ -n "$json" ]
fields() {
	python3 - "$json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
missing = []
def need(obj, path):
    cur = obj
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            missing.append(path)
            return
        cur = cur[k]
    if isinstance(cur, (int, float)) and not isinstance(cur, bool):
        return
    if path.endswith(("reason", "supported")) or isinstance(cur, (dict, list, str)):
        return
    missing.append(path + " (not a number)")
for f in ("date", "host", "commit", "settings.mode", "machine.cores", "crypto.algorithm",
          "crypto.sign_per_s", "crypto.verify_per_s", "crypto.sha256_mib_s"):
    need(r, f)
for size in ("1024", "65536", "786432"):
    for tool in ("kcat", "java"):
        for k in ("produce", "consume", "p_then_c"):
            need(r, f"reference.{size}.{tool}.{k}_rec_s")
            need(r, f"reference.{size}.{tool}.{k}_mib_s")
    need(r, f"reference.{size}.kcat.startup_share")
for size in ("1024", "65536"):
    e = f"lienthong.{size}"
    for k in ("submitted_doc_s", "delivered_doc_s", "receipted_doc_s", "delivered_mib_s",
              "cpu_s_per_1000.sender_agent", "cpu_s_per_1000.receiver_agent",
              "cpu_s_per_1000.upload", "peak_rss_mib.sender_agent",
              "peak_rss_mib.receiver_agent", "paced.rate_doc_s"):
        need(r, f"{e}.{k}")
    for lat in ("latency_full", "paced.latency"):
        for kind in ("delivery", "receipt"):
            for q in ("p50_ms", "p99_ms", "max_ms"):
                need(r, f"{e}.{lat}.{kind}.{q}")
large = [v for k, v in r.get("lienthong", {}).items() if k not in ("1024", "65536")]
if len(large) != 1:
    missing.append("lienthong.<large size>")
elif large[0].get("supported"):
    need(large[0], "delivered_doc_s")
elif "at most" not in large[0].get("reason", ""):
    missing.append("lienthong.<large size>.reason")
rows = [x for x in r.get("ratios", []) if x.get("size") == 1024]
if len(rows) != 3 or any(not isinstance(x.get(k), float) for x in rows
                         for k in ("ratio_kcat", "ratio_java")):
    missing.append("ratios (3 rows for 1 KiB with ratio_kcat and ratio_java)")
if not r.get("targets") or any(set(t) != {"target", "value", "goal", "met"}
                              for t in r["targets"]):
    missing.append("targets")
print(" ".join(missing) or "none")
EOF
}
missing=$(fields 2>&1)
lt_check "the JSON has every field (missing: $missing)" [ "$missing" = none ]
grep -q 'not supported by this build' "$LT_WORK/bench.err" &&
	lt_figure "8 MiB: not supported by this build"

# SIGTERM while lienthong runs: broker and agents stopped, exit 1, logs kept.
LT_BENCH_DOCS=20000 LT_BENCH_DOC_MIB=64 python3 "$LT_ROOT/bench/bench.py" \
	>"$LT_WORK/bench2.out" 2>"$LT_WORK/bench2.err" &
bench=$!
lt_wait_until 300 grep -q 'lienthong 1 KiB' "$LT_WORK/bench2.err"
sleep 2
kill -TERM $bench
rc=0
wait $bench || rc=$?
lt_check "SIGTERM: the bench exits 1 and says so (exit $rc)" \
	eval "[ $rc -eq 1 ] && grep -q 'bench: interrupted' '$LT_WORK/bench2.err'"
lt_check "SIGTERM: its broker is stopped" port_closed "$port"
kept=$(sed -n 's/^bench: logs kept in //p' "$LT_WORK/bench2.err")
agents_left() {
	local p n=0
	for p in $(pgrep -x lienthong-agent); do
		case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$kept"/*) n=$((n + 1)) ;; esac
	done
	[ $n -eq 0 ]
}
lt_check "SIGTERM: no agent of that run is left (work dir '$kept')" eval "[ -n '$kept' ] && agents_left"
[ -n "$kept" ] && rm -rf "$kept"
