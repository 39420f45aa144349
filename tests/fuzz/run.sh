#!/bin/bash
# make fuzz: runs each fuzz target for N seconds, one after the other, and prints
# a table.  A hang (-timeout=10), more than 2 GB (-rss_limit_mb, also the limit of
# one malloc) and a leak are failures like a crash.  Working corpora grow in
# BUILD/tests/fuzz/work/NAME (the committed seeds, corpus/NAME and regress/NAME,
# are read, never written); what fails is kept in BUILD/tests/fuzz/artifacts/NAME
# (crash-*, timeout-*, leak-*, oom-*) and the log of each run next to it.
# Exit 1 when any target failed.
# usage: run.sh --seconds N --srcdir DIR --builddir DIR NAME...
set -u
seconds=60 src=. build=.
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --srcdir) src=$2; shift 2 ;;
    --builddir) build=$2; shift 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: run.sh --seconds N --srcdir DIR --builddir DIR NAME..." >&2; exit 2; }
case $seconds in '' | *[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a whole number" >&2; exit 2 ;; esac

# As make check's sanitizer settings: leaks reported, the known leaks of
# Open MPI / OpenBLAS / OpenMP at start suppressed (and HDF5's, see below).
# A malloc beyond ASan's limit returns NULL as it would fail in real life (the
# code under test must cope); one above -malloc_limit_mb is reported.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:allocator_may_return_null=1
export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export YT_SRCDIR=$src

rows=() failed=0
for name in "$@"; do
    prog=$build/tests/fuzz/fuzz_$name
    if [ ! -x "$prog" ]; then
        echo "run.sh: no fuzz target $prog" >&2
        rows+=("$name|-|-|-|-|missing")
        failed=1
        continue
    fi
    work=$build/tests/fuzz/work/$name art=$build/tests/fuzz/artifacts/$name
    mkdir -p "$work" "$art"
    log=$art/fuzz-$(date +%Y%m%d-%H%M%S).log
    before=$(find "$art" -maxdepth 1 -type f ! -name '*.log' | wc -l)
    seeds=("$src/tests/fuzz/corpus/$name")
    [ -d "$src/tests/fuzz/regress/$name" ] && seeds+=("$src/tests/fuzz/regress/$name")
    # HDF5 readers: HDF5's own allocations are not checked for leaks (its
    # error paths leak), our identifiers are (fuzz_h5_check in the target)
    # and a malloc of HDF5's is not limited to -rss_limit_mb: it sizes some from
    # the damaged headers it decodes, and copes when they fail (the resident
    # size stays limited)
    supp=$src/tests/lsan.supp mlimit=()
    case $name in
    dataset | snapshot | prep) supp=$src/tests/fuzz/lsan_hdf5.supp mlimit=(-malloc_limit_mb=1048576) ;;
    esac
    export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
    dict=()
    [ -f "$src/tests/fuzz/dict/$name.dict" ] && dict=(-dict="$src/tests/fuzz/dict/$name.dict")
    # the targets' scratch files (a crashed process leaves its own behind)
    tmp=/dev/shm; [ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
    YT_FUZZ_TMP=$(mktemp -d "$tmp/yt-fuzz-$name-XXXXXX") || exit 1
    export YT_FUZZ_TMP
    echo "fuzz_$name: $seconds s (log $log)"
    start=$(date +%s)
    "$prog" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${mlimit[@]}" -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$work" "${seeds[@]}" \
        >"$log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | sed 's/ft: //')
    after=$(find "$art" -maxdepth 1 -type f ! -name '*.log' | wc -l)
    crashes=$((after - before))
    status=ok
    if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
        why=$(grep -m1 -o 'SUMMARY: .*\|ERROR: libFuzzer: [a-z-]*' "$log")
        status="FAILED (exit $rc): ${why:0:90}"
        failed=1
    fi
    rows+=("$name|$took|${execs:--}|${cov:--}/${ft:--}|$crashes|$status")
    rm -rf "$YT_FUZZ_TMP"
done

printf '\n%-16s %8s %12s %16s %8s  %s\n' target seconds executions "cov/features" crashes status
for r in "${rows[@]}"; do
    IFS='|' read -r n s x c k st <<<"$r"
    printf '%-16s %8s %12s %16s %8s  %s\n' "$n" "$s" "$x" "$c" "$k" "$st"
done
echo "artifacts and logs: $build/tests/fuzz/artifacts/NAME/"
exit $failed
