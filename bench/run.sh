#!/usr/bin/env bash
# run.sh: the benchmark driver. Usage: bench/run.sh path/to/shoal
#   BENCH_QUICK=1   smoke sizes (about 10x smaller), 1 repetition
#   BENCH_REPS=N    repetitions (default 5; 1 with BENCH_QUICK)
#   BENCH_ONLY=a,b  only these workloads (fib spawn ring pingpong select actors skew policies migrate
#                   memory flood oversub numa maps tables scale)
# Prints a progress line per workload, then a table (each row with its bar
# and whether it is met), and writes bench/results/latest.json. The work is
# done by bench/driver.py and bench/benchlib.py (python3); see
# bench/README.md. bench/plot.py draws the results (make bench-plot).
set -u
if [ $# -ne 1 ]; then
  echo "usage: bench/run.sh path/to/shoal" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
  echo "bench: python3 is needed to run the driver" >&2
  exit 1
fi
if ! command -v timeout >/dev/null 2>&1; then
  echo "bench: timeout (coreutils) is needed to run the driver" >&2
  exit 1
fi
exec python3 "$here/driver.py" "$1"
