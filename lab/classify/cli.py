"""Classify a clip: AST, wav2vec2/HuBERT sequence or frame classifiers (labels, patch grid,
frame labels).

``audiolab trace classify FILE [--model ID] [--top-k K] [--activation sigmoid|softmax] --json``
prints ``model``, ``weights_source``, ``architecture``, ``kind``, ``labels`` (list of ``label``,
``score``), ``activation``, ``notes``; plus ``patch_grid`` ([freq, time]) and ``n_patches`` for AST,
``frame_labels`` (segments ``label``, ``start``, ``end``, ``score``) and ``n_frames`` for frame
models, ``n_frames`` for sequence models; ``saved`` (the trace directory) with ``--out DIR``.
"""
from __future__ import annotations

from ..errors import LabError


def add_arguments(parser) -> None:
    parser.add_argument("file", help="audio file (wav, flac, ogg, mp3)")
    parser.add_argument("--model", default=None,
                        help="classifier id: an offline zoo id, a local HF model directory or a "
                             "hub id in the HF cache (no offline default exists yet)")
    parser.add_argument("--top-k", type=int, default=5, help="how many labels to print")
    parser.add_argument("--activation", choices=["sigmoid", "softmax"], default=None,
                        help="override the probability rule (default: from the config)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="save the trace here (tensors.safetensors + trace.json)")
    from ..interventions import cli as what_if_cli

    what_if_cli.add_arguments(parser)


def offline_classify_ids() -> list[str]:
    """Offline ids (zoo / bundles) whose family is classify."""
    from ..models import ZOO_DIR, family_of_dir, offline_ids

    out = []
    for i in offline_ids():
        d = ZOO_DIR / i
        try:
            if (d / "config.json").is_file() and family_of_dir(d) == "classify":
                out.append(i)
        except LabError:
            continue
    return out


def architecture_of(model_id: str) -> str:
    """The first ``architectures`` entry of an offline (zoo) model's config.json, or ""."""
    import json

    from ..models import ZOO_DIR

    f = ZOO_DIR / model_id / "config.json"
    if not f.is_file():
        return ""
    return (json.loads(f.read_text()).get("architectures") or [""])[0]


def default_model() -> str:
    """The first offline classifier, or a LabError naming what exists."""
    from ..models import offline_ids

    ids = offline_classify_ids()
    if ids:
        return ids[0]
    raise LabError(
        "no offline classification model is available yet (the model zoo has none): pass "
        "--model with a local HF model directory (config.json + safetensors + "
        "preprocessor_config.json) or a hub id in the HF cache, e.g. "
        "MIT/ast-finetuned-audioset-10-10-0.4593. Offline ids available: "
        + (", ".join(offline_ids()) or "none") + " (none of them is a classifier)")


def run(args) -> dict:
    from ..models import locate, resolve
    from . import trace_classify

    from ..audio import load_audio

    model_id = args.model or default_model()
    if args.top_k < 1:
        raise LabError(f"--top-k must be at least 1, not {args.top_k}")
    locate(model_id)  # an unknown id fails first (cheap), then a bad file before a model loads
    if args.out:
        from ..cli import out_dir

        out_dir(args.out)
    audio = load_audio(args.file)
    loaded = resolve(model_id, family="classify", attention=True)
    t = trace_classify(audio, loaded, top_k=args.top_k, activation=args.activation)
    from ..interventions import cli as what_if_cli

    ivs = what_if_cli.interventions(args)
    if ivs:  # what-if: the JSON describes the changed run, + intervention and diff
        base, t = t, trace_classify(audio, loaded, top_k=args.top_k, activation=args.activation,
                                    interventions=ivs)
    out = {
        "model": t.model_id,
        "weights_source": t.weights_source,
        "architecture": t.meta["architecture"],
        "kind": t.meta["kind"],
        "activation": t.meta["activation"],
        "labels": [{"label": r["label"], "score": round(r["score"], 6)} for r in t.meta["top_k"]],
        "seconds": round(t.meta["content_seconds"], 3),
        "notes": t.meta.get("notes", []),
    }
    if t.meta["kind"] == "ast":
        out["patch_grid"] = t.meta["patch_grid"]
        out["n_patches"] = t.meta["n_patches"]
    else:
        out["n_frames"] = t.meta["n_frames"]
    if t.meta["kind"] == "frames":
        out["frame_labels"] = [{"label": s["label"], "start": round(s["start"], 3),
                                "end": round(s["end"], 3), "score": round(s["score"], 4)}
                               for s in t.meta["frame_labels"]]
    if ivs:
        what_if_cli.attach(out, base, t)
    if args.out:
        out["saved"] = str(t.save(args.out))
    return out
