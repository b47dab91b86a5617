"""The OCR network (torch): a small CRNN with CTC, for training and for exporting to ONNX.

Conv features collapse the height to one row of 32 columns, a 1-D conv head widens each column's
view to its neighbours (an LSTM read the same but cost twice the CPU time at batch 1) and CTC needs
no per-digit boxes. The gate runs the exported ONNX file (`lpr.ocr`), so this module, and torch,
are needed only to train, to export and to check the two agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lpr.config import ALPHABET
from lpr.rectify import RECT_SIZE


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    def __init__(self, n_classes: int = len(ALPHABET) + 1, height: int = RECT_SIZE[1], width: int = 16,
                 hidden: int = 128):
        super().__init__()
        c1, c2, c3, c4 = width, 2 * width, 4 * width, 6 * width
        self.features = nn.Sequential(
            *_block(1, c1), nn.MaxPool2d(2),  # (B, c1, H/2, W/2)
            *_block(c1, c2), nn.MaxPool2d(2),  # (B, c2, H/4, W/4)
            *_block(c2, c3), nn.MaxPool2d((2, 1)),  # (B, c3, H/8, W/4)
            *_block(c3, c4),
            nn.Conv2d(c4, c4, (height // 8, 1), bias=False), nn.BatchNorm2d(c4), nn.ReLU(inplace=True),  # H -> 1
        )
        self.head = nn.Sequential(
            nn.Conv1d(c4, hidden, 5, padding=2, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Conv1d(hidden, n_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).squeeze(2)  # (B, C, T=W/4)
        return self.head(f).transpose(1, 2)  # (B, T, n_classes) logits


def preprocess(crops: list[np.ndarray]) -> torch.Tensor:
    """The runtime's preprocessing (`lpr.ocr.preprocess`) as a tensor, so training sees the same input."""
    from lpr.ocr import preprocess as to_array

    return torch.from_numpy(to_array(crops))


def load(weights: str | Path) -> tuple[CRNN, str]:
    """A shipped checkpoint (state dict, arch, alphabet) as an eval-mode model and its alphabet."""
    ckpt = torch.load(str(weights), map_location="cpu", weights_only=True)
    alphabet = ckpt.get("alphabet", ALPHABET)
    model = CRNN(**{"n_classes": len(alphabet) + 1, **ckpt.get("arch", {})})
    model.load_state_dict(ckpt["model"])
    return model.eval(), alphabet


def export_onnx(weights: str | Path, out: str | Path) -> Path:
    """The checkpoint as ONNX (batch axis dynamic, softmax included, alphabet in the metadata)."""
    import onnx

    model, alphabet = load(weights)
    probs_model = nn.Sequential(model, nn.Softmax(-1)).eval()
    w, h = RECT_SIZE
    out = Path(out)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(probs_model, torch.zeros(1, 1, h, w), str(tmp), input_names=["crops"], output_names=["probs"],
                      dynamic_axes={"crops": {0: "batch"}, "probs": {0: "batch"}}, opset_version=17, dynamo=False)
    proto = onnx.load(str(tmp))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "alphabet", alphabet
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of state dicts of one architecture: float tensors averaged in float32 and cast back (ultralytics
    stores half precision), integer ones (batch counts) kept from the first."""
    first = states[0]
    return {k: (sum(s[k].float() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
            for k, v in first.items()}


def average_checkpoints(weights: list[str | Path], out: str | Path) -> Path:
    """One checkpoint whose weights are the mean of several of the same architecture (a "model soup").

    Fine-tunes of one lineage sit in one basin, so their mean reads like an ensemble of them at the cost of
    one model. The shipped OCR and the one it was fine-tuned from, averaged, read 207 of the 238 real held-out
    photos where the shipped one read 202, but fewer cars right per pass on the test clips: not shipped
    (model card, "Weight average").
    """
    if len(weights) < 2:
        raise ValueError(f"weights {[str(w) for w in weights]}: expected two or more checkpoints to average")
    ckpts = [torch.load(str(w), map_location="cpu", weights_only=True) for w in weights]
    first = ckpts[0]
    for w, c in zip(weights[1:], ckpts[1:]):
        if c.get("arch") != first.get("arch") or c.get("alphabet") != first.get("alphabet"):
            raise ValueError(f"{w}: arch {c.get('arch')} / alphabet {c.get('alphabet')!r}, expected "
                             f"{first.get('arch')} / {first.get('alphabet')!r} as in {weights[0]}")
    state = mean_state([c["model"] for c in ckpts])
    meta = {**first.get("meta", {}), "averaged": [str(w) for w in weights]}
    out = Path(out)
    torch.save({**first, "model": state, "meta": meta}, str(out))
    return out
