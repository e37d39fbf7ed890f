"""The TTS lab: SpeechT5 growing a spectrogram step by step (captured names, axes and meta keys:
``names.py``, ``describe()``). Public API: ``trace_tts``, ``iter_trace_tts``, ``trace_sentences``,
``load_tts``, ``check_text``, ``load_speaker``, ``vocode``, ``griffin_lim``, ``describe``."""
from .capture import (SentencesResult, iter_trace_tts, load_tts, model_ref, no_model_message,
                      trace_sentences, trace_tts)
from .loop import LoopSettings
from .names import AXES, META, MODULES, describe
from .speaker import load_speaker
from .text import check_text, prepare_text, split_sentences
from .tiny import TINY_ID
from .vocoder import GRIFFIN_LIM, HIFIGAN, MelParams, griffin_lim, vocode

__all__ = ["trace_tts", "iter_trace_tts", "trace_sentences", "load_tts", "model_ref",
           "no_model_message", "SentencesResult", "LoopSettings", "MODULES", "load_speaker",
           "check_text", "prepare_text", "split_sentences", "TINY_ID", "GRIFFIN_LIM", "HIFIGAN",
           "MelParams", "griffin_lim", "vocode", "describe", "AXES", "META"]
