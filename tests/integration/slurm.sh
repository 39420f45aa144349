#!/bin/bash
# jobs/yieldtune.sbatch (through jobs/launch) on a real Slurm (22.05): what a
# cluster does to a long job: preempted twice, signalled once, requeued each
# time, and finished bitwise equal to the uninterrupted run; and the restart
# policy for attempts that fail.
#
# Starts its own munged, slurmctld and slurmd on localhost (state, spool, logs,
# key and socket in a private temp folder, random ports) with a preemptible
# `low` partition (PreemptMode=REQUEUE, a short GraceTime) and a `high`
# partition that preempts it, the user signal sent at preemption
# (preempt_send_user_signal), and fast rescheduling of requeued jobs
# (cred_expire=5, sched_interval=2).  Then:
#   1. `sbatch -p low -n 2 jobs/yieldtune.sbatch train --config job.cfg ...`:
#      a constant learning rate and a step budget in the job config that the
#      test sets only after the last interruption (max_steps is not part of a
#      run's identity; with a constant schedule the steps do not depend on
#      it), so that the job cannot finish before it, however fast it runs;
#   3. three interruptions, each once the job has made progress since the
#      last: a `high` job that needs the whole node (Slurm preempts the low
#      job and sends its batch shell SIGUSR1), `scancel --signal=USR1 --batch`
#      (the batch shell only), and a second `high` job.  Each time the script
#      passes SIGUSR1 on (jobs/launch, mpirun, every rank), the ranks yield
#      (exit 75), the script requeues the job within the GraceTime (Slurm's
#      own preemption kill never comes) and the restart resumes;
#   4. the job finishes: every step once, the adapter bitwise equal to the
#      uninterrupted run (`mpirun -np 2 yieldtune train`, same options, no
#      Slurm), the log free of refreshed progress lines;
#   5. restart policy: a job whose every attempt fails (a data file that
#      exists but is not a dataset) is requeued until YT_MAX_FAILURES=2
#      attempts in a row have failed, then stops saying so; a job naming a
#      missing data file fails before mpirun starts and is not requeued.
# The daemons, the jobs and anything they left behind are stopped on exit;
# on failure the job logs and the Slurm logs are printed.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
t_start=$(date +%s)
budget=280                              # the whole test, normally 70-150 s
deadline=$((t_start + budget))
elapsed() { echo $(($(date +%s) - t_start)); }

# Not a skip: Slurm is a test dependency (jobs/install-deps installs it).
PATH=$PATH:/usr/sbin:/sbin
for prog in munged:munge munge:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client \
            scontrol:slurm-client squeue:slurm-client scancel:slurm-client sinfo:slurm-client; do
    command -v "${prog%%:*}" > /dev/null ||
        fail "${prog%%:*} not found: install the Debian packages slurm-wlm and munge" \
             "(apt-get install slurm-wlm munge; jobs/install-deps does it)"
done
[ "$(id -u)" = 0 ] || fail "this test starts slurmd, which must run as root"

# Nothing from an enclosing Slurm job may leak into ours.
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN)_' || true); do unset "$v"; done

work=$(mktemp -d /tmp/yt-slurm-XXXXXX)
chmod 755 "$work"                     # munged wants its socket's folders open to all
node=$(hostname -s)
munge_pid="" ctld_pid="" slurmd_pid=""

# Processes left behind (slurmstepd, job shells, mpirun, ranks): every one
# refers to the private folder through its environment, folder or open files.
strays() {
    local d p
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        if grep -qzF "$work" "$d/environ" 2> /dev/null ||
           [[ "$(readlink "$d/cwd" 2> /dev/null)" == "$work"* ]] ||
           ls -l "$d/fd" 2> /dev/null | grep -qF "$work"; then
            echo "$p"
        fi
    done
}
stop_pid() {  # stop_pid PID: TERM, up to 5 s, then KILL
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2> /dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
}
dump_logs() {
    echo "---- squeue / scontrol show job"
    squeue 2>&1 || true
    scontrol show job 2>&1 | grep -E 'JobId|JobState|Restarts|ExitCode' || true
    local f
    for f in low.log high1.log high2.log bad.log missing.log ref.log scontrol.err munged.out slurmctld.log slurmd.log slurmctld.out slurmd.out; do
        [ -s "$work/$f" ] || continue
        # the daemons' stderr repeats their log file: shown only without one
        case $f in *.out) [ -s "$work/${f%.out}.log" ] && continue ;; esac
        echo "---- $f (last lines)"
        tail -n 40 "$work/$f" | cut -c1-400
    done
}
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    cd /
    if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2> /dev/null; then
        [ "$rc" = 0 ] || dump_logs
        scancel --quiet $(squeue -h -o %i 2> /dev/null) 2> /dev/null
        for _ in $(seq 50); do [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break; sleep 0.2; done
    elif [ "$rc" != 0 ]; then
        dump_logs
    fi
    stop_pid "$slurmd_pid"
    stop_pid "$ctld_pid"
    stop_pid "$munge_pid"
    unset SLURM_CONF
    local left
    left=$(strays)
    if [ -n "$left" ]; then
        echo "stopping stray processes: $left"
        kill -TERM $left 2> /dev/null
        sleep 1
        left=$(strays)
        [ -z "$left" ] || kill -KILL $left 2> /dev/null
    fi
    rm -rf "$work"
    echo "slurm: $(elapsed) s in all"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$work"

# ---- Slurm on this host
free_port() {  # an even port P with P and P+1 free on 127.0.0.1
    local p
    for _ in $(seq 50); do
        p=$((20000 + 2 * (RANDOM % 10000)))
        (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null && continue
        (exec 3<> "/dev/tcp/127.0.0.1/$((p + 1))") 2> /dev/null && continue
        echo "$p"
        return 0
    done
    fail "no free port pair found"
}
port=$(free_port)
mkdir -p munge state spool
chmod 755 munge
dd if=/dev/urandom of=munge/munge.key bs=1024 count=1 status=none
chmod 400 munge/munge.key
munged -F --socket="$work/munge/socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/munged.seed" > munged.out 2>&1 &
munge_pid=$!
for _ in $(seq 100); do [ -S munge/socket ] && break; sleep 0.1; done
[ -S munge/socket ] || fail "munged did not create its socket within 10 s"

# GraceTime: how long a preempted job may take to stop.  The job's --signal
# (B:USR1) comes at once with preempt_send_user_signal; at GraceTime's end
# (checked every ~30 s) CONT+TERM, then KILL after KillWait.  cred_expire=5
# (the least allowed) and sched_interval=2 restart a requeued job ~7 s after
# the requeue instead of minutes.  CPUs=2 whatever the host has
# (config_overrides), so that 2 tasks fill the node.
cat > slurm.conf <<CONF
ClusterName=yieldtune-test
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${work}/munge/socket,cred_expire=5
StateSaveLocation=${work}/state
SlurmdSpoolDir=${work}/spool
SlurmctldPidFile=${work}/slurmctld.pid
SlurmdPidFile=${work}/slurmd.pid
SlurmctldLogFile=${work}/slurmctld.log
SlurmdLogFile=${work}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
KillWait=5
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
NodeName=${node} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=low  Nodes=${node} Default=YES MaxTime=INFINITE State=UP PriorityTier=1  PreemptMode=REQUEUE GraceTime=10
PartitionName=high Nodes=${node} Default=NO  MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -f "$SLURM_CONF" > slurmctld.out 2>&1 &
ctld_pid=$!
slurmd -D -f "$SLURM_CONF" -N "$node" > slurmd.out 2>&1 &
slurmd_pid=$!
for _ in $(seq 100); do
    [ "$(sinfo -h -n "$node" -o %t 2> /dev/null)" = idle ] && break
    kill -0 "$ctld_pid" 2> /dev/null || fail "slurmctld exited"
    kill -0 "$slurmd_pid" 2> /dev/null || fail "slurmd exited"
    sleep 0.2
done
[ "$(sinfo -h -n "$node" -o %t 2> /dev/null)" = idle ] || fail "node $node not idle within 20 s"
echo "slurm: munged, slurmctld and slurmd up on $node, ports $port-$((port + 1)) ($(elapsed) s)"

# ---- model, data
"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
args=(--model model --data data.h5 --seq-len 256 --micro-batch 4 --lr 3e-3 --schedule constant
      --lora-rank 8 --lora-alpha 16 --lora-dropout 0.1 --seed 7 --threads 1 --log-every 20
      --snapshot-every 40)
echo "max_steps = 1000000   # until the test sets the budget" > job.cfg

# ---- the preemptible job
# The job inherits this environment (sbatch --export=ALL): YT_BIN, SLURM_CONF,
# the OMPI_* settings.  The sbatch script launches `mpirun` from PATH.
case $MPIRUN in */*) PATH=$(dirname "$MPIRUN"):$PATH ;; esac
job_field() {  # job_field JOB KEY: a field of `scontrol show job` (empty if unknown)
    local out _
    for _ in 1 2 3; do
        out=$(scontrol show job "$1" 2>> "$work/scontrol.err") && break
        sleep 0.2
    done
    grep -o "\b$2=[^ ]*" <<< "$out" | head -1 | cut -d= -f2-
}
# the states in which a job has ended for good
ended='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$'
state_of() { job_field "$1" JobState; }
steps_done() { [ -f run/metrics.jsonl ] && wc -l < run/metrics.jsonl || echo 0; }
wait_for() {  # wait_for SECONDS WHAT CMD...: until CMD succeeds, or fail naming WHAT
    local secs=$1 what=$2 end
    shift 2
    end=$(($(date +%s) + secs))
    [ $end -le $deadline ] || end=$deadline
    while [ "$(date +%s)" -lt $end ]; do
        "$@" && return 0
        sleep 0.2
    done
    "$@" && return 0
    fail "$what: not within $secs s (the test's whole budget: $budget s)"
}
low_alive() {
    local st
    st=$(state_of "$low")
    [[ ! $st =~ $ended ]] || fail "job $low ended early: JobState=$st ExitCode=$(job_field "$low" ExitCode)"
}

t0=$(date +%s)
low=$(sbatch --parsable -p low -n 2 -J yt-low -o "$work/low.log" \
      "$YT_SRCDIR/jobs/yieldtune.sbatch" train --config job.cfg "${args[@]}" --out run)
low=${low%%;*}
echo "slurm: submitted job $low (low, 2 tasks)"
restarts() { local r; r=$(job_field "$low" Restarts); echo "${r:-0}"; }
yields() { local n; n=$(grep -c '"event":"yield"' run/events.jsonl 2> /dev/null); echo "${n:-0}"; }

# interrupt N HOW: once the job runs attempt N (restart N-1) and has done 12
# steps more than at the last yield, interrupt it by HOW (high: a high job
# that needs the node; usr1: scancel --signal=USR1 --batch), then wait for its
# yield (after the third, set the step budget at once, before the restart
# reads job.cfg) and its requeue (and the high job's end).
last_yield_step=0
interrupt() {
    local n=$1 how=$2 want=$((last_yield_step + 12)) high=""
    progressed() { low_alive && [ "$(restarts)" -ge $((n - 1)) ] && [ "$(steps_done)" -ge $want ]; }
    wait_for 60 "job $low: attempt $n at step $want" progressed
    echo "slurm: job $low (restart $((n - 1))) at step $(steps_done) after $(($(date +%s) - t0)) s: interrupting by $how"
    case $how in
        high)
            high=$(sbatch --parsable -p high -n 2 -J yt-high$n -o "$work/high$n.log" \
                   --wrap 'echo "high: started on $SLURM_JOB_NODELIST"; sleep 2; echo "high: done"')
            high=${high%%;*} ;;
        usr1) scancel --signal=USR1 --batch "$low" || fail "scancel --signal=USR1 --batch $low failed" ;;
    esac
    yielded() { low_alive && [ "$(yields)" -ge "$n" ]; }
    wait_for 20 "job $low: yield $n after the interruption by $how" yielded
    last_yield_step=$(grep '"event":"yield"' run/events.jsonl | tail -1 | sed 's/.*"step":\([0-9]*\).*/\1/')
    echo "slurm: job $low yielded at step $last_yield_step ($(($(date +%s) - t0)) s)"
    if [ "$n" = 3 ]; then  # the budget: 15 steps more; the restart reads job.cfg
        steps=$((last_yield_step + 15))
        echo "max_steps = $steps" > job.cfg
    fi
    requeued() {
        [ "$(restarts)" -ge "$n" ] && return 0
        local st
        st=$(state_of "$low")
        [[ ! $st =~ $ended ]] ||
            fail "job $low was not requeued after yield $n: JobState=$st ExitCode=$(job_field "$low" ExitCode)"
        return 1
    }
    wait_for 20 "job $low: requeued after yield $n" requeued
    if [ -n "$high" ]; then
        high_done() { done_ok "$high" "the high job"; }
        wait_for 30 "the high job $high: completed" high_done
        grep -q "high: done" "high$n.log" || fail "the high job $high did not run"
        echo "slurm: the high job $high completed ($(($(date +%s) - t0)) s)"
    fi
}
done_ok() {  # done_ok JOB WHAT: true once JOB completed; fails if it ended otherwise
    local st
    st=$(state_of "$1")
    [ "$st" = COMPLETED ] && return 0
    [[ ! $st =~ $ended ]] || fail "$2 $1: JobState=$st ExitCode=$(job_field "$1" ExitCode)"
    return 1
}
interrupt 1 high
interrupt 2 usr1
interrupt 3 high
low_done() { done_ok "$low" "job"; }
wait_for 60 "job $low: completed after its restarts" low_done
echo "slurm: job $low completed after $(restarts) restart(s) ($(($(date +%s) - t0)) s)"

# ---- the uninterrupted run, what happened
t1=$(date +%s)
timeout $((deadline - t1)) "$MPIRUN" -np 2 --oversubscribe --bind-to none "$YT_BIN" train "${args[@]}" \
    --max-steps $steps --out ref > ref.log 2>&1 || fail "the uninterrupted run failed or outlasted the test's budget (ref.log)"
echo "slurm: the uninterrupted run of $steps steps (mpirun -np 2, no Slurm): $(($(date +%s) - t1)) s"
[ "$(job_field "$low" ExitCode)" = 0:0 ] || fail "job $low: ExitCode=$(job_field "$low" ExitCode)"
[ "$(restarts)" = 3 ] || fail "job $low: $(restarts) restarts, expected 3"
[ "$(yields)" = 3 ] || fail "events.jsonl: $(yields) yields, expected 3"
[ "$(grep -c '"event":"yield".*"signal":"USR1"' run/events.jsonl)" = 3 ] ||
    fail "the ranks yielded on another signal than SIGUSR1: $(grep '"yield"' run/events.jsonl)"
[ "$(grep -c '"event":"resume"' run/events.jsonl)" = 3 ] || fail "events.jsonl: not 3 resume events"
for r in 1 2 3; do
    grep -q "(restart $r)" low.log || fail "low.log: no restart $r of the job"
done
[ "$(grep -c "yielded at step" low.log)" = 3 ] || fail "low.log: not 3 yield messages from yieldtune"
[ "$(grep -c "yieldtune yielded (exit 75)" low.log)" = 3 ] || fail "low.log: the batch script did not see 3 exits 75"
[ "$(grep -c "requeueing" low.log)" = 3 ] || fail "low.log: the batch script did not requeue 3 times"
[ "$(grep -c "resumed from run/snapshots/step-" low.log)" = 3 ] || fail "low.log: not 3 'resumed from'"
grep -q "(restart 3): finished" low.log || fail "low.log: the restarted job did not finish"
! grep -q "DUE TO PREEMPTION" low.log ||
    fail "Slurm killed the job at the end of GraceTime: the yield and requeue were too late"
# jobs/launch ran mpirun with the Slurm settings: plain progress lines in the
# log, and mpirun's kill delay above the ranks' 0.8 s SIGTERM deadline.
grep -q "^jobs/launch: .*mpirun .*--mca odls_base_sigkill_timeout 1 .*--progress lines" low.log ||
    fail "low.log: no jobs/launch line with odls_base_sigkill_timeout 1 and --progress lines"
! grep -q $'\r' low.log || fail "low.log holds refreshed (\\r) progress lines"
[ -e run/failed-attempts ] && fail "run/failed-attempts exists after a run without failures"
awk -v n=$steps '{ if (match($0, /"step":[0-9]+/) == 0 || substr($0, RSTART + 7, RLENGTH - 7) + 0 != NR) bad = 1 }
                 END { exit !(NR == n && !bad) }' run/metrics.jsonl ||
    fail "metrics.jsonl: steps are not 1..$steps once each"
cmp ref/adapter/adapter_model.safetensors run/adapter/adapter_model.safetensors ||
    fail "the interrupted and requeued run's adapter differs from the uninterrupted run's"
echo "slurm: yielded at steps $(grep '"event":"yield"' run/events.jsonl | sed 's/.*"step":\([0-9]*\).*/\1/' | xargs)" \
     "(2 preemptions, 1 scancel --signal=USR1 --batch), requeued, resumed: adapter bitwise equal to" \
     "the uninterrupted run"

# The goodput report counts the three preemptions and accounts for every
# attempt's time.
"$YT_BIN" report run --json > report.json || fail "yieldtune report run failed"
"$PYTHON" - report.json <<'PY' || fail "report: $(cat report.json)"
import json, sys
r = json.load(open(sys.argv[1]))
pre = r["preemptions"]
n = pre["total"] if isinstance(pre, dict) else pre
assert n == 3, f"report counts {n} preemptions, want 3"
assert len(r["attempts"]) == 4, f"{len(r['attempts'])} attempts, want 4"
assert 0 < r["goodput_percent"] <= 100, r["goodput_percent"]
print(f"report: {n} preemptions, {len(r['attempts'])} attempts, goodput {r['goodput_percent']:.1f} %")
PY

# ---- restart policy
# Every attempt fails (yieldtune exits 1 on a data file that is no dataset):
# requeued after the first, stopped after the second with YT_MAX_FAILURES=2.
echo "not an HDF5 file" > bad.h5
t1=$(date +%s)
bad=$(sbatch --parsable -p low -n 2 -J yt-bad -o "$work/bad.log" --export=ALL,YT_MAX_FAILURES=2 \
      "$YT_SRCDIR/jobs/yieldtune.sbatch" train "${args[@]}" --max-steps 10 --data bad.h5 --out badrun)
bad=${bad%%;*}
bad_ended() {
    local st
    st=$(state_of "$bad")
    [[ $st =~ $ended ]]
}
wait_for 60 "the failing job $bad: ended" bad_ended
echo "slurm: the failing job $bad ended after $(($(date +%s) - t1)) s:" \
     "JobState=$(state_of "$bad") Restarts=$(job_field "$bad" Restarts)"
[ "$(state_of "$bad")" = FAILED ] || fail "job $bad: JobState=$(state_of "$bad"), expected FAILED"
[ "$(job_field "$bad" Restarts)" = 1 ] || fail "job $bad: Restarts=$(job_field "$bad" Restarts), expected 1"
grep -q "exit 1: failed attempt 1 of 2 in a row" bad.log || fail "bad.log: no 'failed attempt 1 of 2'"
grep -q "(restart 1): exit 1: 2 failed attempts in a row (YT_MAX_FAILURES=2; badrun/failed-attempts): not requeued" bad.log ||
    fail "bad.log: no 'not requeued' after the second failure"
[ "$(wc -l < badrun/failed-attempts)" = 2 ] || fail "badrun/failed-attempts: expected 2 lines"
grep -q "yieldtune: .*bad.h5" bad.log || fail "bad.log: yieldtune's error naming bad.h5 missing"
# A missing data file: jobs/launch names it before mpirun starts; exit 2 is
# not requeued.
missing=$(sbatch --parsable -p low -n 2 -J yt-missing -o "$work/missing.log" \
          "$YT_SRCDIR/jobs/yieldtune.sbatch" train "${args[@]}" --max-steps 10 --data nosuch.h5 --out missingrun)
missing=${missing%%;*}
missing_ended() { [[ $(state_of "$missing") =~ $ended ]]; }
wait_for 30 "the job $missing with a missing data file: ended" missing_ended
[ "$(job_field "$missing" Restarts)" = 0 ] || fail "job $missing was requeued"
grep -q "jobs/launch: --data nosuch.h5: no such file or directory" missing.log ||
    fail "missing.log: jobs/launch did not name the missing data file"
! grep -q "^jobs/launch: .*mpirun" missing.log || fail "missing.log: mpirun was started"
grep -q "exit 2: the command line or a path is wrong (see above): not requeued" missing.log ||
    fail "missing.log: no 'not requeued' for exit 2"
echo "slurm: restart policy: a failing job stopped after 2 failed attempts, a missing path after none"

if [ -s scontrol.err ]; then
    echo "slurm: scontrol failed $(wc -l < scontrol.err) time(s) on the way (retried):"
    sort scontrol.err | uniq -c
fi
echo "slurm: all checks passed"
