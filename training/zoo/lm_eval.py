"""The zoo's CTC models with an external language model: greedy vs KenLM beam search, CER.

``python -m training.zoo.lm_eval [MODEL ...] [--clips N] [--write]`` scores ``whisper-tiny.en-ctc`` and
``tiny-wav2vec2-ctc-en`` (resolved offline, as the lab serves them) on the first ``N`` clips of the
held-out split (voices and sentences never used in training), three ways on the same log-probs:

- greedy: argmax per frame, merge repeats, drop blanks (what the cards' ``heldout_cer`` is);
- beam: the lab's beam search (:func:`lab.ctc.lm.beam_decode`, its default width) without an LM;
- beam + LM: the same search with a word bigram (KenLM ``lmplz``, modified Kneser-Ney) estimated
  on the recipe's own training texts (:func:`training_lm`), the lab's default weights
  (alpha 0.5, beta 1.0; not tuned on the held-out clips).

The held-out sentences are new random draws from the training vocabulary, so the bigram carries
no phrase knowledge: it knows which words exist and how often each is drawn. That is exactly the
spelling knowledge a character CTC model lacks for words it mostly learns from sound.
``--write`` records the result under ``"lm"`` in the model's ``metrics.json`` and re-renders its
card (:func:`training.zoo.cards.rewrite`).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from . import data
from .common import cer

CTC_MODELS = ("whisper-tiny.en-ctc", "tiny-wav2vec2-ctc-en")
LM_TEXTS, LM_ORDER = 16000, 2  # the first 16000 training sentences: both CTC recipes' clips


def training_texts(n: int = LM_TEXTS, seed: int = 0) -> list[str]:
    """The texts of training clips ``0 .. n-1`` (only the text is drawn; nothing is synthesized)."""
    return [data.spec("train", i, seed).text for i in range(n)]


def training_lm(vocab, n: int = LM_TEXTS, order: int = LM_ORDER, seed: int = 0):
    """A :class:`lab.ctc.lm.NgramLM` estimated on :func:`training_texts` (built once per process)."""
    from lab.ctc.lm import build_lm

    return build_lm("\n".join(training_texts(n, seed)), vocab, order=order)


def log_probs(loaded, audio: list[np.ndarray]) -> list[torch.Tensor]:
    """Per clip (frame, vocab) natural-log CTC posteriors of a resolved CTC model (batch 1)."""
    out = []
    with torch.no_grad():
        for a in audio:
            feats = loaded.processor(a, sampling_rate=data.SAMPLE_RATE, return_tensors="pt")
            out.append(torch.log_softmax(loaded.model(**feats).logits[0].float(), -1))
    return out


def score(lps: list[torch.Tensor], refs: list[str], vocab, lm) -> dict:
    """``{"greedy", "beam", "beam_lm"}``: each ``{"cer", "examples"}`` on the same log-probs."""
    from lab.ctc.collapse import collapse
    from lab.ctc.lm import DEFAULT_ALPHA, DEFAULT_BEAM, DEFAULT_BETA, beam_decode

    hyps = {"greedy": [collapse(lp.argmax(-1).tolist(), vocab).text for lp in lps],
            "beam": [beam_decode(lp, vocab)["text"] for lp in lps],
            "beam_lm": [beam_decode(lp, vocab, lm=lm)["text"] for lp in lps]}
    out = {k: {"cer": round(cer(refs, h), 4),
               "examples": [{"ref": r, "hyp": x} for r, x in list(zip(refs, h))[:3]]}
           for k, h in hyps.items()}
    out["settings"] = {"lm_order": lm.order, "lm_sentences": lm.sentences, "lm_words": len(lm.words),
                       "alpha": DEFAULT_ALPHA, "beta": DEFAULT_BETA, "beam_size": DEFAULT_BEAM}
    return out


def evaluate(model_id: str, n_clips: int = 300, seed: int = 0) -> dict:
    from lab.ctc.capture import vocab_of
    from lab.models import resolve

    loaded = resolve(model_id)
    vocab = vocab_of(loaded)
    audio, specs = data.corpus("heldout", n_clips, seed, cache=data.data_cache())
    res = score(log_probs(loaded, audio), [s.text for s in specs], vocab, training_lm(vocab))
    res["clips"] = n_clips
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.zoo.lm_eval", description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help=f"any of {', '.join(CTC_MODELS)} (default: both)")
    p.add_argument("--clips", type=int, default=300)
    p.add_argument("--write", action="store_true", help="store the result in the model's metrics.json")
    args = p.parse_args(argv)
    unknown = [m for m in args.models if m not in CTC_MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {list(CTC_MODELS)}")
    from lab.ctc.whisper_ctc.build import ZOO
    from .cards import rewrite

    for m in args.models or CTC_MODELS:
        res = evaluate(m, args.clips)
        print(m, {k: res[k]["cer"] for k in ("greedy", "beam", "beam_lm")}, flush=True)
        if args.write:
            path = ZOO / m / "metrics.json"
            metrics = json.loads(path.read_text())
            metrics["lm"] = res
            path.write_text(json.dumps(metrics, indent=1) + "\n")
            print("  card:", rewrite(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
