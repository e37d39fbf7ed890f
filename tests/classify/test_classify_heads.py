"""One encoder, three heads: the table read from configs vs the instantiated models."""
import pytest
import torch
import transformers as T

from lab.classify import three_heads
from lab.classify.heads import encoder_frames
from lab.classify.tiny import tiny_config
from lab.errors import LabError

HEAD_MODULES = {"ctc": ["lm_head"], "sequence": ["projector", "classifier"],
                "frame": ["classifier"]}
CLASSES = {"ctc": T.Wav2Vec2ForCTC, "sequence": T.Wav2Vec2ForSequenceClassification,
           "frame": T.Wav2Vec2ForAudioFrameClassification}


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_match_the_instantiated_heads(weighted):
    cfg = tiny_config("wav2vec2-seq", vocab_size=12, use_weighted_layer_sum=weighted)
    rows = three_heads(cfg, n_samples=8000)
    assert [r["head"] for r in rows] == ["ctc", "sequence", "frame"]
    x = torch.randn(1, 8000)
    for row in rows:
        torch.manual_seed(0)
        model = CLASSES[row["head"]](cfg).eval()
        assert row["architecture"] == type(model).__name__ and row["exists"]
        params = sum(p.numel() for m in HEAD_MODULES[row["head"]]
                     for p in getattr(model, m).parameters())
        if weighted and row["head"] != "ctc":
            params += model.layer_weights.numel()
        assert row["params"] == params
        with torch.no_grad():
            out = model(x).logits[0]
        assert tuple(out.shape) == row["output_shape"]
    assert rows[0]["output_shape"] == (24, 12) and rows[2]["output_shape"] == (24, 8)
    assert "sum" in rows[0]["loss"] and "pad_token_id 0" in rows[0]["loss"]


def test_rows_from_three_checkpoints(in_memory):
    models = [in_memory(k).model for k in ("wav2vec2-ctc", "wav2vec2-seq", "wav2vec2-frame")]
    rows = three_heads(models, n_samples=16000)
    assert [r["head"] for r in rows] == ["ctc", "sequence", "frame"]
    assert rows[1]["output_shape"] == (8,) and rows[2]["output_shape"] == (49, 3)
    assert rows[0]["output_shape"] == (49, 12)


def test_encoder_frames_match_the_model():
    cfg = tiny_config("wav2vec2-frame")
    m = T.Wav2Vec2Model(cfg)
    assert encoder_frames(cfg, 16000) == int(m._get_feat_extract_output_lengths(16000)) == 49


def test_not_an_encoder_config():
    with pytest.raises(LabError, match="wav2vec2-style"):
        three_heads(T.ASTConfig())
    with pytest.raises(LabError):
        three_heads([T.ASTConfig(architectures=["ASTForAudioClassification"])])
