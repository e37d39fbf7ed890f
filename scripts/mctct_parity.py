"""Parity proof: the lab's M-CTC-T (lab/ctc/mctct) against transformers 4.46's MCTCTForCTC.

transformers 5 removed M-CTC-T; the lab carries its own implementation. This script builds the
same random-weight models in transformers 4.46 and in the lab and compares, on the same
waveforms: the feature extractor's output, the logits, every hidden state and every attention
map. Not part of ``make test`` (it needs a second virtualenv with transformers 4.46).

Run it:

    make mctct-parity

which creates ``../venv446`` next to the checkout (torch 2.13.0 CPU, transformers 4.46.*,
numpy<2 -- override with ``MCTCT_VENV=...``) and runs the two steps:

    ../venv446/bin/python scripts/mctct_parity.py reference OUT   # 4.46 side
    .venv/bin/python     scripts/mctct_parity.py compare   OUT   # lab side (transformers 5)

The committed fixture of ``tests/ctc_mctct`` (4.46 features of a known signal, a tiny 4.46
model with its logits) was written by the 4.46 side too:

    ../venv446/bin/python scripts/mctct_parity.py fixture tests/ctc_mctct/data/mctct_446_reference.npz

``reference`` (4.46) makes the waveforms, computes 4.46 features, saves each random model with
``save_pretrained(safe_serialization=True)`` plus its feature extractor and a
``Wav2Vec2CTCTokenizer``, and stores features, logits, hidden states and attentions in
``OUT/<case>/reference.npz``. ``compare`` (lab) loads each directory through the lab's resolver
(``lab.models.resolve``: local dir -> MCTCTForCTC + MCTCTProcessor), recomputes the features
with the lab's extractor, runs the lab model on the 4.46 features and on its own features, and
prints the max abs differences; it exits 1 if any exceeds the tolerance (1e-4).

Cases: ``padded`` -- the checkpoint's front end (80 mels, one conv of kernel 7 stride 3), a
batch of two clips of different lengths with padding and an attention mask, and
max_position_embeddings (24) below the number of encoder frames (34) so the clipped
relative-position range is exercised; ``twoconv`` -- two convolution layers, one clip;
``wide`` -- the hub checkpoint's shapes (config defaults) with 1 of its 36 layers, padded batch.
Weights are the 4.x init plus Gaussian noise on every parameter (so the scalar affine and the
LayerNorms are not identities), seed fixed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

TOL = 1e-4
SEED = 0
VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'", *"ÀÉÎÕÜßçñ"]
CASES = {
    "padded": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, attention_head_dim=16,
                   intermediate_size=128, max_position_embeddings=24, vocab_size=len(VOCAB)),
    "twoconv": dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=2, attention_head_dim=24,
                    intermediate_size=96, max_position_embeddings=64, vocab_size=len(VOCAB),
                    num_conv_layers=2, conv_kernel=[7, 3], conv_stride=[3, 2], conv_channels=[64, 32]),
    # the hub checkpoint's shapes (MCTCTConfig defaults: width 1536, 4 x 384 heads, 920
    # positions, 8065 characters) with one layer instead of 36 (~30 M parameters)
    "wide": dict(num_hidden_layers=1, vocab_size=8065),
}


def waveforms():
    """Two clips at 16 kHz: 1.0 s (two tones + noise) and 0.62 s (a chirp + noise)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    t = np.arange(16000) / 16000
    a = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t) \
        + 0.05 * rng.standard_normal(t.size)
    t2 = np.arange(9920) / 16000
    b = 0.4 * np.sin(2 * np.pi * (300 + 2000 * t2) * t2) + 0.05 * rng.standard_normal(t2.size)
    return [a.astype(np.float32), b.astype(np.float32)]


# -- step 1: transformers 4.46 -----------------------------------------------------------------
def reference(out: Path) -> None:
    import numpy as np
    import torch
    import transformers
    from transformers import MCTCTConfig, MCTCTFeatureExtractor, MCTCTForCTC, Wav2Vec2CTCTokenizer

    assert transformers.__version__.startswith("4.46"), transformers.__version__
    out.mkdir(parents=True, exist_ok=True)
    waves = waveforms()
    fe = MCTCTFeatureExtractor()
    vocab_file = out / "vocab.json"
    vocab_file.write_text(json.dumps({c: i for i, c in enumerate(VOCAB)}, ensure_ascii=False))
    tok = Wav2Vec2CTCTokenizer(str(vocab_file), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                               pad_token="<pad>", word_delimiter_token="|")
    for i, (name, kw) in enumerate(CASES.items()):
        torch.manual_seed(SEED + i)
        model = MCTCTForCTC(MCTCTConfig(**{"vocab_size": len(VOCAB), **kw})).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        d = out / name
        model.save_pretrained(d, safe_serialization=True)
        fe.save_pretrained(d)
        tok.save_pretrained(d)
        batch = waves[:1] if name == "twoconv" else waves
        feats = fe(batch, sampling_rate=16000, padding=True, return_tensors="pt")
        with torch.no_grad():
            o = model(feats["input_features"], attention_mask=_mask(name, feats["attention_mask"]),
                      output_attentions=True, output_hidden_states=True)
        arrays = {"input_features": feats["input_features"].numpy(),
                  "attention_mask": feats["attention_mask"].numpy(), "logits": o.logits.numpy()}
        arrays.update({f"hidden_states.{j}": h.numpy() for j, h in enumerate(o.hidden_states)})
        arrays.update({f"attentions.{j}": a.numpy() for j, a in enumerate(o.attentions)})
        for j, w in enumerate(batch):
            arrays[f"waveform.{j}"] = w
        np.savez(d / "reference.npz", **arrays)
        print(f"[4.46] {name}: saved {d} logits {tuple(o.logits.shape)} "
              f"features {tuple(feats['input_features'].shape)}")
    print(f"[4.46] torch {torch.__version__}, transformers {transformers.__version__}, "
          f"numpy {np.__version__}")


# -- the committed test fixture (4.46 side) -------------------------------------------------
FIXTURE_CONFIG = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, attention_head_dim=8,
                      intermediate_size=32, max_position_embeddings=8, vocab_size=12,
                      input_feat_per_channel=8)


def fixture(path: Path) -> None:
    """Write the small reference of tests/ctc_mctct (< 100 KB): 4.46 features of a known
    signal (single and padded batch) and a tiny 4.46 model (weights, input, mask, logits,
    attentions; 14 encoder frames > 8 positions)."""
    import numpy as np
    import torch
    import transformers
    from transformers import MCTCTConfig, MCTCTFeatureExtractor, MCTCTForCTC

    assert transformers.__version__.startswith("4.46"), transformers.__version__
    rng = np.random.default_rng(SEED)
    t = np.arange(4800) / 16000  # 0.3 s
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1000 * t)
            + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    wave2 = (0.2 * np.sin(2 * np.pi * 700 * t[:3000]) + 0.01 * rng.standard_normal(3000)).astype(np.float32)
    fe = MCTCTFeatureExtractor()
    single = fe(wave, sampling_rate=16000)["input_features"][0]
    batch = fe([wave, wave2], sampling_rate=16000, padding=True, return_tensors="np")
    torch.manual_seed(SEED)
    model = MCTCTForCTC(MCTCTConfig(**FIXTURE_CONFIG)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        x = torch.randn(2, 40, FIXTURE_CONFIG["input_feat_per_channel"])
        mask = torch.ones(2, 40, dtype=torch.long)
        mask[1, 25:] = 0
        o = model(x, attention_mask=mask, output_attentions=True)
    arrays = {"wave": wave, "wave2": wave2, "features_single": single,
              "features_batch": batch["input_features"], "mask_batch": batch["attention_mask"],
              "config": np.array(json.dumps(FIXTURE_CONFIG)), "x": x.numpy(), "x_mask": mask.numpy(),
              "logits": o.logits.numpy()}
    arrays.update({f"attentions.{i}": a.numpy() for i, a in enumerate(o.attentions)})
    arrays.update({f"w.{k}": v.numpy() for k, v in model.state_dict().items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"[4.46] fixture {path}: {path.stat().st_size} bytes")


# -- step 2: the lab (transformers 5) ----------------------------------------------------------
def compare(out: Path) -> int:
    import numpy as np
    import torch
    import transformers

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lab.ctc.mctct import MCTCTForCTC, MCTCTProcessor
    from lab.models import resolve

    worst = 0.0
    rows = []
    for name in CASES:
        d = out / name
        ref = dict(np.load(d / "reference.npz"))
        loaded = resolve(str(d), family="ctc")
        model, proc = loaded.model, loaded.processor
        assert isinstance(model, MCTCTForCTC) and isinstance(proc, MCTCTProcessor), loaded
        _, info = MCTCTForCTC.from_pretrained(d, use_safetensors=True, output_loading_info=True)
        bad = {k: v for k, v in info.items() if v and k != "error_msgs"}
        assert not bad, f"{name}: state dict names differ from 4.46: {bad}"
        waves = [ref[k] for k in sorted(k for k in ref if k.startswith("waveform."))]
        feats = proc(waves, sampling_rate=16000, padding=True, return_tensors="pt")
        diffs = {"features": _diff(feats["input_features"].numpy(), ref["input_features"])}
        assert (feats["attention_mask"].numpy() == ref["attention_mask"]).all(), "attention masks differ"
        with torch.no_grad():
            o = model(torch.from_numpy(ref["input_features"]),
                      attention_mask=_mask(name, torch.from_numpy(ref["attention_mask"])),
                      output_attentions=True, output_hidden_states=True)
            own = model(feats["input_features"],
                        attention_mask=_mask(name, feats["attention_mask"])).logits
        diffs["logits"] = _diff(o.logits.numpy(), ref["logits"])
        diffs["logits (lab features)"] = _diff(own.numpy(), ref["logits"])
        diffs["hidden_states"] = max(_diff(h.numpy(), ref[f"hidden_states.{j}"])
                                     for j, h in enumerate(o.hidden_states))
        diffs["attentions"] = max(_diff(a.numpy(), ref[f"attentions.{j}"])
                                  for j, a in enumerate(o.attentions))
        assert len(o.hidden_states) == sum(k.startswith("hidden_states.") for k in ref)
        scale = float(np.abs(ref["logits"]).max())
        for what, v in diffs.items():
            rows.append((name, what, v))
            worst = max(worst, v)
        print(f"[lab] {name}: logits {tuple(o.logits.shape)} (max |logit| {scale:.3g}), "
              f"features {tuple(ref['input_features'].shape)}, mask lengths "
              f"{ref['attention_mask'].sum(1).tolist()}")
    print(f"[lab] torch {torch.__version__}, transformers {transformers.__version__}, "
          f"numpy {np.__version__}")
    print(f"{'case':10s} {'tensor':24s} max abs diff")
    for name, what, v in rows:
        print(f"{name:10s} {what:24s} {v:.3e}")
    ok = worst <= TOL
    print(f"{'PASS' if ok else 'FAIL'}: worst {worst:.3e} (tolerance {TOL:g})")
    return 0 if ok else 1


def _mask(case: str, mask):
    """The attention mask, except for ``twoconv``: with several convolutions 4.x computes the
    encoder lengths with per-layer padding while its forward pads once, and its mask code
    indexes past the end (IndexError) -- so that case runs unpadded, without a mask."""
    return None if case == "twoconv" else mask


def _diff(a, b) -> float:
    import numpy as np

    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("reference", "compare", "fixture"):
        print(__doc__)
        print("usage: mctct_parity.py reference|compare OUTDIR | fixture FILE.npz")
        return 2
    out = Path(argv[2])
    if argv[1] == "reference":
        reference(out)
        return 0
    if argv[1] == "fixture":
        fixture(out)
        return 0
    return compare(out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
