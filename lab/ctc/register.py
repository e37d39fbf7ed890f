"""The CTC family's rows in the resolver's registry (entry point ``audiolab.families``)."""
from __future__ import annotations

from lab import registry

HUB_IDS = ("facebook/wav2vec2-base-960h", "facebook/hubert-large-ls960-ft",
           "patrickvonplaten/wavlm-libri-clean-100h-base-plus", "facebook/data2vec-audio-base-960h",
           ("speechbrain/m-ctc-t-large", "M-CTC-T (lab implementation)"))


def load_mctct(path: str, attn: str, **kw):
    """M-CTC-T (removed from transformers 5): the lab's own classes, :mod:`lab.ctc.mctct`."""
    from .mctct import load

    return load(path, attn, **kw)


def load_whisper_ctc(path: str, attn: str, **kw):
    """``whisper-tiny.en-ctc``'s architecture: :mod:`lab.ctc.whisper_ctc`."""
    from .whisper_ctc import load

    return load(path, attn, **kw)


def register() -> None:
    from .whisper_ctc.build import bundle

    registry.add_bundle(bundle())
    registry.add_hub("ctc", *HUB_IDS)
    # every other *ForCTC through AutoModelForCTC + AutoProcessor
    registry.add_family("ctc", registry.auto_loader("AutoModelForCTC", "AutoProcessor"),
                        suffixes=("ForCTC",))
    registry.add_architecture("MCTCTForCTC", load_mctct, family="ctc", model_type="mctct")
    registry.add_architecture("WhisperCTCForCTC", load_whisper_ctc, family="ctc")
