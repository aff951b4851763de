#!/usr/bin/env bash
# results/shapes-sweep: 6 seeds of the shapes-quick preset (Tagger*, Ladder 500-250-125, float32),
# 4 epochs each on the 50,000 training images, evaluated on the 10,000 test images (T = 1..5, K = 4),
# two seeds at a time with one BLAS thread each, on two CPU cores in about 30 minutes.
#
#   bash results/shapes-sweep/run.sh          # data, sweep, figure, then copies the results here
#   bash results/shapes-sweep/run.sh probe    # 2 minutes: two seeds side by side, projects the sweep's time
#
# Run from anywhere; paths are relative to the repository root. If the --max-minutes guard stops the
# sweep, run the script again: finished seeds are skipped, the others resume from their checkpoints
# (report both sessions' times). Large files (checkpoints, the data) stay in runs/.
set -euo pipefail
cd "$(dirname "$0")/../.."

# (each setting may be overridden from the environment, e.g. for a smoke test at a tiny size)
CONFIG="${CONFIG:-shapes-quick}"
EPOCHS="${EPOCHS:-4}"                # 2,000 steps of B = 100 per seed
SEEDS="${SEEDS:-0-5}"                # 6 seeds: three rounds of two on two cores, no core idle in the last round
WORKERS="${WORKERS:-2}"
GUARD_MINUTES="${GUARD_MINUTES:-29}" # the sweep stops (checkpointed) if it would run past this
DATA="${DATA:-runs/shapes.npz}"
SWEEP="${SWEEP:-runs/shapes-sweep}"
OUT="${OUT:-results/shapes-sweep}"
TAGGER="${TAGGER:-tagger-ref}"          # or TAGGER=.venv/bin/tagger-ref PYTHON=.venv/bin/python bash ...
mkdir -p runs "$OUT"

if [ ! -f "$DATA" ]; then
    $TAGGER data shapes --out "$DATA"                       # the authors' Shapes: 50k train, 10k valid, 10k test
fi

if [ "${1:-}" = probe ]; then
    # Two seeds side by side for 1.5 minutes of training each, as the sweep runs them; then the
    # seconds per step and the sweep's projected time (3 rounds of training plus ~95 s of evaluation).
    rm -rf runs/probe-0 runs/probe-1
    for s in 0 1; do
        $TAGGER train --config "$CONFIG" --data "$DATA" --out "runs/probe-$s" --seed "$s" --threads 1 \
            --max-minutes 1.5 --valid-images 1000 --no-progress > "runs/probe-$s.log" 2>&1 &
    done
    wait
    ${PYTHON:-python3} - "$EPOCHS" <<'PY'
import sys, numpy
epochs = int(sys.argv[1])
rates = []
for s in (0, 1):
    with numpy.load(f"runs/probe-{s}/checkpoint.npz") as c:
        rates.append(float(c["seconds"]) / int(c["step"]))
        print(f"probe seed {s}: {int(c['step'])} steps in {float(c['seconds']):.0f} s: {rates[-1]:.3f} s a step")
per_seed = epochs * 500 * max(rates) + 95           # 500 steps an epoch; ~95 s to evaluate 10,000 test images
print(f"projected: {per_seed:.0f} s a seed ({epochs} epochs + evaluation), {3 * per_seed / 60:.1f} minutes for 6 seeds")
PY
    exit 0
fi

log="$OUT/times.txt"
{
    echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- tagger_ref || echo ' (tagger_ref modified)')"
    echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$log"
start=$(date +%s)
$TAGGER sweep --config "$CONFIG" --epochs "$EPOCHS" --data "$DATA" --seeds "$SEEDS" --out "$SWEEP" \
    --workers "$WORKERS" --valid-images 1000 --max-minutes "$GUARD_MINUTES" | tee "$OUT/sweep.log"
swept=$(date +%s)
$TAGGER figure sweep "$SWEEP" --out "$OUT"
end=$(date +%s)
{
    echo "sweep: $((swept - start)) s wall; figure: $((end - swept)) s"
    echo "ended $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >> "$log"

cp "$SWEEP/summary.csv" "$SWEEP/seeds.csv" "$OUT/"
for d in "$SWEEP"/seed-*; do
    mkdir -p "$OUT/$(basename "$d")"
    cp "$d"/table1.csv "$d"/log.csv "$d"/config.json "$d"/evaluate.txt "$OUT/$(basename "$d")/" 2>/dev/null || true
done
cat "$log"

# The README's table: per iteration, median [min, max] over the seeds (and the sample std of the AMI).
${PYTHON:-python3} - "$OUT/summary.csv" <<'PY'
import csv, sys
rows = {(r["row"], r["column"]): r for r in csv.DictReader(open(sys.argv[1])) if r["table"] == "table1"}
print("| iteration | denoising cost, median [min, max] | AMI (mean over images), median [min, max] "
      "| AMI std over seeds |")
print("|---|---|---|---|")
for it in sorted({k[0] for k in rows}, key=int):
    c, a = rows[it, "denoising_cost"], rows[it, "ami"]
    print(f"| {it} | {float(c['median']):.4f} [{float(c['min']):.4f}, {float(c['max']):.4f}] | "
          f"{float(a['median']):.3f} [{float(a['min']):.3f}, {float(a['max']):.3f}] | {float(a['std']):.3f} |")
PY
