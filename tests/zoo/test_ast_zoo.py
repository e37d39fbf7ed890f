"""The shipped ``tiny-ast-sounds`` tagger: loads offline through the resolver by id and meets its
goal (mAP >= 0.9) on the committed held-out scenes (``assets/heldout/tiny-ast-sounds/``, written by
``training.zoo.heldout.write_ast_sounds``)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.audio import load_audio
from lab.models import ZOO_DIR, resolve

ROOT = Path(__file__).resolve().parents[2]
HELD = ROOT / "assets" / "heldout" / "tiny-ast-sounds"


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """AP of binary labels ``y`` (n,) ranked by scores ``s`` (n,): mean precision at each positive."""
    order = np.argsort(-s, kind="stable")
    hits = y[order] > 0
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(prec[hits].mean())


def test_average_precision_matches_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    y, s = (rng.random(50) < 0.3).astype(int), rng.random(50)
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s))


@pytest.mark.real
def test_ast_sounds_heldout_map():
    L = resolve("tiny-ast-sounds")
    assert L.family == "classify" and L.weights_source.startswith("zoo:")
    assert type(L.model).__name__ == "ASTForAudioClassification"
    cfg = L.model.config
    assert cfg.problem_type == "multi_label_classification"
    assert L.processor.max_length == cfg.max_length and L.processor.num_mel_bins == cfg.num_mel_bins
    assert cfg.frequency_stride < cfg.patch_size and cfg.time_stride < cfg.patch_size  # overlapping
    assert next(L.model.parameters()).dtype == torch.float32  # fp16 on disk, fp32 in memory
    assert (ZOO_DIR / "tiny-ast-sounds" / "model.safetensors").stat().st_size <= 10_000_000
    metrics = json.loads((ZOO_DIR / "tiny-ast-sounds" / "metrics.json").read_text())
    assert metrics["heldout_mAP"] >= 0.9  # the training run's whole held-out set

    meta = json.loads((HELD / "labels.json").read_text())
    labels = [cfg.id2label[i] for i in range(cfg.num_labels)]
    y = np.array([[lab in meta[name] for lab in labels] for name in sorted(meta)], float)
    with torch.no_grad():
        s = np.stack([torch.sigmoid(L.model(**L.processor(load_audio(HELD / name).samples,
                                                          sampling_rate=16000, return_tensors="pt")).logits)[0].numpy()
                      for name in sorted(meta)])
    ap = {lab: average_precision(y[:, c], s[:, c]) for c, lab in enumerate(labels) if y[:, c].any()}
    assert len(ap) == 6
    assert np.mean(list(ap.values())) >= 0.9, ap


@pytest.mark.real
def test_classify_tab_offers_it_and_tags_the_example_scene():
    """The Classify tab's picker lists the zoo AST; on the speech-over-siren example scene (a held-out
    voice) its top two labels are speech and siren."""
    from apps import classify_tab
    from lab.classify import trace_classify

    assert "tiny-ast-sounds" in classify_tab.model_choices()
    assert "demo: tiny random AST" in classify_tab.model_choices()
    meta = json.loads((ROOT / "assets" / "clips" / "scenes" / "scenes.json").read_text())
    assert meta["speech_siren.wav"]["labels"] == ["speech", "siren"]
    trace = trace_classify(ROOT / "assets" / "clips" / "scenes" / "speech_siren.wav",
                           resolve("tiny-ast-sounds"), top_k=2)
    assert trace.meta["activation"] == "sigmoid"
    assert {r["label"] for r in trace.meta["top_k"]} == {"speech", "siren"}
