"""Model cards: ``lab/zoo/<id>/README.md`` rendered from the recipe text + ``metrics.json``.

``python -m training.zoo.cards ID`` (the training recipes call :func:`write` at the end).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ZOO = Path(__file__).parent

DATA = """Training speech comes from `training/zoo/data.py` (recipe version 2, bit-reproducible per clip):
sentences of 2-8 words drawn from the 3,000 most frequent English words (PyPI `wordfreq`) that are
plain lower-case words of Debian `wamerican` (60% of the draws from the 1,000 most frequent); voices
are espeak-ng accents {en-us, en-gb, en-gb-scotland, en-gb-x-gbclan, en-gb-x-rp, en-029} x 29
variants at 130-190 wpm and pitch 15-85, plus flite kal16/awb/rms (12%); sox tempo 0.9-1.15 (30%), reverb
(25%), white/pink noise at 15-40 dB SNR (40%), random level and 0-0.4 s of silence at each end.
**Held out** (never in training): espeak accents en-us-nyc and en-gb-x-gbcwmd with variants m4, m6,
f3, f4, Annie, travis, belinda, david, their own sentence seeds; flite voice `slt` (out of domain)."""


def write(model_id: str, title: str, body: str, metrics: dict | None = None,
          out: Path | str | None = None, data: str = DATA) -> Path:
    d = Path(out) if out is not None else ZOO / model_id
    metrics = metrics if metrics is not None else json.loads((d / "metrics.json").read_text())
    keys = [k for k in metrics if k not in ("history", "examples", "eval", "lm")]
    rows = "\n".join(f"| {k} | {metrics[k]} |" for k in keys)
    hist = "\n".join(f"- {json.dumps(h)}" for h in metrics.get("history", []))
    ex = "\n".join(f"- `{e['ref']}` -> `{e['hyp']}` ({e.get('voice', '')})"
                   for e in metrics.get("examples", []))
    text = f"""# {model_id}

{title}

{body}

## Data
{data}

## Metrics (measured by the training run, `metrics.json`)
| key | value |
| --- | --- |
{rows}

Timings are wall-clock seconds on the lab's 2-core CPU box with `torch.set_num_threads(threads)`
(the `threads` row), often while other jobs shared the machine (so they are upper bounds).

### During training
{hist or '-'}
{lm_section(metrics.get("lm"))}
### Examples (held-out voices and sentences)
{ex or '-'}
"""
    (d / "README.md").write_text(text)
    return d / "README.md"


def lm_section(lm: dict | None) -> str:
    """The card's greedy vs beam vs beam + LM table (``metrics["lm"]`` from :mod:`training.zoo.lm_eval`)."""
    if not lm:
        return ""
    s = lm["settings"]
    return f"""
### Decoding with an external LM (`python -m training.zoo.lm_eval --write`)
The same log-probs on {lm['clips']} held-out clips, three decoders:

| decoder | held-out CER |
| --- | --- |
| greedy (argmax per frame; `heldout_cer` above is the same, measured by the recipe) | {lm['greedy']['cer']} |
| beam search (width {s['beam_width']}), no LM | {lm['beam']['cer']} |
| beam search + word {s['lm_order']}-gram (KenLM) on the {s['lm_sentences']} training texts, alpha {s['alpha']}, beta {s['beta']} | {lm['beam_lm']['cer']} |

The held-out sentences are new random draws from the training vocabulary ({s['lm_words']} words),
so the LM knows which words exist and how often they are drawn, not phrases.
"""


def rewrite(model_id: str) -> Path:
    """Re-render ``lab/zoo/<id>/README.md`` from the recipe's card text and its ``metrics.json``."""
    import importlib

    from .train import RECIPES

    mod = importlib.import_module(RECIPES[model_id])
    return write(model_id, mod.CARD_TITLE, mod.CARD_BODY, data=getattr(mod, "CARD_DATA", DATA))


def finish(model_id: str, loaded, outp: Path, metrics: dict, *, init: str, steps: int,
           t_start: float, t_train: float, history: list, title: str, body: str,
           data: str = DATA) -> dict:
    """The end of every classifier recipe: the summary (``metrics`` first, then size, steps and
    timings) written to ``metrics.json`` and the model card. Returns the summary."""
    import time

    import torch

    summary = {"id": model_id, **metrics, "init": init,
               "params": sum(p.numel() for p in loaded.parameters()),
               "model_bytes": (outp / "model.safetensors").stat().st_size, "steps": steps,
               "train_seconds": round(t_train), "total_seconds": round(time.time() - t_start),
               "threads": torch.get_num_threads(), "history": history}
    (outp / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")
    write(model_id, title, body, summary, outp, data=data)
    return summary


if __name__ == "__main__":
    print(rewrite(sys.argv[1]))
