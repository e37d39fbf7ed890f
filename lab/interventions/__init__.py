"""What-if runs: change one thing inside a running model and see what follows.

- :mod:`.spec`: the interventions as data (``Ablate``, ``ForceToken``; JSON in and out; other
  kinds register themselves: :mod:`.edit` ``EditAudio``, :mod:`.patch` ``Patch``,
  :mod:`.tts_knobs` ``StopScale``, ``SpeakerEdit``, ``ClampCrossAttn``);
- :mod:`.edit`: audio edits (silence / noise at an SNR / swap a span of another clip, word-aligned),
  applied by the tracers to their input;
- :mod:`.patch`: clip B's activations (``encoder.output``, ``encoder.layers.N``) hooked into A's run;
- :mod:`.targets`: target names (``encoder.layers.2.attn``) -> modules, from each family's
  ``names.intervention_targets``;
- :mod:`.hooks`: :class:`Plan` -- the hooks, installed under the model's lock and removed in
  ``finally``, and the record that goes to ``trace.meta["intervention"]``;
- :mod:`.lens`: every encoder layer read through the output head (``ctc_lens``, ``whisper_lens``);
- :mod:`.align_heads`: score Whisper's cross-attention heads against reference word times;
- :mod:`.diff`: two traces of the same input -> what changed;
- :mod:`.run`: :func:`what_if` -- the unchanged run, the changed run and their diff.

A family's trace function takes ``interventions=`` (a list of specs or their dicts) and returns a
normal Trace, so every figure draws a changed run.
"""
from __future__ import annotations

from .hooks import Plan, plan_for
from .edit import EditAudio, apply_edits, parse_edit, word_edit, word_spans
from .patch import Patch
from .tts_knobs import ClampCrossAttn, SpeakerEdit, StopScale
from .spec import Ablate, ForceToken, load, parse, parse_ablate, parse_force, to_json

__all__ = ["Ablate", "ForceToken", "Plan", "plan_for", "parse", "load", "to_json", "parse_ablate",
           "parse_force", "EditAudio", "Patch", "apply_edits", "parse_edit", "word_edit", "word_spans",
           "StopScale", "SpeakerEdit", "ClampCrossAttn"]
