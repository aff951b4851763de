#!/usr/bin/env bash
# Table 1 at the authors' settings (issue 37), as a campaign that survives any number of stops.
#
#   bash results/shapes-table1-paper/campaign.sh start   [ROW]   start the run, or resume it; returns at once
#   bash results/shapes-table1-paper/campaign.sh status  [ROW]   running or not, epochs and steps, expected finish
#   bash results/shapes-table1-paper/campaign.sh stop    [ROW]   SIGTERM (the run checkpoints), wait, then collect
#   bash results/shapes-table1-paper/campaign.sh collect [ROW]   copy log, manifest, config, output and curves here
#   bash results/shapes-table1-paper/campaign.sh evaluate EPOCH [ROW]   Table 1 on the test split from the
#                                                                  parameters kept after EPOCH (10, 20, ..., 100)
#   bash results/shapes-table1-paper/campaign.sh figures [ROW]   table1.md and table1.png from every evaluated
#                                                                  epoch; Figure 4 once epoch 100 is kept
#
# ROW: bn (preset `shapes`, Tagger, the default) or ln (preset `shapes-layernorm`, Tagger*); bn-seedS and
# ln-seedS are the same with seed S instead of the presets' 10 (to tell a bad seed from a bad recipe). All train
# float32, 100 epochs of 500 steps, validation on 1,000 images with the AMI on 200 every epoch, the
# parameters kept every 10 epochs, two BLAS threads.
#
# Everything large lives in the campaign folder, outside the repository: $TAGGER_CAMPAIGN, by default
# ~/tagger-campaign. It holds
#   src/        a clone of this repository at the commit that started the latest segment (so that editing
#               the working tree never changes a running process, and each manifest segment names a commit)
#   venv/       a virtual environment with src/ installed (editable, so the manifest finds the commit)
#   shapes.npz  the Shapes dataset (tagger-ref data shapes, the authors' split and seed)
#   shapes-ROW/ the run folder: checkpoint.npz, log.csv, manifest.json, epochs/
#   shapes-ROW.out  the run's output, every segment's command line with its time before it (beside the run
#               folder, which `tagger-ref train` must find empty on a first start; row bn, started before
#               this, keeps its output in shapes-bn/train.out)
# `start` is idempotent: a running row is left alone; a stopped one resumes from its checkpoint.
# If the run folder is lost while this folder holds its committed log, `start` refuses: a new run must
# not be spliced onto the old one's log (move ROW/ aside in the repository, say so, then start again).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel)"
WORK="${TAGGER_CAMPAIGN:-$HOME/tagger-campaign}"
EPOCHS=100
KEEP_EVERY=10

usage() { sed -n '3,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

row_preset() {
    case "$1" in
        bn | ln) ;;
        bn-seed* | ln-seed*) row_seed "$1" > /dev/null ;;
        *) echo "campaign.sh: unknown row '$1' (bn: Tagger, preset shapes; ln: Tagger*, preset shapes-layernorm;" \
                "bn-seedS, ln-seedS: the same with seed S)" >&2
           exit 2 ;;
    esac
    case "$1" in
        bn*) echo shapes ;;
        ln*) echo shapes-layernorm ;;
    esac
}

row_seed() {  # the seed of a row: S for bn-seedS and ln-seedS, none (the preset's 10) for bn and ln
    case "$1" in
        *-seed*) local s="${1##*-seed}"
                 [[ "$s" =~ ^[0-9]+$ ]] || { echo "campaign.sh: row '$1': the seed must be digits" >&2; exit 2; }
                 echo "$s" ;;
    esac
}

run_dir() { echo "$WORK/shapes-$1"; }
pid_file() { echo "$WORK/shapes-$1.pid"; }
train_out() {  # the run's output file; collected as ROW/train.out
    if [ -f "$(run_dir "$1")/train.out" ]; then echo "$(run_dir "$1")/train.out"; else echo "$WORK/shapes-$1.out"; fi
}

running_pid() {  # the training process of ROW, if it is alive
    local f; f="$(pid_file "$1")"
    [ -f "$f" ] || return 1
    local pid; pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "tagger-ref train"; then
        echo "$pid"
    else
        return 1
    fi
}

prepare_software() {  # src/ at the repository's HEAD, installed into venv/
    local head; head="$(git -C "$REPO" rev-parse HEAD)"
    if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no -- tagger_ref data_gen setup.cfg pyproject.toml)" ]; then
        echo "campaign.sh: note: the working tree has uncommitted changes to the package; the run uses HEAD ${head:0:12}"
    fi
    mkdir -p "$WORK"
    if [ ! -d "$WORK/src/.git" ]; then
        git clone --quiet "$REPO" "$WORK/src"
    fi
    git -C "$WORK/src" fetch --quiet "$REPO" "$head"
    git -C "$WORK/src" checkout --quiet --detach "$head"
    if [ ! -x "$WORK/venv/bin/tagger-ref" ]; then
        python3 -m venv "$WORK/venv"
    fi
    "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check -e "$WORK/src" > "$WORK/pip.out" 2>&1 \
        || { echo "campaign.sh: pip install failed, see $WORK/pip.out" >&2; exit 1; }
    echo "campaign.sh: software at commit ${head:0:12} ($WORK/src)"
}

prepare_data() {
    if [ ! -f "$WORK/shapes.npz" ]; then
        echo "campaign.sh: generating $WORK/shapes.npz (the authors' split, about 550 MB)"
        (cd "$WORK" && venv/bin/tagger-ref data shapes --out shapes.npz)
    fi
}

cmd_start() {
    local row="$1" preset; preset="$(row_preset "$row")"
    local dir; dir="$(run_dir "$row")"
    local pid
    if pid="$(running_pid "$row")"; then
        echo "campaign.sh: row $row is already running (pid $pid) in $dir"
        return 0
    fi
    if [ ! -f "$dir/checkpoint.npz" ] && [ -f "$HERE/$row/log.csv" ]; then
        echo "campaign.sh: row $row: the run folder $dir is lost (no checkpoint) but $HERE/$row/log.csv holds a" >&2
        echo "  committed log; a new run must not be spliced onto it. Move $HERE/$row aside (say so in the README)," >&2
        echo "  then run start again." >&2
        exit 1
    fi
    prepare_software
    prepare_data
    local args=(--data shapes.npz --out "shapes-$row" --epochs "$EPOCHS" --valid-images 1000
                --valid-ami-images 200 --keep-every "$KEEP_EVERY" --threads 2 --no-progress)
    if [ -f "$dir/checkpoint.npz" ]; then
        echo "campaign.sh: resuming row $row from $dir/checkpoint.npz"
        args=(--resume "${args[@]}")
    else
        local seed; seed="$(row_seed "$row")"
        echo "campaign.sh: starting row $row (preset $preset${seed:+, seed $seed}, float32) in $dir"
        args=(--config "$preset" --dtype float32 ${seed:+--seed "$seed"} "${args[@]}")
    fi
    local out; out="$(train_out "$row")"
    cd "$WORK"
    echo "# $(date -u +%FT%TZ) campaign.sh start: tagger-ref train ${args[*]}" >> "$out"
    nohup setsid venv/bin/tagger-ref train "${args[@]}" >> "$out" 2>&1 < /dev/null &
    echo $! > "$(pid_file "$row")"
    sleep 5
    if pid="$(running_pid "$row")"; then
        # With Linux's autogroup scheduling, `nice` on other work counts only within that work's own
        # session; raising the run's session group is what keeps the run ahead of it.
        if [ -w "/proc/$pid/autogroup" ] && echo -10 > "/proc/$pid/autogroup" 2>/dev/null; then
            echo "campaign.sh: the run's scheduling group set to nice -10 ahead of other sessions' work"
        fi
        echo "campaign.sh: row $row running, pid $pid; output in $out"
    else
        echo "campaign.sh: row $row did not start; the end of $out:" >&2
        tail -5 "$out" >&2
        exit 1
    fi
}

cmd_status() {
    local row="$1"; row_preset "$row" > /dev/null
    local dir; dir="$(run_dir "$row")"
    local pid state="stopped"
    if pid="$(running_pid "$row")"; then state="running (pid $pid)"; fi
    echo "row $row: $state, run folder $dir"
    [ -f "$dir/log.csv" ] || { echo "  no epoch finished yet"; return 0; }
    python3 "$HERE/progress.py" "$dir/log.csv" --epochs "$EPOCHS"
}

cmd_stop() {
    local row="$1"; row_preset "$row" > /dev/null
    local pid
    if pid="$(running_pid "$row")"; then
        echo "campaign.sh: SIGTERM to row $row (pid $pid); it checkpoints and exits"
        kill -TERM "$pid"
        local waited=0
        while kill -0 "$pid" 2>/dev/null; do
            sleep 2; waited=$((waited + 2))
            if [ $((waited % 60)) -eq 0 ]; then echo "campaign.sh: still finishing its step ($waited s)"; fi
        done
        echo "campaign.sh: row $row stopped; the end of its output:"
        tail -3 "$(train_out "$row")"
    else
        echo "campaign.sh: row $row is not running"
    fi
    cmd_collect "$row"
}

cmd_collect() {
    local row="$1"; row_preset "$row" > /dev/null
    local dir; dir="$(run_dir "$row")"
    [ -d "$dir" ] || { echo "campaign.sh: no run folder $dir" >&2; exit 1; }
    mkdir -p "$HERE/$row"
    local f
    for f in log.csv manifest.json config.json; do
        if [ -f "$dir/$f" ]; then cp "$dir/$f" "$HERE/$row/$f"; fi
    done
    if [ -f "$(train_out "$row")" ]; then cp "$(train_out "$row")" "$HERE/$row/train.out"; fi
    if [ -f "$dir/log.csv" ]; then
        (cd "$WORK" && venv/bin/tagger-ref figure curves "shapes-$row" --out "$HERE/$row") > /dev/null
        # beside the CPU recipes' runs of the same model (results/shapes-table1b, results/shapes-batchnorm-long)
        local recipes=("$REPO/results/shapes-table1b/${row%%-*}-1000")
        if [ "$row" = bn ]; then recipes+=("$REPO/results/shapes-batchnorm-long"); fi
        # a seed row beside its seed-10 row, when that one's folder is here
        if [ "$row" != "${row%%-*}" ] && [ -d "$WORK/shapes-${row%%-*}" ]; then recipes=("shapes-${row%%-*}" "${recipes[@]}"); fi
        local tmp; tmp="$(mktemp -d)"
        (cd "$WORK" && venv/bin/tagger-ref figure curves "shapes-$row" "${recipes[@]}" --out "$tmp") > /dev/null
        mv "$tmp/curves.png" "$HERE/$row/curves-vs-cpu-recipes.png"; rmdir "$tmp"
        python3 "$HERE/progress.py" "$dir/log.csv" --epochs "$EPOCHS" --markdown > "$HERE/$row/progress.md"
    fi
    if [ -f "$HERE/README.md" ]; then python3 "$REPO/results/render_times.py" "$HERE" --write > /dev/null; fi
    echo "campaign.sh: collected row $row into $HERE/$row"
}

cmd_evaluate() {  # Table 1 on the 10,000 test images, T = 1..5, K = 4, from the parameters kept after EPOCH
    local epoch="$1" row="$2"; row_preset "$row" > /dev/null
    local dir; dir="$(run_dir "$row")"
    [[ "$epoch" =~ ^[0-9]+$ ]] || { echo "campaign.sh: evaluate: the epoch must be digits, got '$epoch'" >&2; exit 2; }
    if [ ! -f "$dir/epochs/params-epoch-$(printf %04d "$((10#$epoch))").npz" ]; then  # before any file is written here
        echo "campaign.sh: row $row keeps no parameters of epoch $epoch in $dir/epochs (kept: every $KEEP_EVERY epochs)" >&2
        exit 1
    fi
    mkdir -p "$HERE/$row"
    (cd "$WORK" && nice -n 10 venv/bin/tagger-ref evaluate "shapes-$row" --data shapes.npz --epoch "$epoch") \
        2>&1 | tee "$HERE/$row/evaluate-epoch-$epoch.out"
    cp "$dir/table1-epoch-$epoch.csv" "$dir/table1-epoch-$epoch.csv.provenance.json" "$HERE/$row/"
    cp "$dir/manifest.json" "$HERE/$row/manifest.json"
}

cmd_figures() {  # Table 1 beside the paper from every evaluated epoch; Figure 4 from the last epoch's parameters
    local row="$1"; row_preset "$row" > /dev/null
    local dir; dir="$(run_dir "$row")"
    local epochs=() f e
    for f in "$dir"/table1-epoch-*.csv; do
        [ -f "$f" ] || continue
        e="${f##*table1-epoch-}"; epochs+=("${e%.csv}")
    done
    [ ${#epochs[@]} -gt 0 ] || { echo "campaign.sh: no evaluated epoch in $dir: run evaluate EPOCH first" >&2; exit 1; }
    local args=() sorted
    sorted="$(printf '%s\n' "${epochs[@]}" | sort -n)"
    for e in $sorted; do args+=(--epoch "$e"); done
    mkdir -p "$HERE/$row"
    (cd "$WORK" && venv/bin/tagger-ref figure table1 "shapes-$row" "${args[@]}" --out "$HERE/$row")
    if [ -f "$dir/epochs/params-epoch-$(printf %04d "$EPOCHS").npz" ]; then
        (cd "$WORK" && nice -n 10 venv/bin/tagger-ref figure figure4 "shapes-$row" --data shapes.npz \
            --epoch "$EPOCHS" --out "$HERE/$row")
    else
        echo "campaign.sh: Figure 4 waits for the parameters of epoch $EPOCHS"
    fi
}

[ $# -ge 1 ] || usage
command="$1"; shift
case "$command" in
    start | status | stop | collect | figures) cmd_"$command" "${1:-bn}" ;;
    evaluate) [ $# -ge 1 ] || usage; cmd_evaluate "$1" "${2:-bn}" ;;
    *) usage ;;
esac
