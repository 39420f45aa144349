# Helpers of the preemption tests (sourced): where a run stands and who its
# ranks are.
steps_done() { # RUN: lines in RUN/metrics.jsonl (steps completed, across attempts)
    [ -f "$1/metrics.jsonl" ] && wc -l < "$1/metrics.jsonl" || echo 0
}

rank_pid() { # MPIRUN_PID: one rank of that mpirun (its child), waiting for it to start
    local p=""
    for _ in $(seq 50); do
        p=$(pgrep -P "$1" -f "yieldtune train" | head -1 || true)
        [ -n "$p" ] && break
        sleep 0.05
    done
    echo "$p"
}

wait_progress() { # PID RUN BEFORE: until RUN has more than BEFORE steps or PID is gone
    for _ in $(seq 1200); do
        [ "$(steps_done "$2")" -gt "$3" ] && return 0
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
}
