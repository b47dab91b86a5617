#!/usr/bin/env bash
# Gate-condition training on the 2-core box (no GPU): generate data with the current generator (45 % of
# scenes and crops through a gate condition: dusk, IR, motion, codec, rain), then fine-tune the shipped
# detector and OCR side by side, one thread each, checkpointing every epoch. Re-run to resume.
#   bash scripts/train_conditions_cpu.sh        (logs in runs/cond/*.log; ships nothing by itself)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}; BIN=$(dirname "$PY")
SCENES=${SCENES:-10000}; CROPS=${CROPS:-80000}; DET_EPOCHS=${DET_EPOCHS:-3}; OCR_EPOCHS=${OCR_EPOCHS:-3}
mkdir -p runs/cond
[ -f data/det_cond/data.yaml ] || "$BIN/plategen" scenes --out data/det_cond --n "$SCENES" --seed 21 \
    --car-scenes ../shared/car-scenes --workers 2
[ -f data/ocr_cond/labels.csv ] || "$BIN/plategen" ocr --out data/ocr_cond --n "$CROPS" --seed 11 --workers 2
[ -f data/ocr_cond_val/labels.csv ] || "$BIN/plategen" ocr --out data/ocr_cond_val --n 3000 --seed 12 --workers 2
"$PY" scripts/train_detector.py --data data/det_cond/data.yaml --init lpr/weights/detector.pt --epochs "$DET_EPOCHS" \
    --lr0 0.001 --threads 1 --workers 1 --name det_cond --ship-to runs/cond/det > runs/cond/det.log 2>&1 &
"$PY" scripts/train_ocr.py --data data/ocr_cond --val data/ocr_cond_val --init lpr/weights/ocr.pt --separators \
    --width 24 --epochs "$OCR_EPOCHS" --lr 5e-4 --batch 128 --threads 1 --real-train ../shared/real-plates \
    --real ../shared/real-plates --out runs/cond/ocr --ship runs/cond/ocr.pt > runs/cond/ocr.log 2>&1 &
wait
