#!/bin/bash
# jobs/launch and train's --progress on one host:
#   1. a job config (--config) or command line naming a missing model or data
#      path fails before mpirun starts, naming the path;
#   2. as root without OMPI_ALLOW_RUN_AS_ROOT* in the environment it starts;
#      the printed mpirun command is the one that runs: two ranks, each bound
#      to its own core with one thread (config.json: threads, cpus_allowed);
#   3. stop signals: SIGUSR1 and SIGTERM to jobs/launch each make the ranks
#      yield (exit 75; the TERM one with the ranks' own SIGTERM) and the run
#      resumed to its end is bitwise equal to the uninterrupted one; mpirun
#      exits within 0.5 s of its last rank (a plain mpirun, default
#      odls_base_sigkill_timeout, measured beside it);
#   4. progress output: no refreshed (\r) line when stdout is a file, under
#      jobs/launch and under a plain mpirun (--progress auto: mpirun gives the
#      rank a pseudo-terminal), one line every --log-every steps; a refreshed
#      line when mpirun's stdout is a real terminal (script(1)); --progress
#      lines and tty as asked.
set -euo pipefail
work=$(mktemp -d /tmp/yt-launch-XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
launch=("$YT_SRCDIR/jobs/launch" --mpirun "$MPIRUN")
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
# A constant learning rate: the interrupted runs go on without a step budget
# (not part of a run's identity) until they resume with the reference's.
args=(--model model --data data.h5 --seq-len 128 --micro-batch 2 --lr 3e-3 --schedule constant
      --lora-rank 8 --lora-dropout 0.1 --seed 7 --log-every 1000 --snapshot-every 10)

# ---- 1. paths checked before mpirun starts
printf 'model = "nomodel"   # the folder is missing\ndata = data.h5\nmax_steps = 5\n' > job.cfg
set +e
"${launch[@]}" -n 2 -- "$YT_BIN" train --config job.cfg --out cfg > cfg.log 2>&1
rc=$?
set -e
[ $rc = 2 ] || { cat cfg.log; fail "a config naming a missing model: exit $rc, expected 2"; }
grep -q "jobs/launch: model = nomodel (in job.cfg): no such file or directory" cfg.log ||
    { cat cfg.log; fail "the missing model path in job.cfg is not named"; }
! grep -q "mpirun" cfg.log && [ ! -e cfg ] || { cat cfg.log; fail "mpirun started despite the missing model"; }
set +e
"${launch[@]}" -- "$YT_BIN" train --config job.cfg --model model --data=none.h5 --out cfg > cfg2.log 2>&1
rc=$?
set -e
[ $rc = 2 ] && grep -q "jobs/launch: --data none.h5: no such file or directory" cfg2.log ||
    { cat cfg2.log; fail "a missing --data path (over the config's) is not named (exit $rc)"; }
echo "launch: missing model (job config) and data (command line) paths named before mpirun starts"

# ---- 2. as root without the variables; the printed command runs
t0=$(now)
env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "${launch[@]}" -n 2 --threads 1 -- \
    "$YT_BIN" train "${args[@]}" --max-steps 40 --out ref > ref.log 2>&1 || { cat ref.log; fail "jobs/launch -n 2 failed"; }
echo "launch: uninterrupted run in $(secs "$t0" "$(now)") s: $(grep '^jobs/launch:' ref.log)"
line=$(grep '^jobs/launch: ' ref.log | head -1)
if [ "$(id -u)" = 0 ]; then
    grep -q "^jobs/launch: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " <<< "$line" ||
        fail "as root, the command does not set the root variables: $line"
fi
for want in "-np 2" "--mca pml ob1" "--mca btl self,vader" "--mca odls_base_sigkill_timeout 0" \
            "-x OMP_NUM_THREADS=1" "--threads 1" "--progress lines"; do
    grep -qF -- " $want" <<< "$line" || fail "the mpirun command lacks '$want': $line"
done
bound=0
grep -qF -- " --bind-to core" <<< "$line" && bound=1
"$PYTHON" - ref "$(getconf _NPROCESSORS_ONLN)" $bound <<'PY' || fail "ref/config.json: ranks not bound as the command says"
import json, sys
ranks = json.load(open(sys.argv[1] + "/config.json"))["ranks"]
cpus, bound = int(sys.argv[2]), sys.argv[3] == "1"
assert len(ranks) == 2 and all(r["threads"] == 1 for r in ranks), ranks
allowed = [r["cpus_allowed"] for r in ranks]
# --bind-to core: each rank on its own core (fewer CPUs than the host's);
# unbound: every CPU
assert all((a < cpus) if bound else (a == cpus) for a in allowed), (allowed, cpus, bound)
print("launch: config.json: 2 ranks x 1 thread, cpus_allowed", allowed, "of", cpus,
      "(bound)" if bound else "(not bound)")
PY

# One rank per GPU (--dry-run: no GPU here; CUDA_VISIBLE_DEVICES names them).
out=$(CUDA_VISIBLE_DEVICES=0,1 "${launch[@]}" --dry-run -- "$YT_BIN" train "${args[@]}" --out g --device cuda)
grep -q -- " -np 2 .*--device cuda" <<< "$out" && [ "$(grep -o -- "--device" <<< "$out" | wc -l)" = 1 ] ||
    fail "train --device cuda with two GPUs: not 2 ranks: $out"
out=$(CUDA_VISIBLE_DEVICES=3 "${launch[@]}" --dry-run --gpus -- "$YT_BIN" train "${args[@]}" --out g)
grep -q -- " -np 1 .* --device cuda" <<< "$out" || fail "--gpus with one GPU: not 1 rank with --device cuda: $out"
set +e
CUDA_VISIBLE_DEVICES='' "${launch[@]}" --dry-run --gpus -- "$YT_BIN" train "${args[@]}" --out g \
    > nogpu.log 2>&1
rc=$?
set -e
[ $rc = 2 ] && grep -q "no GPU found" nogpu.log || { cat nogpu.log; fail "--gpus without a GPU: exit $rc"; }
echo "launch: --gpus and --device cuda: one rank per GPU"

# ---- 3. stop signals, mpirun's exit
# run_and_signal NAME SIG LAUNCHER...: starts LAUNCHER... train into NAME, sends
# SIG to it after 5 steps and waits; sets rc (its exit code) and delay (from
# the last rank's exit to the launcher's).
run_and_signal() {
    local name=$1 sig=$2 pid mp ranks r alive t1 t2
    shift 2
    "$@" "$YT_BIN" train "${args[@]}" --max-steps 1000000 --out "$name" > "$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1200); do
        [ -f "$name/metrics.jsonl" ] && [ "$(wc -l < "$name/metrics.jsonl")" -ge 5 ] && break
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.05
    done
    mp=$(pgrep -P "$pid" -x mpirun || echo "$pid")
    ranks=$(pgrep -P "$mp" -f "yieldtune train" || true)
    [ -n "$ranks" ] || { cat "$name.log"; fail "$name: no ranks found"; }
    kill -s "$sig" "$pid"
    for _ in $(seq 6000); do
        alive=0
        for r in $ranks; do
            case $(ps -o stat= -p "$r" 2> /dev/null) in "" | Z*) ;; *) alive=1 ;; esac
        done
        [ $alive = 0 ] && break
        sleep 0.005
    done
    t1=$(now)
    set +e; wait "$pid"; rc=$?; set -e
    t2=$(now)
    delay=$(secs "$t1" "$t2")
}
# finish_and_compare NAME: resumes NAME to 10 steps past its yield (at least
# 40) and compares it with the uninterrupted run of as many steps.
finish_and_compare() {
    local name=$1 n ref
    n=$(($(wc -l < "$name/metrics.jsonl") + 10))
    [ $n -ge 40 ] || n=40
    ref=ref
    if [ $n != 40 ]; then
        ref=ref-$n
        "${launch[@]}" -n 2 --threads 1 -- "$YT_BIN" train "${args[@]}" --max-steps $n --out $ref > $ref.log 2>&1 ||
            fail "$ref: the uninterrupted run failed"
    fi
    "${launch[@]}" -n 2 --threads 1 -- "$YT_BIN" train "${args[@]}" --max-steps $n --out "$name" > "$name.2.log" 2>&1 ||
        fail "$name: the resumed run failed"
    cmp $ref/adapter/adapter_model.safetensors "$name/adapter/adapter_model.safetensors" ||
        fail "$name: the resumed run's adapter differs from the uninterrupted run's ($n steps)"
}
run_and_signal plain USR1 "$MPIRUN" -np 2 --oversubscribe --bind-to none
[ "$rc" = 75 ] || { cat plain.log; fail "plain mpirun: exit $rc after SIGUSR1, expected 75"; }
plain_delay=$delay
run_and_signal usr1 USR1 "${launch[@]}" -n 2 --threads 1 --
[ "$rc" = 75 ] || { cat usr1.log; fail "jobs/launch: exit $rc after SIGUSR1, expected 75"; }
usr1_delay=$delay
echo "launch: mpirun's exit after its ranks exited 75: ${plain_delay} s plain (default" \
     "odls_base_sigkill_timeout), ${usr1_delay} s under jobs/launch"
awk -v d="$usr1_delay" 'BEGIN { exit !(d < 0.5) }' || fail "jobs/launch: mpirun exited ${usr1_delay} s after its ranks"
grep -q '"event":"yield","time":[0-9.]*,"signal":"USR1"' usr1/events.jsonl || fail "usr1: no USR1 yield"
finish_and_compare usr1
run_and_signal term TERM "${launch[@]}" -n 2 --threads 1 --
[ "$rc" = 75 ] || { cat term.log; fail "jobs/launch: exit $rc after SIGTERM, expected 75"; }
term_delay=$delay
grep -q '"event":"yield","time":[0-9.]*,"signal":"TERM"' term/events.jsonl ||
    fail "term: the ranks did not yield on their own SIGTERM: $(grep yield term/events.jsonl)"
grep -q "jobs/launch: got SIGTERM: passing it on" term.log || fail "term.log: no 'passing it on'"
finish_and_compare term
echo "launch: SIGUSR1 and SIGTERM to jobs/launch: yielded, resumed, bitwise equal" \
     "(TERM: mpirun out ${term_delay} s after its ranks)"

# ---- 4. progress output
# steps_printed FILE: the step numbers of the plain progress lines.
steps_printed() { sed -n 's/^step \([0-9]*\)\/[0-9]* loss.*/\1/p' "$1" | tr '\n' ' '; }
small=(--model model --data data.h5 --max-steps 12 --seq-len 64 --micro-batch 2 --threads 1 --log-every 5)
"${launch[@]}" -- "$YT_BIN" train "${small[@]}" --out p-launch > p-launch.log 2>&1
"$MPIRUN" -np 1 "$YT_BIN" train "${small[@]}" --out p-mpirun > p-mpirun.log 2>&1
for f in p-launch p-mpirun; do
    ! grep -q $'\r' $f.log || fail "$f.log: a refreshed (\\r) progress line in a file"
    [ "$(steps_printed $f.log)" = "1 5 10 12 " ] ||
        fail "$f.log: progress lines at steps '$(steps_printed $f.log)', expected every 5 (1 5 10 12)"
done
# script(1) gives mpirun a real terminal: auto refreshes the line there.
refreshed() { grep -c $'\rstep ' "$1" || true; }
script -qec "$MPIRUN -np 1 $YT_BIN train ${small[*]} --out p-tty" /dev/null > p-tty.log 2>&1
script -qec "$MPIRUN -np 1 $YT_BIN train ${small[*]} --out p-lines --progress lines" /dev/null > p-lines.log 2>&1
"$MPIRUN" -np 1 "$YT_BIN" train "${small[@]}" --out p-forced --progress tty > p-forced.log 2>&1
[ "$(refreshed p-tty.log)" -ge 1 ] || fail "p-tty.log: no refreshed line on a terminal (--progress auto)"
[ "$(refreshed p-lines.log)" = 0 ] || fail "p-lines.log: refreshed lines despite --progress lines"
[ "$(refreshed p-forced.log)" -ge 1 ] || fail "p-forced.log: no refreshed line with --progress tty"
echo "launch: progress: lines every 5 steps in files (jobs/launch and plain mpirun), refreshed on a" \
     "terminal, --progress lines/tty obeyed"
echo "launch: all checks passed"
