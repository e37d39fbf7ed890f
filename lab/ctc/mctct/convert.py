"""Convert an M-CTC-T ``pytorch_model.bin`` to ``model.safetensors`` in place (the lab loads
safetensors only). The pickle is read with ``torch.load(weights_only=True)`` (tensors only, no
code); parameter names are kept unchanged.

    python -m lab.ctc.mctct.convert DIR
"""
from __future__ import annotations

import sys
from pathlib import Path


def convert(directory: str | Path) -> Path:
    import torch
    from safetensors.torch import save_file

    d = Path(directory)
    src = d / "pytorch_model.bin"
    if not src.is_file():
        raise FileNotFoundError(f"{src} not found")
    state = torch.load(src, map_location="cpu", weights_only=True)
    out = d / "model.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, out, metadata={"format": "pt"})
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(convert(sys.argv[1]))
