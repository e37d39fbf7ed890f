"""Whisper's language step, and the prompt described token by token.

Multilingual checkpoints (``generation_config.lang_to_id``) pick the language from ONE decoder
step: ``<|startoftranscript|>`` is fed, and the logits at that first position, restricted to the
language tokens, choose it (argmax) -- transformers 5 ``WhisperGenerationMixin.detect_language``,
which ``generate()`` calls when no language is given, and openai ``decoding.detect_language``
(softmax over the language tokens = the probabilities shown). English-only checkpoints
(``*.en``) have no language step: their prompt is ``<|startoftranscript|> <|notimestamps|>``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..capture import model_lock
from ..errors import LabError

LANGUAGE_TOP = 10


def language_name(code: str) -> str:
    """English name of a Whisper language code (``de`` -> ``german``; unknown: the code)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return LANGUAGES.get(code, code)


def is_multilingual(model) -> bool:
    """True when the checkpoint has language tokens (``generation_config.lang_to_id``) and does
    not say it is English-only."""
    gen = model.generation_config
    return bool(getattr(gen, "lang_to_id", None)) and getattr(gen, "is_multilingual", None) is not False


def model_languages(model) -> list[tuple[str, int]]:
    """(code, token id) of every language token of the checkpoint, in token-id order (openai's
    order: en, zh, de, es, ...). Empty for English-only checkpoints."""
    if not is_multilingual(model):
        return []
    lang_to_id = model.generation_config.lang_to_id
    return sorted(((tok.strip("<|>"), int(i)) for tok, i in lang_to_id.items()), key=lambda r: r[1])


@dataclass
class LanguageResult:
    """The language step of one window.

    ``codes``: language codes in token-id order (the ``language`` axis); ``token_ids``: their
    token ids; ``probs``: (language,) float32 softmax over the language tokens' logits at the
    first decoder position; ``code`` / ``token_id``: the argmax (what ``generate()`` picks)."""

    codes: list[str]
    token_ids: list[int]
    probs: torch.Tensor
    code: str
    token_id: int

    @property
    def prob(self) -> float:
        """Probability of the chosen language."""
        return float(self.probs[self.codes.index(self.code)])

    def top(self, k: int = LANGUAGE_TOP) -> list[dict]:
        """The ``k`` most likely languages: ``[{language (code), name, prob}]``, best first."""
        order = torch.argsort(self.probs, descending=True)[:k]
        return [{"language": self.codes[int(j)], "name": language_name(self.codes[int(j)]),
                 "prob": float(self.probs[int(j)])} for j in order]


def detect_language(model, encoder_out: torch.Tensor) -> LanguageResult:
    """The language step: feed ``<|startoftranscript|>`` once over ``encoder_out`` (1,
    encoder_frame, hidden), softmax the first position's logits over the language tokens.
    Raises LabError on an English-only checkpoint. Runs under the model's lock (no other
    request's hooks see this forward pass)."""
    from transformers.modeling_outputs import BaseModelOutput

    langs = model_languages(model)
    if not langs:
        raise LabError("English-only Whisper checkpoint: it has no language tokens, so no language step")
    if encoder_out.dim() != 3 or encoder_out.shape[0] != 1:
        raise LabError(f"detect_language takes one window's encoder output (1, frames, hidden), "
                       f"got shape {tuple(encoder_out.shape)}")
    sot = int(model.generation_config.decoder_start_token_id)
    start = torch.tensor([[sot]], device=encoder_out.device)
    with model_lock(model), torch.no_grad():
        logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=encoder_out),
                       decoder_input_ids=start, use_cache=False).logits[0, -1].float()
    ids = torch.tensor([i for _, i in langs], device=logits.device)
    probs = torch.softmax(logits[ids], -1).cpu()
    best = int(probs.argmax())
    return LanguageResult(codes=[c for c, _ in langs], token_ids=[i for _, i in langs], probs=probs,
                          code=langs[best][0], token_id=langs[best][1])


def record_language(trace, prompt) -> None:
    """Put a prompt's language step into ``trace``: meta ``language``, ``task``,
    ``language_source`` (detected | forced | None on English-only checkpoints) and, when the step
    ran (``prompt.detection``), tensor ``decoder.language_probs`` (language,), meta
    ``language_codes`` (its order), ``language_probs`` (top ``LANGUAGE_TOP``) and
    ``detected_language`` (the step's own pick, which a forced language may differ from)."""
    from . import names

    trace.meta["language"] = prompt.language
    trace.meta["task"] = prompt.task
    trace.meta["language_source"] = prompt.language_source
    det = prompt.detection
    if det is None:
        return
    trace.add("decoder.language_probs", det.probs, names.AXES["decoder.language_probs"], force=True)
    trace.meta["language_codes"] = list(det.codes)
    trace.meta["language_probs"] = det.top()
    trace.meta["detected_language"] = det.code


def describe_prompt(ids: list[int], tokenizer, model) -> list[dict]:
    """``[{token_id, token, role}]`` for a decoder prompt; ``role``: previous (``<|startofprev|>``
    and the previous window's text) | sot | language | task | no_timestamps."""
    gen = model.generation_config
    sot = int(gen.decoder_start_token_id)
    langs = {i for _, i in model_languages(model)}
    tasks = set((getattr(gen, "task_to_id", None) or {}).values())
    nts = getattr(gen, "no_timestamps_token_id", None)
    rows, seen_sot = [], False
    for i in ids:
        i = int(i)
        if i == sot:
            role, seen_sot = "sot", True
        elif not seen_sot:
            role = "previous"
        elif i in langs:
            role = "language"
        elif i in tasks:
            role = "task"
        elif nts is not None and i == int(nts):
            role = "no_timestamps"
        else:
            role = "other"
        rows.append({"token_id": i, "token": tokenizer.decode([i]), "role": role})
    return rows


DETECT = "detect"
ENGLISH_ONLY_NOTE = "English-only model: no language step (language and task apply to multilingual models)"


def language_choices() -> list[tuple[str, str]]:
    """(label, value) for a language picker: ``detect`` (the language step) first, then every
    Whisper language by name and code (``German (de)``), in Whisper's order."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [("detect (the language step)", DETECT)] + [(f"{n.title()} ({c})", c) for c, n in LANGUAGES.items()]


def choose(model, language: str | None, task: str | None) -> tuple[str | None, str | None, str | None]:
    """A picker's (language, task) as ``trace_whisper`` / ``trace_long`` arguments, plus a note:
    ``detect``/empty -> None (the language step chooses); on an English-only checkpoint both are
    dropped (None, None) with ``ENGLISH_ONLY_NOTE`` when the user had asked for something."""
    language = None if not language or language == DETECT else language
    task = task or None
    if not is_multilingual(model):
        asked = language is not None or task not in (None, "transcribe")
        return None, None, ENGLISH_ONLY_NOTE if asked else None
    return language, task, None
