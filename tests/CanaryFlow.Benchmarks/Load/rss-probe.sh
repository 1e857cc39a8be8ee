#!/usr/bin/env bash
# Samples one replica's memory during a load run (issue 15): waits for the controller process whose command line
# contains PATTERN (e.g. the benchmark's bin path), then every second records VmRSS, CPU ticks and the load average
# into OUTDIR/rss.txt, keeps smaps_rollup at each new peak (+8 MiB), and runs dotnet-counters' System.Runtime counters
# every 2 s into OUTDIR/counters.csv (GC committed, gen sizes, LOH, collection counts). Prints the peak RSS, the
# controller's CPU seconds (utime+stime) and the load averages seen. With TRACE_PROVIDERS, dotnet-trace records the
# run into OUTDIR/trace.nettrace (e.g. Microsoft-Windows-DotNETRuntime:0x1:5 for the GC's AllocationTick events).
# With TRACE_DURATION (dd:hh:mm:ss) the trace stops before the run ends, so it closes with the method rundown.
# Usage: rss-probe.sh PATTERN OUTDIR [TRACE_PROVIDERS [TRACE_DURATION]]
set -u
pattern=$1; out=$2; providers=${3:-}; duration=${4:-}
mkdir -p "$out"
export PATH="$PATH:$HOME/.dotnet/tools"
pid=""
for _ in $(seq 1 1200); do
  pid=$(pgrep -n -f -- "$pattern" || true)
  [ -n "$pid" ] && break
  sleep 0.5
done
[ -z "$pid" ] && { echo "probe: no process matching $pattern"; exit 1; }
echo "probe: pid $pid at $(date -u +%T)" | tee "$out/summary.txt"
dotnet-counters collect -p "$pid" --counters System.Runtime --refresh-interval 2 --format csv -o "$out/counters.csv" >/dev/null 2>&1 &
cpid=$!
if [ -n "$providers" ]; then
  dotnet-trace collect -p "$pid" --providers "$providers" ${duration:+--duration "$duration"} -o "$out/trace.nettrace" >"$out/trace.log" 2>&1 &
fi
peak=0; peak_at=""; cpu=0; last_smaps=0; tick=$(getconf CLK_TCK)
while [ -r "/proc/$pid/status" ]; do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ -z "$rss" ] && break
  cpu=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null) || break
  echo "$(date -u +%T) $rss $cpu $(cut -d' ' -f1 /proc/loadavg)" >> "$out/rss.txt"
  if [ "$rss" -gt "$peak" ]; then
    peak=$rss; peak_at=$(date -u +%T)
    if [ $((rss - last_smaps)) -gt 8192 ]; then cp "/proc/$pid/smaps_rollup" "$out/smaps_rollup_peak.txt" 2>/dev/null; last_smaps=$rss; fi
  fi
  sleep 1
done
kill "$cpid" 2>/dev/null
loads=$(awk '{print $4}' "$out/rss.txt" | sort -n)
echo "probe: peak VmRSS $((peak / 1024)) MiB at $peak_at; controller CPU $(awk -v c="$cpu" -v t="$tick" 'BEGIN{printf "%.1f", c/t}') s; load avg $(echo "$loads" | head -1)-$(echo "$loads" | tail -1), mean $(echo "$loads" | awk '{s+=$1} END {printf "%.1f", s/NR}')" | tee -a "$out/summary.txt"
