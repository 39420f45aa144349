#!/bin/bash
# jobs/yieldtune.sbatch on a real Slurm (22.05): preempted, requeued, resumed,
# bitwise equal to the uninterrupted run.
#
# Starts its own munged, slurmctld and slurmd on localhost (state, spool, logs,
# key and socket in a private temp folder, random ports) with a preemptible
# `low` partition (PreemptMode=REQUEUE, a short GraceTime) and a `high`
# partition that preempts it, the user signal sent at preemption
# (preempt_send_user_signal), and fast rescheduling of requeued jobs
# (cred_expire=5, sched_interval=2).  Then:
#   1. the reference: `mpirun -np 2 yieldtune train ...` without Slurm;
#   2. `sbatch -p low -n 2 jobs/yieldtune.sbatch train ...` (same options);
#   3. once it has made progress, a `high` job that needs the whole node:
#      Slurm preempts the low job; the script forwards its SIGUSR1 to mpirun,
#      the ranks yield (exit 75) and the script requeues the job (within the
#      GraceTime: Slurm's own preemption kill never comes);
#   4. after the high job, the requeued job resumes from the snapshot and
#      finishes: every step once, the adapter bitwise equal to the reference.
# The daemons, the jobs and anything they left behind are stopped on exit;
# on failure the job logs and the Slurm logs are printed.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
t_start=$(date +%s)
budget=180                              # the whole test, normally ~45 s
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
    for f in low.log high.log ref.log scontrol.err munged.out slurmctld.log slurmd.log slurmctld.out slurmd.out; do
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

# ---- model, data, the reference run
"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
steps=128
args=(--model model --data data.h5 --max-steps $steps --seq-len 512 --micro-batch 4 --lr 3e-3
      --lora-rank 8 --lora-alpha 16 --lora-dropout 0.1 --seed 7 --threads 1 --log-every 20
      --snapshot-every 50)
t0=$(date +%s)
timeout 90 "$MPIRUN" -np 2 --oversubscribe --bind-to none "$YT_BIN" train "${args[@]}" --out ref \
    > ref.log 2>&1 || fail "the reference run failed or took over 90 s (ref.log)"
echo "slurm: reference run (mpirun -np 2, no Slurm): $(($(date +%s) - t0)) s"

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
      "$YT_SRCDIR/jobs/yieldtune.sbatch" train "${args[@]}" --out run)
low=${low%%;*}
echo "slurm: submitted job $low (low, 2 tasks)"
progressed() { low_alive && [ "$(steps_done)" -ge 15 ]; }
wait_for 30 "job $low: 15 training steps" progressed
[ "$(steps_done)" -lt $steps ] || fail "job $low finished before the preemption: make the run longer"
echo "slurm: job $low at step $(steps_done) after $(($(date +%s) - t0)) s: submitting a high job"

high=$(sbatch --parsable -p high -n 2 -J yt-high -o "$work/high.log" \
       --wrap 'echo "high: started on $SLURM_JOB_NODELIST"; sleep 2; echo "high: done"')
high=${high%%;*}
yielded() { low_alive && grep -q '"event":"yield"' run/events.jsonl 2> /dev/null; }
wait_for 20 "job $low: a yield after the preemption by job $high" yielded
echo "slurm: job $low yielded at step $(grep '"event":"yield"' run/events.jsonl | tail -1 |
    sed 's/.*"step":\([0-9]*\).*/\1/') ($(($(date +%s) - t0)) s)"
requeued() {
    [ "$(job_field "$low" Restarts)" -ge 1 ] 2> /dev/null && return 0
    local st
    st=$(state_of "$low")
    [[ ! $st =~ $ended ]] ||
        fail "job $low was not requeued after the yield: JobState=$st ExitCode=$(job_field "$low" ExitCode)"
    return 1
}
wait_for 20 "job $low: requeued after the yield" requeued
done_ok() {  # done_ok JOB WHAT: true once JOB completed; fails if it ended otherwise
    local st
    st=$(state_of "$1")
    [ "$st" = COMPLETED ] && return 0
    [[ ! $st =~ $ended ]] || fail "$2 $1: JobState=$st ExitCode=$(job_field "$1" ExitCode)"
    return 1
}
high_done() { done_ok "$high" "the high job"; }
wait_for 30 "the high job $high: completed" high_done
echo "slurm: the high job $high completed ($(($(date +%s) - t0)) s)"
low_done() { done_ok "$low" "job"; }
wait_for 60 "job $low: completed after its restart" low_done
echo "slurm: job $low completed after $(job_field "$low" Restarts) restart(s) ($(($(date +%s) - t0)) s)"

# ---- what happened
[ "$(job_field "$low" ExitCode)" = 0:0 ] || fail "job $low: ExitCode=$(job_field "$low" ExitCode)"
grep -q "yielded at step" low.log || fail "low.log: yieldtune's yield message missing"
grep -q "yieldtune yielded (exit 75)" low.log || fail "low.log: the batch script saw no exit 75"
grep -q "requeueing" low.log || fail "low.log: the batch script did not requeue"
grep -q "(restart 1)" low.log || fail "low.log: no restart of the job"
grep -q "resumed from run/snapshots/step-" low.log || fail "low.log: no 'resumed from' after the restart"
grep -q "(restart 1): finished" low.log || fail "low.log: the restarted job did not finish"
grep -q '"event":"yield".*"signal":"USR1"' run/events.jsonl ||
    fail "the ranks yielded on another signal than the preemption's SIGUSR1: $(grep '"yield"' run/events.jsonl)"
grep -q '"event":"resume"' run/events.jsonl || fail "events.jsonl: no resume event"
! grep -q "DUE TO PREEMPTION" low.log ||
    fail "Slurm killed the job at the end of GraceTime: the yield and requeue were too late"
grep -q "high: done" high.log || fail "the high job did not run"
awk -v n=$steps '{ if (match($0, /"step":[0-9]+/) == 0 || substr($0, RSTART + 7, RLENGTH - 7) + 0 != NR) bad = 1 }
                 END { exit !(NR == n && !bad) }' run/metrics.jsonl ||
    fail "metrics.jsonl: steps are not 1..$steps once each"
cmp ref/adapter/adapter_model.safetensors run/adapter/adapter_model.safetensors ||
    fail "the preempted and requeued run's adapter differs from the uninterrupted run's"
echo "slurm: preempted at step $(grep '"event":"yield"' run/events.jsonl | sed 's/.*"step":\([0-9]*\).*/\1/'),"\
     "requeued, resumed: adapter bitwise equal to the uninterrupted run"
if [ -s scontrol.err ]; then
    echo "slurm: scontrol failed $(wc -l < scontrol.err) time(s) on the way (retried):"
    sort scontrol.err | uniq -c
fi
echo "slurm: all checks passed"
