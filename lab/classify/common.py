"""What every classifier trace shares: the model argument, the audio, label names, the
probability rule and the top-k list.

Probability rule (``activation``), in this order:

1. an explicit ``activation="sigmoid" | "softmax"`` argument wins;
2. ``config.problem_type``: ``"multi_label_classification"`` -> sigmoid (labels are independent
   yes/no questions, probabilities do not sum to 1); ``"single_label_classification"`` -> softmax
   (one distribution over the labels, sums to 1);
3. otherwise the architecture's own training loss: AST -> sigmoid (its AudioSet checkpoints are
   trained multi-label with binary cross-entropy; the hub configs leave ``problem_type`` unset);
   the wav2vec2-style sequence and frame classifiers -> softmax (their HF loss is cross-entropy).
"""
from __future__ import annotations

import torch

from .. import capture as _core
from ..audio import SAMPLE_RATE, Audio
from ..errors import LabError

SIGMOID, SOFTMAX = "sigmoid", "softmax"
_DEFAULT_ACTIVATION = {"ast": SIGMOID, "sequence": SOFTMAX, "frames": SOFTMAX}


def as_loaded(loaded):
    """A ``lab.models.Loaded``; a string is resolved (cached) as a classify model id."""
    return _core.as_loaded(loaded, "classify")


def as_audio(audio, sample_rate: int) -> Audio:
    """Validated mono float32 audio at ``sample_rate`` (anything ``load_audio`` takes)."""
    return _core.as_audio(audio, sample_rate)


_KIND_NAMES = {"ast": "an AST model", "sequence": "a sequence classifier",
               "frames": "a frame classifier"}


def open_run(loaded, audio, kind: str):
    """The start every classifier trace shares: ``(loaded, model, feature extractor, clip)``.

    ``loaded``: a Loaded or a model id; ``kind``: ``"ast" | "sequence" | "frames"``, checked
    against the model's table row (LabError naming what it is not); ``clip``: ``audio`` as mono
    float32 at the feature extractor's sampling rate (Hz)."""
    from . import names

    loaded = as_loaded(loaded)
    model, fe = loaded.model, loaded.processor
    if names.paths_for(model).kind != kind:
        raise LabError(f"{type(model).__name__} is not {_KIND_NAMES[kind]}; use trace_classify")
    clip = as_audio(audio, int(getattr(fe, "sampling_rate", SAMPLE_RATE)))
    return loaded, model, fe, clip


def label_names(config) -> list[str]:
    """``config.id2label`` as a list indexed by label id (keys may be ints or strings)."""
    id2label = {int(k): str(v) for k, v in (config.id2label or {}).items()}
    n = int(config.num_labels)
    return [id2label.get(i, f"LABEL_{i}") for i in range(n)]


def activation_for(config, kind: str, override: str | None = None) -> tuple[str, str]:
    """(``"sigmoid"`` | ``"softmax"``, why) following the module docstring's rule."""
    if override is not None:
        if override not in (SIGMOID, SOFTMAX):
            raise LabError(f"activation must be 'sigmoid' or 'softmax', not {override!r}")
        return override, "chosen by the caller"
    problem = getattr(config, "problem_type", None)
    if problem == "multi_label_classification":
        return SIGMOID, "config.problem_type = multi_label_classification"
    if problem == "single_label_classification":
        return SOFTMAX, "config.problem_type = single_label_classification"
    return _DEFAULT_ACTIVATION[kind], f"default for {kind} classifiers (config.problem_type unset)"


def probabilities(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """Sigmoid per label, or softmax over the last axis (labels)."""
    logits = logits.float()
    return torch.sigmoid(logits) if activation == SIGMOID else torch.softmax(logits, dim=-1)


def top_k(probs: torch.Tensor, logits: torch.Tensor, names: list[str], k: int) -> list[dict]:
    """Best ``k`` labels: ``[{"id", "label", "score", "logit"}...]``, best first."""
    k = max(1, min(int(k), probs.numel()))
    scores, ids = probs.float().topk(k)
    return [{"id": int(i), "label": names[int(i)], "score": float(s), "logit": float(logits[int(i)])}
            for s, i in zip(scores, ids)]


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def forward_hook_output(output):
    """The main tensor of a module output (a tensor or the first element of a tuple)."""
    return output[0] if isinstance(output, (tuple, list)) else output
