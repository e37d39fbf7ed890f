"""Alignment heads on the committed English clips: which heads time the words best, and what
knocking out the checkpoint's alignment heads does (issue 19, intervention 6).

Reference word times: the CTC forced alignment of each clip's text (``clips.json``) by the zoo
``tiny-wav2vec2-ctc-en`` (``lab.interventions.align_heads.reference_words``); the agreement with a
second CTC reference (the zoo ``whisper-tiny.en-ctc``) is printed as a noise floor; every row is
also scored against espeak-ng's own word events (``espeak_reference_words``: the clips that
re-synthesise to the same length -- all but the fox clip, whose speed was not recorded), with
the CTC reference itself as one more row. Word-time error:
mean |start - reference start| and |end - reference end| in seconds over the Whisper words matched
to reference words (``word_time_error``). Rows per model:

- checkpoint heads: DTW over ``generation_config.alignment_heads`` (the default);
- found top-k (in sample): the k best heads by :func:`score_heads` averaged over all clips
  (k = number of checkpoint heads), used for DTW on the same clips;
- found top-k (leave one out): for each clip, the k best heads on the *other* clips;
- random k heads: mean over ``RANDOM_DRAWS`` random sets of k heads;
- checkpoint heads knocked out (``Ablate decoder.layers.L.cross_attn heads=...``), free decode:
  the text changes (WER against the clip's text shown); DTW still reads the (now ablated)
  checkpoint heads' attention weights -- ablation cuts a head's output, not its pattern;
- knocked out, the intact tokens forced (``ForceToken`` at every step): same words, so the times
  compare one to one; DTW with the checkpoint heads and with the found (leave-one-out) heads.

``python benchmarks/bench_alignment_heads.py [--models whisper-tiny.en whisper-base]
[--figures DIR] [--json FILE] [--quick]`` (``make bench BENCH=alignment_heads``; about 75 s for
both models on 2 cores). Not a test: numbers, no assertions.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIPS = ROOT / "assets" / "clips"
RANDOM_DRAWS = 20
SECOND_REFERENCE = "whisper-tiny.en-ctc"


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def _errs(pairs):
    """[(words, ref)] -> (start, end, mean) seconds averaged over clips, matched, words."""
    from lab.interventions.align_heads import word_time_error

    e = [word_time_error(w, r) for w, r in pairs]
    return {"start": _mean([x["start"] for x in e]), "end": _mean([x["end"] for x in e]),
            "mean": _mean([x["mean"] for x in e]), "matched": sum(x["n_matched"] for x in e),
            "ref_words": sum(len(r) for _, r in pairs)}


def knockout(heads: list[list[int]]):
    from lab.interventions import Ablate

    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(int(l), []).append(int(h))
    return [Ablate(f"decoder.layers.{l}.cross_attn", heads=tuple(hs)) for l, hs in sorted(by_layer.items())]


def run_model(model_id: str, clips: list[Path], texts: dict, figures: Path | None) -> dict:
    import torch

    from lab.interventions import ForceToken
    from lab.interventions import align_heads as A
    from lab.models import load_cached
    from lab.trace import CapturePolicy
    from lab.wer import wer_alignment
    from lab.whisper import trace_whisper
    from lab.whisper.timestamps import word_timestamps

    torch.manual_seed(0)
    t_start = time.perf_counter()
    loaded = load_cached(model_id, family="whisper")
    tok = loaded.processor.tokenizer
    eos = int(loaded.model.generation_config.eos_token_id)
    lean = CapturePolicy(names=["decoder.logits"])
    per = []
    for clip in clips:
        ref = A.reference_words(clip)
        tr = trace_whisper(clip, loaded, policy=A.CROSS_POLICY)
        hs = A.score_heads(tr, ref, tokenizer=tok)
        ko = knockout(hs.checkpoint_heads)
        free = trace_whisper(clip, loaded, policy=lean, interventions=ko)
        forced_ivs = ko + [ForceToken(step=s, token_id=t) for s, t in enumerate(tr.meta["token_ids"])]
        forced = trace_whisper(clip, loaded, policy=A.CROSS_POLICY, interventions=forced_ivs,
                               max_steps=len(tr.steps))
        assert forced.meta["token_ids"] == tr.meta["token_ids"]
        per.append({"clip": clip.name, "ref": ref, "trace": tr, "scores": hs, "free": free,
                    "forced": forced, "text": texts[clip.name]})
    for p in per:
        try:
            p["espeak"] = A.espeak_reference_words(CLIPS / p["clip"])
        except Exception as exc:  # LabError: no espeak synthesis of this clip (speed not recorded)
            p["espeak"], p["espeak_why"] = None, str(exc)
    all_hs = A.combine([p["scores"] for p in per])
    k = len(all_hs.checkpoint_heads)
    top_in = all_hs.top(k)
    L, H = all_hs.scores.shape
    every = [[l, h] for l in range(L) for h in range(H)]
    rng = random.Random(0)
    for i, p in enumerate(per):
        p["loo_heads"] = A.combine([q["scores"] for j, q in enumerate(per) if j != i]).top(k)

    def dtw(key, heads_of):
        return [word_timestamps(p[key], tok, eos=eos, heads=heads_of(p)) for p in per]

    words = {  # row -> one word list per clip (a list of them: random draws)
        "checkpoint heads": [[p["trace"].meta["words"] for p in per]],
        "found top-k (in sample)": [dtw("trace", lambda p: top_in)],
        "found top-k (leave one out)": [dtw("trace", lambda p: p["loo_heads"])],
        f"random {k} heads (mean of {RANDOM_DRAWS})": [dtw("trace", lambda p: rng.sample(every, k))
                                                       for _ in range(RANDOM_DRAWS)],
        "best single head (in sample)": [dtw("trace", lambda p: all_hs.top(1))],
        "checkpoint heads knocked out, free decode": [[p["free"].meta["words"] for p in per]],
        "knocked out, intact tokens forced": [[p["forced"].meta["words"] for p in per]],
        "knocked out, forced, DTW on found heads (LOO)": [dtw("forced", lambda p: p["loo_heads"])],
    }
    tables = {}
    for ref_key in ("ref", "espeak"):
        have = [i for i, p in enumerate(per) if p[ref_key] is not None]
        rows = {}
        for name, draws in words.items():
            es = [_errs([(d[i], per[i][ref_key]) for i in have]) for d in draws]
            rows[name] = {key: _mean([e[key] for e in es]) for key in ("start", "end", "mean")} | {
                "matched": es[0]["matched"], "ref_words": es[0]["ref_words"]}
        if ref_key == "espeak":
            rows["(the CTC reference itself)"] = _errs([(per[i]["ref"], per[i]["espeak"]) for i in have])
        tables[ref_key] = {"rows": rows, "clips": [per[i]["clip"] for i in have]}
    wer = {"intact": _mean([wer_alignment(p["text"], p["trace"].meta["text"])["wer"] for p in per]),
           "knocked out": _mean([wer_alignment(p["text"], p["free"].meta["text"])["wer"] for p in per])}
    second = [A.reference_words(p_clip, ctc=SECOND_REFERENCE) for p_clip in clips]
    agree = _errs([(s, p["ref"]) for s, p in zip(second, per)])
    if figures is not None:
        from lab.viz import save
        from lab.viz.align_heads import head_scores_figure

        figures.mkdir(parents=True, exist_ok=True)
        save(head_scores_figure(all_hs, title=f"{model_id}: cross-attention heads vs CTC word times "
                                              f"({len(clips)} clips)"),
             figures / f"align_heads_{model_id}.png")
    return {"model": model_id, "tables": tables, "wer": wer, "reference_agreement": agree,
            "loo_head_sets": sorted({json.dumps(p["loo_heads"]) for p in per}),
            "espeak_missing": {p["clip"]: p["espeak_why"] for p in per if p["espeak"] is None},
            "overlap": all_hs.overlap, "checkpoint_heads": all_hs.checkpoint_heads, "top_k": top_in,
            "ranked_top": all_hs.ranked[:max(k, 10)], "n_tokens": all_hs.n_tokens,
            "texts": {p["clip"]: [p["trace"].meta["text"], p["free"].meta["text"]] for p in per},
            "seconds": round(time.perf_counter() - t_start, 1)}


def print_result(r: dict) -> None:
    print(f"\n## {r['model']}  ({r['seconds']} s, {r['n_tokens']} tokens scored)")
    print(f"checkpoint heads: {r['checkpoint_heads']}")
    print(f"found top-{r['overlap']['k']}: {r['top_k']}")
    ov = r["overlap"]
    print(f"overlap: {ov['found_in_checkpoint']} of the top-{ov['k']} are checkpoint heads; checkpoint ranks "
          f"{ov['checkpoint_ranks']} of {ov['n_heads_total']} ({ov['checkpoint_in_top_half']} in the top half); "
          f"mean score checkpoint {ov['checkpoint_mean_score']:.3f}, top-k {ov['top_k_mean_score']:.3f}, "
          f"all heads {ov['all_heads_mean_score']:.3f}, uniform {ov['uniform_score']:.3f}")
    print("best heads: " + ", ".join(f"({l},{h}) {s:.2f}" for l, h, s in r["ranked_top"]))
    print(f"leave-one-out head sets: {len(r['loo_head_sets'])} distinct")
    for ref_key, title in (("ref", f"reference: CTC forced alignment ({len(r['tables']['ref']['clips'])} clips)"),
                           ("espeak", f"reference: espeak-ng word events ({len(r['tables']['espeak']['clips'])} "
                                      f"clips; no end for a word before an unevented one)")):
        print(f"\n{title}\n| {'DTW heads / model':48s} | start err s | end err s | mean s | matched words |")
        print(f"|{'-' * 50}|-------------|-----------|--------|---------------|")
        for name, e in r["tables"][ref_key]["rows"].items():
            print(f"| {name:48s} | {e['start']:11.3f} | {e['end']:9.3f} | {e['mean']:6.3f} | "
                  f"{e['matched']:>5}/{e['ref_words']:<7} |")
    a = r["reference_agreement"]
    print(f"\nreference noise: {SECOND_REFERENCE} vs {r['model'] and 'the CTC reference'}: start "
          f"{a['start']:.3f} s, end {a['end']:.3f} s ({a['matched']}/{a['ref_words']} words)")
    for clip, why in r["espeak_missing"].items():
        print(f"  no espeak reference for {clip}: {why}")
    print(f"\nWER against the clips' texts: intact {r['wer']['intact']:.3f}, checkpoint heads knocked "
          f"out {r['wer']['knocked out']:.3f}")
    for clip, (a_, b_) in r["texts"].items():
        if a_ != b_:
            print(f"  {clip}: {a_!r} -> knocked out {b_!r}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["whisper-tiny.en", "whisper-base"])
    ap.add_argument("--figures", type=Path, default=None, help="save the head-score grids (PNG) here")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="whisper-tiny.en only")
    # benchmarks/run.py calls main() with its own command line (bench names, --quick): keep what is ours
    args, _ = ap.parse_known_args(argv)
    if args.quick:
        args.models = ["whisper-tiny.en"]
    texts = {k: v["text"] for k, v in json.loads((CLIPS / "clips.json").read_text()).items()}
    clips = [CLIPS / name for name in sorted(texts)]
    results = []
    for m in args.models:
        r = run_model(m, clips, texts, args.figures)
        print_result(r)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
