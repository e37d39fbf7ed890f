"""Force a token on the real offline Whisper models: the forced run's continuation equals
``generate()`` given prompt + the tokens before the step + the forced token as decoder_input_ids;
knocking out the alignment heads moves the word times."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lab.interventions import Ablate, ForceToken
from lab.interventions.diff import diff
from lab.whisper import trace_whisper

CLIPS = Path(__file__).resolve().parents[2] / "assets" / "clips"
LIGHT = None


def _features(loaded, path):
    from lab.audio import load_audio
    from lab.whisper.capture import log_mel

    return log_mel(load_audio(path), loaded.processor)[0]


@pytest.mark.real
@pytest.mark.parametrize("model_id", ["whisper-tiny.en", "whisper-base"])
def test_forced_continuation_equals_generate(model_id):
    from lab.models import load_cached
    from lab.trace import CapturePolicy

    loaded = load_cached(model_id, family="whisper")
    pol = CapturePolicy(names=["decoder.logits"])
    clip = CLIPS / "quick_brown_fox.wav"
    base = trace_whisper(clip, loaded, policy=pol, word_timestamps=False)
    step = 3
    alt = base.steps[step]["top_k"][1]["token_id"]  # the runner-up: "what if it had chosen this?"
    t = trace_whisper(clip, loaded, policy=pol, word_timestamps=False,
                      interventions=[ForceToken(step=step, token_id=alt)])
    ids = t.meta["token_ids"]
    assert ids[:step] == base.meta["token_ids"][:step] and ids[step] == alt
    prompt = [p["token_id"] for p in t.meta["prompt"]]
    with torch.no_grad():
        out = loaded.model.generate(_features(loaded, clip),
                                    decoder_input_ids=torch.tensor([prompt + ids[:step + 1]]))[0].tolist()
    cont = ids[step + 1:]
    want = out[len(prompt) + step + 1:] if out[:len(prompt)] == prompt else out
    eos = int(loaded.model.generation_config.eos_token_id)
    assert [x for x in cont if x != eos] == [x for x in want if x != eos]
    assert diff(base, t)["steps"]["first_divergent_step"] == step


@pytest.mark.real
def test_alignment_heads_knockout_moves_word_times():
    from lab.models import load_cached

    loaded = load_cached("whisper-tiny.en", family="whisper")
    heads = [[int(l), int(h)] for l, h in loaded.model.generation_config.alignment_heads]
    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(l, []).append(h)
    iv = [Ablate(f"decoder.layers.{l}.cross_attn", heads=tuple(hs)) for l, hs in sorted(by_layer.items())]
    clip = CLIPS / "quick_brown_fox.wav"
    a = trace_whisper(clip, loaded)
    # free-running, the knocked-out model loses the transcript itself (text diff) ...
    free = diff(a, trace_whisper(clip, loaded, interventions=iv))
    assert free["text"]["changed"]
    # ... so word times are compared on the intact run's own tokens (every step forced to them)
    forced = [ForceToken(s, t) for s, t in enumerate(a.meta["token_ids"])]
    d = diff(a, trace_whisper(clip, loaded, interventions=iv + forced))
    assert not d["text"]["changed"] and d["words"]["matched"] == len(a.meta["words"])
    assert d["words"]["start_shift"]["mean_abs"] + d["words"]["end_shift"]["mean_abs"] > 0.02
