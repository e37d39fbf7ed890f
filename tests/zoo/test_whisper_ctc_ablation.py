"""scripts/whisper_ctc_ablation.py: re-running the last K encoder layers from cached states gives
the frozen model's own head input, so a fine-tuning run starts from the frozen model exactly."""
import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _script():
    path = ROOT / "scripts" / "whisper_ctc_ablation.py"
    spec = importlib.util.spec_from_file_location("whisper_ctc_ablation", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("k", [1, 2])
def test_head_input_rerun_matches_cached_states(k):
    from lab.ctc.whisper_ctc import WhisperCTCConfig, WhisperCTCForCTC

    torch.manual_seed(0)
    cfg = WhisperCTCConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                           head_dim=16, head_heads=2, head_ffn_dim=32, head_layers=1,
                           use_weighted_layer_sum=True)
    cfg._attn_implementation = "eager"
    m = WhisperCTCForCTC(cfg).eval()
    with torch.no_grad():
        m.layer_weights.copy_(torch.randn(3))  # a mix that weights every layer differently
        mask = torch.ones(2, 60, dtype=torch.long)
        mask[1, 40:] = 0
        feats = torch.randn(2, 80, 120)
        states = m.encode_states(feats, mask)  # (batch, layer, frame, d_model), as the recipe caches
        script = _script()
        frozen = script.head_input(m, 0, states, mask)
        rerun = script.head_input(m, k, states, mask)
        own = m.encode(feats, mask)  # the model's own head input, straight from the features
        # a changed last layer must change the rerun: the layers really are recomputed
        m.encoder.layers[-1].fc2.bias.add_(torch.randn(32))  # not a constant: the norm removes those
        changed = script.head_input(m, k, states, mask)
    assert torch.allclose(frozen, own, atol=1e-6)
    assert torch.allclose(rerun, frozen, atol=1e-5)
    assert not torch.allclose(changed, frozen, atol=1e-3)
