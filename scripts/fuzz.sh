#!/usr/bin/env bash
# Runs the libFuzzer targets one after another (make fuzz).
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
#
# Each target BUILD_DIR/fuzz_NAME runs SECONDS on its corpus,
# tests/fuzz/corpus/NAME/, with seeds (the test programs, examples and
# tests/fuzz/seeds/shoal/ for the reader and compiler; tests/*.ini and
# tests/fuzz/seeds/config/ for the config loader; tests/fuzz/seeds/ctl/ for
# the control-protocol parser) and a
# dictionary (tests/fuzz/shoal.dict for the reader and compiler,
# tests/fuzz/NAME.dict for the others, when there is one). New inputs go into the
# corpus; after a run without a crash the corpus is minimized (-merge=1)
# in place, so that what is committed stays small. A crash leaves its input
# in BUILD_DIR/fuzz-artifacts/NAME/ and the log in BUILD_DIR/fuzz-logs/.
# Prints per target the executions, the coverage and crash or no crash;
# fails if any target crashed.
set -u
build=$1
secs=$2
shift 2
logs=$build/fuzz-logs
mkdir -p "$logs"
failed=""
for t in "$@"; do
  bin=$build/fuzz_$t
  corpus=tests/fuzz/corpus/$t
  art=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$art"
  seeds=$(mktemp -d)
  case $t in
    reader|compile)
      for f in tests/programs/*.shoal examples/*.shoal bench/*.shoal tests/fuzz/seeds/shoal/*; do
        cp "$f" "$seeds/$(echo "$f" | tr / _)"
      done
      max=65536 ;;
    config) cp tests/*.ini tests/fuzz/seeds/config/* "$seeds"/; max=8192 ;;
    ctl) cp tests/fuzz/seeds/ctl/* "$seeds"/; max=8192 ;;
    *) max=8192 ;;
  esac
  dict=()
  case $t in reader|compile) d=tests/fuzz/shoal.dict ;; *) d=tests/fuzz/$t.dict ;; esac
  if [ -f "$d" ]; then dict=(-dict="$d"); fi
  log=$logs/$t.log
  "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
      -max_len="$max" -artifact_prefix="$art/" "${dict[@]}" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  rm -rf "$seeds"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t: ${execs:-?} executions in ${secs} s, ${cov:-no coverage}: CRASH (exit $rc)"
    ls "$art" | sed "s|^|    $art/|"
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz check failed' "$log" |
      sed 's/^/    /'
    echo "    log: $log"
    failed="$failed $t"
    continue
  fi
  # minimize: keep only the inputs that add coverage
  merged=$(mktemp -d)
  if "$bin" -merge=1 -timeout=20 -rss_limit_mb=2048 -max_len="$max" "$merged" "$corpus" \
      >"$logs/$t.merge.log" 2>&1; then
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp "$merged"/* "$corpus"/ 2>/dev/null
  else
    echo "fuzz_$t: the merge failed (see $logs/$t.merge.log); corpus left as it is"
  fi
  rm -rf "$merged"
  n=$(ls "$corpus" | wc -l)
  kb=$(( $(cat "$corpus"/* 2>/dev/null | wc -c) / 1024 ))
  echo "fuzz_$t: ${execs:-?} executions in ${secs} s, ${cov:-no coverage}, corpus $n files ($kb KiB): no crash"
done
if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed"
  exit 1
fi
