#!/bin/bash
# make fuzz: runs each fuzz target for N seconds, one after the other, and prints
# a table.  A hang (-timeout=10), more than 2 GB (-rss_limit_mb, also the limit of
# one malloc) and a leak are failures like a crash.  Working corpora grow in
# BUILD/tests/fuzz/work/NAME (the committed seeds, corpus/NAME and regress/NAME,
# are read, never written); what fails is kept in BUILD/tests/fuzz/artifacts/NAME
# (crash-*, timeout-*, leak-*, oom-*) with the log of each run.
#
# HDF5 1.10 has bugs of its own on damaged files (reads past its buffers, use
# after free, NULL dereferences inside its decoders).  A failure whose first stack
# frame outside the sanitizer runtime and libFuzzer is in libhdf5 is counted as
# HDF5's ("hdf5" column) and the target is started again for the rest of its
# time; any other failure is ours ("ours" column), stops that target and makes
# the exit status 1.
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

# As make check's sanitizer settings: leaks reported, the known leaks of Open MPI
# / OpenBLAS / OpenMP at start suppressed (and HDF5's, see below).  A malloc
# beyond ASan's limit returns NULL as it would fail in real life (the code under
# test must cope); one above -malloc_limit_mb is reported.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export YT_SRCDIR=$src

# Whose failure LOG reports: "hdf5", "ours", or "" when it reports none.  A
# read or write of HDF5's into memory our code allocated (a buffer too small for
# what we asked HDF5 to read) is ours.
whose() {
    awk '
        function skip(l) {
            # the sanitizer runtime and its interceptors (frames of the target
            # binary without a source line), libFuzzer, libc (by module or by
            # the paths of its sources)
            return l ~ /__interceptor_|__asan|__sanitizer|__ubsan|__lsan|in fuzzer::|\/fuzz_[a-z_]+\+0x|libc\.so|libc_start|sysdeps\/|libstdc\+\+/
        }
        /==[0-9]+== *ERROR: |runtime error: / { inblk = 1; sect = "at"; first = ""; alloc = ""; next }
        inblk && /allocated by thread/ { sect = "alloc"; next }
        inblk && /freed by thread/ { sect = "free"; next }
        inblk && /^ *#[0-9]+ / && !skip($0) {
            if (sect == "at" && first == "") first = $0
            if (sect == "alloc" && alloc == "") alloc = $0
            next
        }
        inblk && /^SUMMARY: / {
            who = (first ~ /libhdf5/ && (alloc == "" || alloc ~ /libhdf5/)) ? "hdf5" : "ours"
            inblk = 0
        }
        END { print who }
    ' "$1"
}

rows=() failed=0
for name in "$@"; do
    prog=$build/tests/fuzz/fuzz_$name
    if [ ! -x "$prog" ]; then
        echo "run.sh: no fuzz target $prog" >&2
        rows+=("$name|-|-|-|-|-|-|missing")
        failed=1
        continue
    fi
    work=$build/tests/fuzz/work/$name art=$build/tests/fuzz/artifacts/$name
    mkdir -p "$work" "$art"
    seeds=("$src/tests/fuzz/corpus/$name")
    [ -d "$src/tests/fuzz/regress/$name" ] && seeds+=("$src/tests/fuzz/regress/$name")
    # HDF5 readers: what HDF5 allocates is not checked for leaks (its error
    # paths leak; the targets count the HDF5 objects our code leaves open), and
    # a malloc of HDF5's is not limited to -rss_limit_mb: it sizes some from the
    # damaged headers it decodes and copes when they fail (the resident size
    # stays limited)
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
    echo "fuzz_$name: $seconds s (logs in $art)"
    start=$(date +%s) execs=0 cov= ft= ours=0 hdf5=0 status=ok
    while :; do
        left=$((seconds - ($(date +%s) - start)))
        [ "$left" -ge 1 ] || break
        log=$art/fuzz-$(date +%Y%m%d-%H%M%S).log
        "$prog" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 "${mlimit[@]}" \
            -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
            "$work" "${seeds[@]}" >"$log" 2>&1
        rc=$?
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${n:-0}))
        c=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
        f=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | sed 's/ft: //')
        cov=${c:-$cov} ft=${f:-$ft}
        [ "$rc" = 0 ] && break
        if [ "$(whose "$log")" = hdf5 ]; then
            hdf5=$((hdf5 + 1))
            echo "  HDF5's: $(grep -m1 '^SUMMARY: ' "$log" | cut -c1-150) ($log)"
            continue
        fi
        ours=$((ours + 1)) failed=1
        why=$(grep -m1 -o 'SUMMARY: .*\|ERROR: libFuzzer: [a-z-]*' "$log")
        status="FAILED (exit $rc): ${why:0:100} ($log)"
        break
    done
    took=$(( $(date +%s) - start ))
    corpus=$(find "$work" -type f | wc -l)
    rows+=("$name|$took|$execs|$corpus|${cov:--}/${ft:--}|$ours|$hdf5|$status")
    rm -rf "$YT_FUZZ_TMP"
done

printf '\n%-15s %7s %11s %6s %13s %5s %5s  %s\n' target seconds executions corpus "cov/features" \
    ours hdf5 status
for r in "${rows[@]}"; do
    IFS='|' read -r n s x k c o h st <<<"$r"
    printf '%-15s %7s %11s %6s %13s %5s %5s  %s\n' "$n" "$s" "$x" "$k" "$c" "$o" "$h" "$st"
done
echo "corpus: inputs in the working corpus (work/NAME) at the end; crashes: ours / HDF5's own"
echo "(first frame in libhdf5); artifacts and logs in $build/tests/fuzz/artifacts/NAME/"
exit $failed
