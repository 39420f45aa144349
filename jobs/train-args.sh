# shellcheck shell=bash
# jobs/train-args.sh: what jobs/launch and jobs/yieldtune.sbatch read from a
# `yieldtune train` command line (sourced by both; bash).
#
#   yt_train_opt KEY ARGS...    prints the value of train option KEY (model,
#                               data, out, ...) as ARGS (the words after
#                               "train") give it: on the command line
#                               (--KEY V or --KEY=V), else in the --config
#                               file (KEY = V); status 1 when neither has it
#   yt_check_train_paths ARGS...  the --config file and the model, data,
#                               validation data (each of a comma-separated
#                               list) and initial adapter paths
#                               exist; else names the missing one on stderr
#                               (after "$yt_me: ") and returns 1
#
# yieldtune parses the same command line again and is the judge; these are
# read here only to check paths before mpirun starts, and for the Slurm
# script's bookkeeping in RUN.

yt__trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<< "$1"; }

# "max_steps" and "max-steps" name the same option.
yt__norm_key() { local k=${1//_/-}; echo "${k#--}"; }

# The value of KEY in a config file (key = value lines, '#' comments, optional
# double quotes), as runner/options.c reads it; the last line wins.
yt__config_value() {
    local key=$1 file=$2 line k v found=1 out=""
    [ -r "$file" ] || return 1
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%%#*}
        [[ $line == *=* ]] || continue
        k=${line%%=*}
        v=${line#*=}
        k=$(yt__norm_key "$(yt__trim "$k")")
        v=$(yt__trim "$v")
        [[ $v == \"*\" && ${#v} -ge 2 ]] && v=${v:1:${#v}-2}
        if [ "$k" = "$key" ]; then
            out=$v
            found=0
        fi
    done < "$file"
    [ $found = 0 ] && printf '%s\n' "$out"
    return $found
}

yt_train_opt() {
    local key a k v cfg="" found=1 out=""
    key=$(yt__norm_key "$1")
    shift
    while [ $# -gt 0 ]; do
        a=$1
        shift
        case $a in
            --) break ;;
            --*=*) k=$(yt__norm_key "${a%%=*}"); v=${a#*=} ;;
            --*) k=$(yt__norm_key "$a"); v=${1-} ;;
            *) continue ;;
        esac
        if [ "$k" = "$key" ]; then
            out=$v
            found=0
        elif [ "$k" = config ]; then
            cfg=$v
        fi
    done
    if [ $found = 0 ]; then
        printf '%s\n' "$out"
        return 0
    fi
    [ -n "$cfg" ] && yt__config_value "$key" "$cfg"
}

yt_check_train_paths() {
    local cfg key path what bad=0
    cfg=$(yt_train_opt config "$@") || cfg=""
    if [ -n "$cfg" ] && [ ! -r "$cfg" ]; then
        echo "${yt_me:-yieldtune}: --config $cfg: no such file (or not readable)" >&2
        return 1
    fi
    local paths
    for key in model data val-data init-adapter; do
        path=$(yt_train_opt "$key" "$@") || continue
        [ -n "$path" ] || continue
        paths=("$path")
        [ "$key" = val-data ] && IFS=, read -r -a paths <<< "$path"  # a comma-separated list
        for path in "${paths[@]}"; do
            [ -e "$path" ] && continue
            what="--$key $path"
            if [ -n "$cfg" ] && ! yt__opt_on_command_line "$key" "$@"; then
                what="$key = $path (in $cfg)"
            fi
            echo "${yt_me:-yieldtune}: $what: no such file or directory (in $(pwd))" >&2
            bad=1
        done
    done
    return $bad
}

# Whether KEY is on the command line itself (not only in the config file).
yt__opt_on_command_line() {
    local key=$1 a
    shift
    for a in "$@"; do
        [ "$a" = -- ] && break
        case $a in
            --*=*) [ "$(yt__norm_key "${a%%=*}")" = "$key" ] && return 0 ;;
            --*) [ "$(yt__norm_key "$a")" = "$key" ] && return 0 ;;
        esac
    done
    return 1
}
