"""AST trace: the filterbank, its 16 x 16 patches, the tokens, every attention map, the rollout
and the labels of ``ASTForAudioClassification``.

How AST reads a clip (shapes for the hub models: 128 mel bins, max_length 1024, patch 16,
frequency and time strides 10, hidden 768):

- the feature extractor computes a 128-bin Kaldi log-mel filterbank at 100 frames/s (25 ms
  windows, 10 ms hop), zero-pads (or cuts) it to ``max_length`` frames and normalizes it as
  ``(fbank - mean) / (2 * std)`` with the extractor's ``mean``/``std`` (AudioSet statistics
  -4.2677393 / 4.5689974): ``input.fbank`` (mel_frame, mel_bin);
- a Conv2d with a 16 x 16 kernel and strides (frequency_stride, time_stride) cuts it into
  overlapping patches: a grid of ``freq = (mel_bins - 16) // fstride + 1`` rows by
  ``time = (max_length - 16) // tstride + 1`` columns (12 x 101 = 1212 patches); patch
  ``p = f * time + t`` covers mel bins ``f*fstride ... f*fstride+15`` and frames
  ``t*tstride ... t*tstride+15``;
- tokens = [CLS, distillation, patch 0 ... patch P-1] plus learned position embeddings; the
  classifier reads the mean of the CLS and distillation outputs after the final layer norm.

Capture names and axes (``token`` = position in the encoder sequence: 0 CLS, 1 distillation,
2 + p patch p):

=============================  ==============================================  ==========
name                           axes                                            notes
=============================  ==============================================  ==========
``input.waveform``             (sample,)                                       16 kHz clip
``input.fbank``                (mel_frame, mel_bin)                            normalized, padded
``ast.patches``                (patch, patch_mel, patch_frame)                 16 x 16 pixels
``ast.patch_embeddings``       (patch, hidden)                                 conv output
``ast.position_embeddings``    (token, hidden)                                 learned
``ast.cls_token``              (hidden,)                                       learned
``ast.distillation_token``     (hidden,)                                       learned
``ast.embeddings``             (token, hidden)                                 encoder input
``encoder.layers.{i}.attn.pattern``  (head, query_token, key_token)            attention
``ast.attention_mean``         (layer, query_token, key_token)                 head mean
``ast.cls_attention``          (layer, head, freq_patch, time_patch)           CLS row
``ast.rollout``                (freq_patch, time_patch)                        see rollout
``ast.pooled``                 (hidden,)                                       classifier input
``cls.logits`` / ``cls.probs`` (label,)
=============================  ==============================================  ==========

``ast.rollout`` is the readout row of :func:`lab.classify.rollout.attention_rollout`: the mean of
the CLS and distillation rows (AST's pooler averages those two tokens), restricted to the patch
tokens and laid on the grid; ``meta["rollout_special_mass"]`` is the part that stayed on the two
special tokens (the patch part plus it sums to 1).

Time bases: ``sample`` (16000/s), ``mel_frame`` (100/s), ``time_patch`` (100 / time_stride = 10
patch columns per second; column ``t`` starts at ``t / 10`` s and lasts 0.16 s).
"""
from __future__ import annotations

import torch

from ..errors import LabError
from ..capture import AttentionRecorder, hooks, module_at
from ..trace import CapturePolicy, Trace
from . import common, names
from .constants import FBANK_HOP_SECONDS, FBANK_WINDOW_SECONDS, TOP_K
from .rollout import rollout_rows

HOP_SECONDS = FBANK_HOP_SECONDS  # old name


def patch_grid(config) -> tuple[int, int]:
    """(freq, time) patch rows and columns the Conv2d patch embedding makes from a
    (max_length, num_mel_bins) filterbank: ``(n - patch) // stride + 1`` per axis."""
    p = int(config.patch_size)
    freq = (int(config.num_mel_bins) - p) // int(config.frequency_stride) + 1
    time = (int(config.max_length) - p) // int(config.time_stride) + 1
    if freq < 1 or time < 1:
        raise LabError(f"AST config makes no patches: {config.num_mel_bins} mel bins x "
                       f"{config.max_length} frames with patch {p}")
    return freq, time


def extract_patches(fbank: torch.Tensor, config) -> torch.Tensor:
    """The pixels the patch-embedding Conv2d sees: (patch, patch_mel, patch_frame).

    ``fbank``: (mel_frame, mel_bin) as the extractor outputs it. The conv runs on the transposed
    image (mel_bin, mel_frame); patch ``p = f * time + t`` (row-major over the grid, the order of
    the conv output's ``flatten``) holds ``image[f*fs : f*fs+16, t*ts : t*ts+16]``, so pixel
    ``[i, j]`` is mel bin ``f*fs + i`` (low to high) at frame ``t*ts + j``.
    """
    p, fs, ts = int(config.patch_size), int(config.frequency_stride), int(config.time_stride)
    image = fbank.transpose(0, 1)  # (mel_bin, mel_frame)
    tiles = image.unfold(0, p, fs).unfold(1, p, ts)  # (freq, time, patch_mel, patch_frame)
    return tiles.reshape(-1, p, p)


def fbank_frames(n_samples: int, sample_rate: int) -> int:
    """Frames the extractor computes from ``n_samples`` before padding/cutting
    (25 ms windows, 10 ms hop, no centering: ``1 + (n - window) // hop``)."""
    win, hop = round(FBANK_WINDOW_SECONDS * sample_rate), round(FBANK_HOP_SECONDS * sample_rate)
    from ..audio import require_samples

    require_samples(n_samples, sample_rate, win, "AST",
                    f"one {FBANK_WINDOW_SECONDS * 1000:.0f} ms fbank window")
    return 1 + (n_samples - win) // hop


def trace_ast(audio, loaded, *, policy: CapturePolicy | None = None, top_k: int = TOP_K,
              activation: str | None = None) -> Trace:
    """Run ``ASTForAudioClassification`` on ``audio`` and capture everything listed above.

    ``audio``: anything ``lab.audio.load_audio`` takes; ``loaded``: a ``lab.models.Loaded`` (or a
    model id). ``activation``: override the probability rule of :mod:`lab.classify.common`.
    Raises LabError when the attention comes back empty (model not loaded with eager attention).
    """
    loaded, model, fe, clip = common.open_run(loaded, audio, "ast")
    paths = names.paths_for(model)
    cfg = model.config
    sr = clip.sample_rate
    policy = policy or CapturePolicy()
    grid = patch_grid(cfg)
    n_patches = grid[0] * grid[1]
    activation, why = common.activation_for(cfg, "ast", activation)

    n_frames = fbank_frames(len(clip.samples), sr)
    feats = fe(clip.samples, sampling_rate=sr, return_tensors="pt")
    x = feats["input_values"].to(common.model_device(model))  # (1, max_length, mel_bin)
    if tuple(x.shape[1:]) != (cfg.max_length, cfg.num_mel_bins):
        raise LabError(f"feature extractor gives {tuple(x.shape[1:])} (frames, mel bins) but the "
                       f"model expects ({cfg.max_length}, {cfg.num_mel_bins}): mismatched extractor")

    got: dict[str, torch.Tensor] = {}
    attn_mean: list[torch.Tensor] = []
    cls_rows: list[torch.Tensor] = []
    patterns: dict[int, torch.Tensor] = {}

    def keep(name):
        def fn(_m, inputs, output):
            got[name] = common.forward_hook_output(output).detach().clone()
        return fn

    def keep_input(name):
        def fn(_m, inputs, _output):
            got[name] = inputs[0].detach().clone()
        return fn

    def on_weights(i, w):  # w: (head, query_token, key_token)
        attn_mean.append(w.float().mean(0))
        cls_rows.append(w[:, 0, :].float().clone())
        if policy.keeps_layer(i) and policy.keeps(f"encoder.layers.{i}.attn.pattern"):
            # stored at the policy's attention dtype right away (fp16: half of an fp32 copy)
            patterns[i] = policy.select_heads(w).to(policy.attn_dtype, copy=True)

    attn = AttentionRecorder(model, part="AST encoder", on_weights=on_weights)

    installs = [(module_at(model, paths.parts["patch_embeddings"]), keep("patch_embeddings")),
                (module_at(model, paths.parts["embeddings"]), keep("embeddings")),
                (module_at(model, paths.parts["classifier"]), keep_input("pooled"))]
    installs += [(module_at(model, paths.attn(i)), attn.hook(i)) for i in range(cfg.num_hidden_layers)]
    with torch.no_grad(), hooks(model, installs):
        logits = model(x).logits[0]

    attn.check()

    t = Trace(family="classify", model_id=loaded.model_id, weights_source=loaded.weights_source,
              policy=policy)
    hop = round(FBANK_HOP_SECONDS * sr)
    t.time_bases = {"sample": float(sr), "mel_frame": sr / hop,
                    "time_patch": sr / hop / int(cfg.time_stride)}
    emb = module_at(model, paths.parts["embeddings"])
    fbank = x[0]
    t.add("input.waveform", torch.from_numpy(clip.samples), ("sample",))
    t.add("input.fbank", fbank, ("mel_frame", "mel_bin"))
    t.add("ast.patches", extract_patches(fbank, cfg), ("patch", "patch_mel", "patch_frame"))
    t.add("ast.patch_embeddings", got["patch_embeddings"][0], ("patch", "hidden"))
    t.add("ast.position_embeddings", emb.position_embeddings[0], ("token", "hidden"))
    t.add("ast.cls_token", emb.cls_token[0, 0], ("hidden",))
    t.add("ast.distillation_token", emb.distillation_token[0, 0], ("hidden",))
    t.add("ast.embeddings", got["embeddings"][0], ("token", "hidden"))
    for i, w in patterns.items():
        t.add(f"encoder.layers.{i}.attn.pattern", w, ("head", "query_token", "key_token"),
              attention=True)
    t.add("ast.attention_mean", torch.stack(attn_mean), ("layer", "query_token", "key_token"),
          attention=True)
    cls = torch.stack(cls_rows)[:, :, 2:]  # (layer, head, patch)
    t.add("ast.cls_attention", cls.reshape(cls.shape[0], cls.shape[1], *grid),
          ("layer", "head", "freq_patch", "time_patch"), force=True)
    readout = rollout_rows(attn_mean, [0, 1]).mean(0)  # (token,)
    t.add("ast.rollout", readout[2:].reshape(grid), ("freq_patch", "time_patch"), force=True)
    t.add("ast.pooled", got["pooled"][0], ("hidden",))
    probs = common.probabilities(logits, activation)
    t.add("cls.logits", logits, ("label",), force=True)
    t.add("cls.probs", probs, ("label",), force=True)

    label_names = common.label_names(cfg)
    n_content = min(n_frames, int(cfg.max_length))
    notes = list(clip.notes)
    if n_frames > cfg.max_length:
        notes.append(f"AST sees the first {cfg.max_length / t.time_bases['mel_frame']:.2f} s only: "
                     f"{n_frames - cfg.max_length} frames ({(n_frames - cfg.max_length) / 100:.2f} s) "
                     "were cut by the feature extractor")
    t.meta.update({
        "kind": "ast",
        "architecture": type(model).__name__,
        "labels": label_names,
        "activation": activation,
        "activation_rule": why,
        "top_k": common.top_k(probs, logits, label_names, top_k),
        "patch_grid": [grid[0], grid[1]],
        "n_patches": n_patches,
        "patch_size": int(cfg.patch_size),
        "frequency_stride": int(cfg.frequency_stride),
        "time_stride": int(cfg.time_stride),
        "special_tokens": ["cls", "distillation"],
        "num_mel_bins": int(cfg.num_mel_bins),
        "max_length": int(cfg.max_length),
        "n_fbank_frames": n_frames,
        "n_content_frames": n_content,
        "padded_from_frame": n_content if n_frames < cfg.max_length else None,
        "truncated_frames": max(0, n_frames - int(cfg.max_length)),
        "n_content_time_patches": min(grid[1], -(-n_content // int(cfg.time_stride))),
        "fbank_mean": float(getattr(fe, "mean", 0.0)),
        "fbank_std": float(getattr(fe, "std", 1.0)),
        "fbank_normalization": "(log_mel - mean) / (2 * std)" if getattr(fe, "do_normalize", True)
        else "none",
        "padding_value_normalized": float(fbank[-1, 0]) if n_frames < cfg.max_length else None,
        "rollout": "Abnar & Zuidema: head mean, 0.5 A + 0.5 I, rows renormalized, product over "
                   "layers; readout = mean of CLS and distillation rows",
        "rollout_special_mass": float(readout[:2].sum()),
        "content_seconds": len(clip.samples) / sr,
        "notes": notes,
    })
    return t
