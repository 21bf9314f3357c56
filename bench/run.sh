#!/bin/sh
# Runs listserv's throughput benchmarks (see bench/README.md) COUNT times
# (default 3) and prints the medians and the ratios that matter, all from
# this one run. Extra arguments go to `go test` (e.g. -cpuprofile=cpu.out
# with BENCH=Fanout/workers=8).
set -eu
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
BENCH=${BENCH:-Ingest|Fanout|SinkBaseline}
out=${OUT:-$(mktemp "${TMPDIR:-/tmp}/listserv-bench.XXXXXX")}
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)" | tee "$out"
go test -run '^$' -bench "$BENCH" -benchtime=1x -count="$COUNT" "$@" ./bench/ | tee -a "$out"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)" | tee -a "$out"
echo "# raw output: $out"
echo
awk '
function median(name,   n, i, j, t, a) {
	n = cnt[name]
	for (i = 1; i <= n; i++) a[i] = val[name, i]
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function spread(name,   i, lo, hi) {
	lo = hi = val[name, 1]
	for (i = 2; i <= cnt[name]; i++) { if (val[name, i] < lo) lo = val[name, i]; if (val[name, i] > hi) hi = val[name, i] }
	return sprintf("%.0f..%.0f", lo, hi)
}
function m(name) { return (name in cnt) ? median(name) : 0 }
function ratio(a, b) { return (m(a) > 0 && m(b) > 0) ? sprintf("%.2f", m(a) / m(b)) : "n/a" }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name)
	for (i = 3; i < NF; i++) {
		unit = $(i + 1)
		if (unit == "posts/s" && name ~ /^Fanout/) unit = "fanout-posts/s"
		if (unit == "posts/s" || unit == "deliveries/s" || unit == "cpu-µs/delivery" || unit == "cpu-µs/post") {
			key = name " " unit
			if (!(key in cnt)) order[++nk] = key
			val[key, ++cnt[key]] = $i
		}
	}
}
END {
	printf "%-36s %-16s %12s  %s\n", "benchmark", "unit", "median", "min..max"
	for (k = 1; k <= nk; k++) {
		split(order[k], p, " ")
		printf "%-36s %-16s %12.1f  %s\n", p[1], p[2], median(order[k]), spread(order[k])
	}
	print ""
	printf "%-50s %s\n", "fan-out / baseline, 8 workers (deliveries/s)", ratio("Fanout/workers=8 deliveries/s", "SinkBaseline/conns=8 deliveries/s")
	printf "%-50s %s\n", "fan-out / baseline, 16 workers (deliveries/s)", ratio("Fanout/workers=16 deliveries/s", "SinkBaseline/conns=16 deliveries/s")
	printf "%-50s %s\n", "baseline / fan-out CPU per delivery, 8 workers", ratio("SinkBaseline/conns=8 cpu-µs/delivery", "Fanout/workers=8 cpu-µs/delivery")
	printf "%-50s %s\n", "baseline / fan-out CPU per delivery, 16 workers", ratio("SinkBaseline/conns=16 cpu-µs/delivery", "Fanout/workers=16 cpu-µs/delivery")
	printf "%-50s %s\n", "ingest 8 senders / 1 sender (posts/s)", ratio("Ingest/senders=8 posts/s", "Ingest/senders=1 posts/s")
	if (m("Ingest/senders=8 posts/s") > 0 && m("Fanout/workers=8 deliveries/s") > 0)
		printf "%-50s %.2f\n", "ingest (8 senders) x 100 members / fan-out (8)", m("Ingest/senders=8 posts/s") * 100 / m("Fanout/workers=8 deliveries/s")
}' "$out"
