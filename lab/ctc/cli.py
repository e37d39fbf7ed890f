"""Trace a clip through a CTC model: frame tokens, collapse stages, words, beam / LM decoding.

``audiolab trace ctc FILE [--model ID] [--reference TEXT] [--lm TEXTFILE] [--beam N] [--out DIR]
--json``
"""
from __future__ import annotations

from pathlib import Path

from ..errors import LabError

DEFAULT_MODEL = "facebook/wav2vec2-base-960h"
MAX_LM_BYTES = 5_000_000


def add_arguments(p) -> None:
    p.add_argument("file", help="audio file (wav, flac, ogg, mp3)")
    p.add_argument("--model", default=None,
                   help=f"model id or local HF directory (default: {DEFAULT_MODEL})")
    p.add_argument("--reference", default=None, help="reference transcript: forced alignment, WER/CER")
    p.add_argument("--lm", default=None, metavar="TEXTFILE",
                   help="text file to build an n-gram LM from (KenLM lmplz) for beam search")
    p.add_argument("--lm-order", type=int, default=3, help="n-gram order of --lm (default 3)")
    p.add_argument("--beam", type=int, default=None, metavar="N",
                   help="beam width (beam search runs when --beam or --lm is given; default 32)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="save the trace here (tensors.safetensors + trace.json) with the default "
                        "capture policy: attention, conv maps and hidden states too")
    from ..interventions import cli as what_if_cli

    what_if_cli.add_arguments(p)


def _read_lm_text(path: str) -> str:
    f = Path(path)
    if not f.is_file():
        raise LabError(f"LM text file not found: {f}")
    if f.stat().st_size > MAX_LM_BYTES:
        raise LabError(f"LM text file {f.name} is over {MAX_LM_BYTES // 1_000_000} MB")
    try:
        return f.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LabError(f"LM text file {f.name} is not UTF-8 text") from None


def run(args) -> dict:
    from ..audio import load_audio
    from ..models import DEFAULTS, load_cached, locate
    from .capture import trace_ctc, vocab_of

    model_id = args.model or DEFAULTS.get("ctc") or DEFAULT_MODEL
    locate(model_id)  # an unknown id fails first (cheap), then a bad file before a model loads
    if args.out:
        from ..cli import out_dir

        out_dir(args.out)
    audio = load_audio(args.file)
    loaded = load_cached(model_id, family="ctc", attention=bool(args.out))
    lm = None
    if args.lm:
        from .lm import build_lm

        lm = build_lm(_read_lm_text(args.lm), vocab_of(loaded), order=args.lm_order)
    from ..trace import CapturePolicy

    # the CLI prints no attention / hidden states: keep them only for a saved trace (default policy)
    policy = None if args.out else CapturePolicy(names=["input.*", "ctc.*"])
    tr = trace_ctc(audio, loaded, policy=policy, top_k=args.top_k, reference=args.reference,
                   lm=lm, beam_size=args.beam)
    from ..interventions import cli as what_if_cli

    ivs = what_if_cli.interventions(args)
    if ivs:  # what-if: the JSON describes the changed run, + intervention and diff
        base, tr = tr, trace_ctc(audio, loaded, policy=policy, top_k=args.top_k,
                                 reference=args.reference, lm=lm, beam_size=args.beam,
                                 interventions=ivs)
    m = tr.meta
    out = {
        "model": tr.model_id,
        "weights_source": tr.weights_source,
        "text": m["text"],
        "frame_tokens": m["frame_tokens"],
        "merged": m["merged"],
        "no_blanks": m["no_blanks"],
        "naive_dedupe": m["naive_dedupe"],
        "frames_per_second": m["frames_per_second"],
        "n_frames": m["n_frames"],
        "seconds": m["seconds"],
        "hop_ms": m["geometry"]["hop_ms"],
        "receptive_field_ms": m["geometry"]["field_ms"],
        "words": [{"word": w["word"], "start": round(w["start"], 3), "end": round(w["end"], 3),
                   "score": None if w.get("score") is None else round(float(w["score"]), 4)}
                  for w in m["words"]],
        "words_from": m["words_from"],
        "timings": m["timings"],
    }
    if "wer" in m:
        out["wer"] = m["wer"]["wer"]
        out["cer"] = m["wer"]["cer"]
        out["reference"] = m["reference"]
    if "decoders" in m:
        d = m["decoders"]
        out["beam_text"] = m["beam_text"]
        out["beam_search_text"] = d["beam"]["text"]
        if "beam_lm" in d:
            out["beam_lm_text"] = d["beam_lm"]["text"]
            out["lm"] = d["beam_lm"]["lm"]
            out["changed_by_lm"] = d.get("changed_by_lm", [])
        out["beam_size"] = d["beam"]["beam_size"]
    if ivs:
        what_if_cli.attach(out, base, tr)
    if args.out:
        out["saved"] = str(tr.save(args.out))
    return out
