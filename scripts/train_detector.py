"""Train the 4-corner plate detector (YOLO11-pose, pico: scripts/plate-pose.yaml) on synthetic scenes, then ship it.

The shipped weights are three stages (model card): from scratch (about 42 minutes on the 2-core box), a
fine-tune on gate-condition scenes (about 40 minutes), then that averaged with its own 320 px fine-tune (35 minutes):
    plategen scenes --out data/det --n 8000 --seed 1 --car-scenes ../shared/car-scenes
    plategen scenes --out data/det_b --n 8000 --seed 2 --car-scenes ../shared/car-scenes
    python scripts/train_detector.py --data data/det/data.yaml data/det_b/data.yaml --epochs 8 --name det16
    python scripts/train_detector.py --data data/det_cond/data.yaml data/det_cond2/data.yaml \
        --init runs/detector/det16/weights/best.pt --epochs 6 --lr0 0.0006 --name det_ft --ship-to runs/det/ft
    plategen scenes --out data/det_cond5 --n 12000 --seed 25 --car-scenes ../shared/car-scenes
    python scripts/train_detector.py --data data/det_cond5/data.yaml --init runs/det/ft/detector.pt --epochs 5 \
        --imgsz 320 --lr0 0.0006 --name det320 --average-with runs/det/ft/detector.pt
Several --data sets train together; the first one's val split validates. `--init W` fine-tunes earlier weights
(passed to ultralytics as `pretrained`, a local file: nothing is downloaded; no warm-up); `--average-with W` ships
the mean of the trained weights and W's.
Resumes from runs/detector/<name>/weights/last.pt when it exists (ultralytics checkpoints every epoch).
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from lpr.config import DET_IMGSZ, DETECTOR_ONNX, DETECTOR_PT, ultralytics_offline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, nargs="+", default=[Path("data/det/data.yaml")])
    ap.add_argument("--model", default=str(Path(__file__).with_name("plate-pose.yaml")))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--imgsz", type=int, default=DET_IMGSZ)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--project", type=Path, default=Path("runs/detector"))
    ap.add_argument("--name", default="plate-pose")
    ap.add_argument("--ship", action="store_true", help="only copy best.pt to lpr/weights and export ONNX")
    ap.add_argument("--ship-to", type=Path, default=DETECTOR_PT.parent,
                    help="folder that receives detector.pt and detector.onnx (default: the package's weights)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from these weights (our own earlier stage) instead of the from-scratch yaml")
    ap.add_argument("--lr0", type=float, default=0.002)
    ap.add_argument("--average-with", type=Path, default=None,
                    help="ship the 50/50 weight average of the trained weights and these (the weights --init gave)")
    ap.add_argument("--hours", type=float, default=None,
                    help="train for this long instead of --epochs (ultralytics fits the lr schedule to the time)")
    args = ap.parse_args()

    os.environ["YOLO_VERBOSE"] = "true"  # progress output while training
    ultralytics_offline()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    import ultralytics.utils.torch_utils as tu
    from ultralytics import YOLO

    tu.NUM_THREADS = args.threads  # ultralytics would pin CPU training to cpu_count-1 = 1 thread here

    def use_all_threads(_trainer) -> None:
        torch.set_num_threads(args.threads)

    run = args.project.resolve() / args.name
    last = run / "weights" / "last.pt"
    if not args.ship:
        if last.exists():
            print(f"resuming from {last}", flush=True)
            model = YOLO(str(last))
            model.add_callback("on_train_start", use_all_threads)
            model.train(resume=True, workers=args.workers)
        else:
            model = YOLO(str(args.init) if args.init else args.model)
            model.add_callback("on_train_start", use_all_threads)
            model.train(
                data=str(combined_data(args.data, run)), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                device=args.device, workers=args.workers, seed=args.seed, deterministic=False,
                project=str(args.project.resolve()), name=args.name, exist_ok=True,
                # pretrained=False would make ultralytics drop the --init weights and start from scratch (it
                # did for every earlier second stage); a local path loads them, nothing is downloaded
                pretrained=str(args.init) if args.init else False, amp=False, plots=False, val=False, patience=100,
                fliplr=0.5, flipud=0.0, degrees=5.0, perspective=0.0005, scale=0.5, translate=0.1,
                mosaic=1.0, close_mosaic=max(1, args.epochs // 3), hsv_h=0.01, hsv_s=0.5, hsv_v=0.4, cos_lr=True,
                # a second stage from trained weights skips warm-up: its bias lr starts at 0.1 and knocks
                # the head's trained biases about (the earlier second stages lost corners and recall)
                warmup_epochs=0.0 if args.init else 0.5, pose=16.0, cache="ram", optimizer="AdamW", lr0=args.lr0,
                **({"time": args.hours} if args.hours else {}),
            )
    best = run / "weights" / "best.pt"
    src = best if best.exists() else last
    pt, onnx_path = args.ship_to / DETECTOR_PT.name, args.ship_to / DETECTOR_ONNX.name
    pt.parent.mkdir(parents=True, exist_ok=True)
    if args.average_with:
        average_checkpoints(args.average_with, src, pt)
    else:
        shutil.copyfile(src, pt)
    model = YOLO(str(pt))
    onnx = model.export(format="onnx", imgsz=args.imgsz, dynamic=True, simplify=False, opset=17)  # any aspect
    shutil.move(onnx, onnx_path)
    print(f"shipped {pt} ({pt.stat().st_size/1e6:.1f} MB) and {onnx_path}")


def average_checkpoints(a: Path, b: Path, out: Path) -> None:
    """Save ultralytics checkpoint `a` with every float tensor (BN running statistics too) the mean of a's and b's.

    A fine-tune and the weights it started from, averaged, kept what each read best: the 320 px fine-tune of
    2026-11-27 alone lost 2 of 1,600 held-out synthetic reads and 1 point of recall at 384; the average gained 6
    synthetic and 6 real reads (model card). Both must be the same architecture, as a fine-tune and its start are.
    A checkpoint saved mid-run holds its weights under "ema" (ultralytics loads that first): either is read, and
    the average is written as "model" alone so that nothing else can be loaded in its place.
    """
    import torch

    from lpr.crnn import mean_state

    if a.resolve() == out.resolve():
        raise SystemExit(f"error: --average-with {a}: the file being written; expected a copy of the --init weights")
    ca, cb = (torch.load(p, map_location="cpu", weights_only=False) for p in (a, b))
    ma, mb = (ck["ema"] if ck.get("ema") is not None else ck["model"] for ck in (ca, cb))
    sa, sb = ma.state_dict(), mb.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise SystemExit(f"error: --average-with {a}: not the architecture of {b}; expected the weights --init gave")
    ma.load_state_dict(mean_state([sa, sb]))
    ca.update(model=ma, ema=None, averaged_from=[os.path.relpath(p) for p in (a, b)])
    torch.save(ca, out)


def combined_data(yamls: list[Path], run: Path) -> Path:
    """One data.yaml for ultralytics: the train splits of all sets, the val split of the first."""
    import yaml

    if len(yamls) == 1:
        return yamls[0].resolve()
    sets = [yaml.safe_load(y.read_text()) for y in yamls]
    roots = [Path(d.get("path") or y.parent).resolve() for d, y in zip(sets, yamls)]
    out = {k: v for k, v in sets[0].items() if k != "path"}
    out["train"] = [str(root / d["train"]) for d, root in zip(sets, roots)]
    out["val"] = str(roots[0] / sets[0]["val"])
    run.mkdir(parents=True, exist_ok=True)
    path = run / "data.yaml"
    path.write_text(yaml.safe_dump(out, sort_keys=False))
    return path


if __name__ == "__main__":
    main()
