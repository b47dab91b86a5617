#!/usr/bin/env bash
# Train OCR candidates on a lent GPU machine (16 cores, one GPU, the project's packages present): generate the
# crops with every core, then train CRNN widths side by side on the GPU, shipping each epoch to $OUT.
#   OUT=runs/ocr_gpu bash scripts/train_ocr_gpu.sh    (defaults = the first shipped ocr.pt: 250k crops, 14 epochs,
#                                                      width 24, separators; ~5 min on one H200 with 16 cores)
# Candidates side by side: WIDTHS="16 24" EXTRA= N=300000 EPOCHS=16 (digits only).
# Wider students of the shipped OCR (2026-11-27, thirteenth session; see the model card):
#   here:  python scripts/pack_ocr_set.py data/ocr_reader2 .gpu/ocr_reader2.zip   (.gpu/ git-ignored, carried)
#   there: python3 -m zipfile -e .gpu/ocr_reader2.zip /tmp/ && WIDTHS="24 32 48" N=300000 SEED=71 NEGATIVES=0.08 \
#          EPOCHS=8 WORKERS=4 MAX_MINUTES=5.5 MORE=/tmp/ocr_reader2 DISTILL=lpr/weights/ocr.pt bash scripts/train_ocr_gpu.sh
# Named students on one generated set (2026-11-28): JOBS holds "name:train_ocr.py args" entries, one per line, e.g.
#   JOBS=$'w48c:--width 48 --init .gpu/ocr_w48.pt --lr 5e-4 --epochs 8\nw48s:--width 48 --epochs 10 --seed 2'
# each writing $OUT/ocr_<name>.pt (EPOCHS unless the entry gives --epochs; train_ocr.py's --width unless it gives
# --width); without JOBS, one student per width of WIDTHS.
# MORE: generated sets trained on as well; DISTILL: teacher weights (any width) that the students are also pulled
# towards on crops with a plate; MAX_MINUTES: each run stops after the epoch that passes it (a guard, not a plan).
set -euo pipefail
export PYTHONPATH="$PWD:$PWD/datasets${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PY:-python3}; OUT=${OUT:-runs/ocr_gpu}; DATA=${DATA:-/tmp/plategen}
N=${N:-250000}; EPOCHS=${EPOCHS:-14}; WIDTHS=${WIDTHS:-24}; WORKERS=${WORKERS:-4}; EXTRA=${EXTRA---separators}
SEED=${SEED:-1}; NEGATIVES=${NEGATIVES:-0}; MORE=${MORE:-}; DISTILL=${DISTILL:-}; MAX_MINUTES=${MAX_MINUTES:-0}
JOBS=${JOBS:-}
mkdir -p "$OUT" "$DATA"
$PY -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cv2', cv2.__version__)"
t0=$(date +%s)
$PY -m plategen.cli ocr --out "$DATA/ocr" --n "$N" --seed "$SEED" --negatives "$NEGATIVES" --workers "$(nproc)" 2>/dev/null
$PY -m plategen.cli ocr --out "$DATA/ocr_val" --n 4000 --seed $((SEED + 1)) --negatives "$NEGATIVES" \
  --workers "$(nproc)" 2>/dev/null
echo "generated in $(( $(date +%s) - t0 )) s"
if [ -z "$JOBS" ]; then
  for w in $WIDTHS; do JOBS+="w$w:--width $w"$'\n'; done
fi
while IFS= read -r job; do
  [ -n "$job" ] || continue
  name=${job%%:*}; args=${job#*:}
  # shellcheck disable=SC2086  # MORE, EXTRA and args are lists of words; later flags win over the defaults
  $PY scripts/train_ocr.py --data "$DATA/ocr" $MORE --val "$DATA/ocr_val" --batch 256 --device auto \
    --workers "$WORKERS" --threads 2 --out "$DATA/run_$name" --ship "$OUT/ocr_$name.pt" --max-minutes "$MAX_MINUTES" \
    --epochs "$EPOCHS" ${DISTILL:+--distill "$DISTILL"} $EXTRA $args > "$OUT/train_$name.log" 2>&1 &
done <<< "$JOBS"
wait
grep -H "== epoch" "$OUT"/train_*.log | tail -n 12
echo "total $(( $(date +%s) - t0 )) s"
