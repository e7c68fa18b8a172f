#!/bin/sh
# Run every test: the C unit tests in the normal build and again built with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the integration tests
# (pytest driving the real binary) against both binaries.  Ends with one
# "N passed, N failed" line for CI.
set -u
BUILD=${1:-build}
BUILD_ASAN=${2:-build-asan}
BUILD_FUZZ=${3:-build-fuzz}
FUZZ_SECONDS=${VMIE_FUZZ_SECONDS:-10}
# Most integration tests wait on the emulated clock, not the CPU: twice as
# many pytest workers as cores keep both busy.
CORES=$(nproc 2>/dev/null || echo 2)
JOBS=${VMIE_TEST_JOBS:-$CORES}
WORKERS=${VMIE_TEST_WORKERS:-$((CORES * 2))}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
passed=0
failed=0
status=0

count_meson() { # build-dir label
	log="$1/meson-logs/testlog.json"
	[ -f "$log" ] || return
	p=$($PY -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(1 for t in r if t["result"] in ("OK","EXPECTEDFAIL")), sum(1 for t in r if t["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$log")
	set -- $p
	passed=$((passed + $1))
	failed=$((failed + $2))
}

run_meson() { # build-dir label
	echo "== unit tests ($2)"
	if ! meson test -C "$1" --print-errorlogs --num-processes 2; then
		status=1
	fi
	count_meson "$1"
	# The conformance figure the SigV4 test computes (cases run and passed).
	grep -h '^sigv4 suite:' "$1/meson-logs/testlog.txt" 2>/dev/null | sed 's/^/   /'
}

run_pytest() { # binary label test-paths...
	bin=$1
	echo "== integration tests ($2)"
	shift 2
	out=$(mktemp)
	VMIE_BIN="$bin" VMIE_ROOT="$ROOT" $PY -m pytest -q -rs -p no:cacheprovider \
		-n "$WORKERS" "$@" 2>&1 | tee "$out"
	rc=$?
	# pytest's summary: "== 12 passed, 1 failed, 2 skipped in 1.2s =="
	p=$(grep -Eo '[0-9]+ passed' "$out" | tail -1 | cut -d' ' -f1)
	f=$(grep -Eo '[0-9]+ (failed|error)' "$out" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	[ "$rc" -eq 0 ] || { status=1; [ "${f:-0}" -gt 0 ] || failed=$((failed + 1)); }
	rm -f "$out"
}

# One fuzz target for FUZZ_SECONDS over its seed corpus; its result line
# in $2.result, its log's tail on failure.
fuzz_one() { # target result-file
	name=${1##*/fuzz_}
	scratch=$(mktemp -d)
	# New inputs go to the scratch dir; the seed corpus stays untouched.
	if "$1" "$scratch" "$ROOT/tests/fuzz/corpus/$name" \
		-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 >"$scratch.log" 2>&1; then
		runs=$(grep -Eo 'Done [0-9]+ runs' "$scratch.log" | cut -d' ' -f2)
		echo "fuzz $name: ok (${runs:-?} runs)" >"$2"
	else
		{ echo "fuzz $name: FAILED"; tail -40 "$scratch.log"; } >"$2"
	fi
	rm -rf "$scratch" "$scratch.log"
}

# The targets run side by side, one per core (each for its full time: the
# same coverage in less wall time), and report in name order.
run_fuzz() { # build-dir
	echo "== fuzz targets (${FUZZ_SECONDS}s each over tests/fuzz/corpus, $JOBS at a time)"
	results=$(mktemp -d)
	n=0
	for t in "$1"/tests/fuzz/fuzz_*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		fuzz_one "$t" "$results/${t##*/fuzz_}" &
		n=$((n + 1))
		[ $((n % JOBS)) -ne 0 ] || wait
	done
	wait
	for r in "$results"/*; do
		[ -f "$r" ] || continue
		cat "$r"
		if head -1 "$r" | grep -q ': ok'; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			status=1
		fi
	done
	rm -rf "$results"
}

run_meson "$BUILD" "release build"
run_meson "$BUILD_ASAN" "address+undefined sanitizers"
# Tests that drive the vmie binary run against both builds; the emulator's
# own interop tests (test_emu_*, the AWS CLI against the emulator) once.
vmie_tests=$(ls "$ROOT"/tests/integration/test_*.py | grep -v '/test_emu_')
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_pytest "$ROOT/$BUILD_ASAN/vmie" "vmie, sanitizer binary" $vmie_tests
run_pytest "$ROOT/$BUILD/vmie" "vmie and emulator, release binary" "$ROOT/tests/integration"
run_fuzz "$BUILD_FUZZ"

echo
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
