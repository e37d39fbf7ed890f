"""Find Whisper's alignment heads: score every decoder cross-attention head against a reference
alignment of the same clip, rank them, compare with the checkpoint's ``alignment_heads``.

Reference word times (:func:`reference_words`): the committed clips carry their texts
(``assets/clips/clips.json``) but no word times, so the reference is the CTC forced alignment of
the clip's text (``lab.ctc.align``, Viterbi over the CTC trellis) by a zoo CTC model -- by
default ``tiny-wav2vec2-ctc-en``, a wav2vec2 trained by the lab, which shares nothing with
Whisper (``whisper-tiny.en-ctc`` is the other zoo choice; it shares tiny.en's encoder). A CTC
word spans the frames from its first character's spike to the end of its last character's:
ends tend to be early (CTC emits a character and then blanks). A second, independent reference
(:func:`espeak_reference_words`): espeak-ng's own word events when the clip is re-synthesised
through ``libespeak-ng`` from its ``clips.json`` row (the command line does not print them;
checked to give audio as long as the committed clip, else a LabError -- the fox clip's speed was
not recorded).

The metric (:func:`score_heads`): for each text token of the Whisper transcript whose word is
matched to a reference word (jiwer word alignment of the normalised texts: equal and
substituted words), take that token's cross-attention row of each head (the decoding step that
chose the token: its query is the token before), crop it to the encoder frames holding audio
(50 per second) and renormalise, and sum the attention mass inside the reference word's span
widened by ``tolerance`` seconds each side. A head's score is the mean mass over the tokens
(1 = all of its attention on the word being written; a head that attends uniformly scores the
span's share of the clip, ``overlap["uniform_score"]``). ``hits`` (reported too): the fraction of
tokens whose argmax frame lies inside the widened span.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from .. import capture as _core
from ..errors import LabError
from ..trace import CapturePolicy, Trace

REFERENCE_MODEL = "tiny-wav2vec2-ctc-en"
TOLERANCE_S = 0.04  # seconds added to each side of a reference word span (2 encoder frames)
ENCODER_FPS = 50.0
METRIC = ("mean over matched text tokens of the cross-attention mass (renormalised over the "
          "frames holding audio) inside the token's reference word span +- tolerance")
CROSS_POLICY = CapturePolicy(names=["decoder.step.*.cross_attn.pattern", "decoder.logits"],
                             attn_dtype=torch.float32)


# -- reference word times ---------------------------------------------------------------------
def clip_text(path: str | Path) -> str:
    """The text of a committed clip: ``clips.json`` (or any ``*.json`` mapping file names to
    ``{"text": ...}``) next to it. LabError when there is none."""
    p = Path(path)
    for meta in [p.parent / "clips.json", *sorted(p.parent.glob("*.json"))]:
        if not meta.is_file():
            continue
        try:
            table = json.loads(meta.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        row = table.get(p.name) if isinstance(table, dict) else None
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            return row["text"]
    raise LabError(f"no text for {p.name}: give text= or add it to clips.json next to the clip")


def reference_words(clip, text: str | None = None, *, ctc=None) -> list[dict]:
    """Reference word times for ``clip`` (a path or anything ``trace_ctc`` takes): the CTC
    forced alignment of ``text`` (default: the clip's text in ``clips.json``) with the CTC
    model ``ctc`` (a Loaded or an id; default :data:`REFERENCE_MODEL`).

    Returns ``[{word, start, end, score, source}]``: seconds from the clip start; ``score``: the
    mean CTC probability of the word's characters along the alignment."""
    from ..ctc.capture import trace_ctc

    if text is None:
        if not isinstance(clip, (str, Path)):
            raise LabError("reference_words: give text= for audio that is not a committed clip path")
        text = clip_text(clip)
    ctc = _core.as_loaded(ctc if ctc is not None else REFERENCE_MODEL, "ctc")
    tr = trace_ctc(clip, ctc, reference=text, policy=CapturePolicy(names=["input.*", "ctc.*"]))
    source = f"CTC forced alignment ({ctc.model_id})"
    return [{"word": w["word"], "start": float(w["start"]), "end": float(w["end"]),
             "score": float(w["score"]), "source": source} for w in tr.meta["alignment"]["words"]]


# -- espeak-ng's own word times (the synthesiser's word events) ---------------------------------
_ESPEAK_LOCK = __import__("threading").Lock()
ESPEAK_MAX_LENGTH_GAP_S = 0.1  # a re-synthesis longer / shorter than this is not the same audio


def espeak_words(text: str, voice: str, rate: int) -> tuple[list[dict], float]:
    """Word times espeak-ng itself reports while synthesising ``text`` (``voice``, ``rate``
    words per minute) through ``libespeak-ng`` (the command line prints none): its word events
    give each word's start (ms into the audio); a word's end is the next word's start, the last
    word's the end-of-message event. espeak emits no event for some unstressed words ("in the
    morning": none for "the"): such a word gets no entry and the word before it no end (None).
    Returns (``[{word, start, end, source}]``, seconds of audio synthesised, end pause included).
    LabError when the library is missing or the voice unknown."""
    import ctypes
    import re

    try:
        lib = ctypes.CDLL("libespeak-ng.so.1")
    except OSError:
        raise LabError("libespeak-ng.so.1 is not installed (apt-get install espeak-ng)") from None

    class Event(ctypes.Structure):  # espeak_EVENT (speak_lib.h)
        _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                    ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                    ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                    ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]

    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                     ctypes.POINTER(Event))
    n_samples, events = [0], []

    def on_audio(_wav, n, ev):
        n_samples[0] += max(0, n)
        i = 0
        while ev[i].type != 0:  # espeakEVENT_LIST_TERMINATED
            events.append((ev[i].type, ev[i].text_position, ev[i].length, ev[i].audio_position))
            i += 1
        return 0

    with _ESPEAK_LOCK:
        rate_hz = lib.espeak_Initialize(2, 0, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS
        if rate_hz <= 0:
            raise LabError("espeak-ng failed to initialise (no espeak-ng-data?)")
        cb = callback_type(on_audio)
        lib.espeak_SetSynthCallback(cb)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise LabError(f"espeak-ng has no voice {voice!r}")
        lib.espeak_SetParameter(1, int(rate), 0)  # espeakRATE
        b = text.encode()
        lib.espeak_Synth(b, len(b) + 1, 0, 1, 0, 0x1000, None, None)  # POS_CHARACTER, espeakENDPAUSE
        lib.espeak_Synchronize()
    # text_position counts characters from 1 (the text is ASCII here; bytes = characters)
    spans = {m.start() + 1: m.group() for m in re.finditer(r"\S+", text)}
    starts = {pos: ms / 1000 for kind, pos, _, ms in events if kind == 1}  # espeakEVENT_WORD
    end_ms = max((ms for kind, _, _, ms in events if kind in (5, 6)), default=None)  # END, MSG_TERMINATED
    order = sorted(spans)
    words = []
    for k, pos in enumerate(order):
        if pos not in starts:
            continue
        nxt = order[k + 1] if k + 1 < len(order) else None
        end = starts.get(nxt) if nxt is not None else (end_ms / 1000 if end_ms is not None else None)
        words.append({"word": spans[pos], "start": starts[pos], "end": end,
                      "source": f"espeak-ng word events ({voice}, {rate} wpm)"})
    return words, n_samples[0] / rate_hz


def espeak_reference_words(clip: str | Path) -> list[dict]:
    """espeak-ng's word times for a committed clip, re-synthesised from its ``clips.json`` row
    (text, voice, ``-s`` speed; 175 wpm, espeak's default, when the row records none). LabError
    when the re-synthesis is not as long as the clip (within :data:`ESPEAK_MAX_LENGTH_GAP_S`):
    then it is not the same audio and its times do not apply."""
    from ..audio import load_audio

    p = Path(clip)
    row = json.loads((p.parent / "clips.json").read_text(encoding="utf-8")).get(p.name) \
        if (p.parent / "clips.json").is_file() else None
    if not row or "voice" not in row:
        raise LabError(f"{p.name}: no clips.json row with text and voice next to it")
    import re

    m = re.search(r"-s\s+(\d+)", row.get("made_with", ""))
    rate = int(m.group(1)) if m else 175
    words, seconds = espeak_words(row["text"], row["voice"], rate)
    clip_s = load_audio(p).seconds
    if abs(seconds - clip_s) > ESPEAK_MAX_LENGTH_GAP_S:
        raise LabError(f"{p.name}: espeak-ng {row['voice']} at {rate} wpm gives {seconds:.2f} s, the "
                       f"clip is {clip_s:.2f} s: not the same synthesis (speed not recorded?)")
    return words


# -- matching Whisper's words to the reference -------------------------------------------------
def _normalised(words: Sequence[str]) -> tuple[list[str], list[int]]:
    """Normalised pieces of ``words`` and, for each piece, the index of the word it came from."""
    from ..wer import normalize_text

    pieces, owner = [], []
    for i, w in enumerate(words):
        for piece in normalize_text(w).split():
            pieces.append(piece)
            owner.append(i)
    return pieces, owner


def match_words(hyp: Sequence[str], ref: Sequence[str]) -> dict[int, int]:
    """``{hyp word index: ref word index}`` from the jiwer alignment of the normalised words:
    equal words and substitutions (a misheard word is still said at that place); insertions and
    deletions stay unmatched. A word that normalises to several pieces maps by its first one."""
    import jiwer

    h, h_owner = _normalised(hyp)
    r, r_owner = _normalised(ref)
    if not h or not r:
        return {}
    out = jiwer.process_words(" ".join(r), " ".join(h))
    pairs: dict[int, int] = {}
    for c in out.alignments[0]:
        if c.type not in ("equal", "substitute"):
            continue
        for k in range(c.ref_end_idx - c.ref_start_idx):
            hi, ri = h_owner[c.hyp_start_idx + k], r_owner[c.ref_start_idx + k]
            pairs.setdefault(hi, ri)
    return pairs


def token_spans(trace: Trace, tokenizer, ref_words: list[dict]) -> list[tuple[int, float, float]]:
    """``[(step, start s, end s)]``: each text token of the trace whose word matches a
    reference word, with that word's reference span."""
    from ..whisper.timestamps import split_words

    eos = _eos(tokenizer)
    ids = [s["token_id"] for s in trace.steps]
    rows = [k for k, t in enumerate(ids) if t < eos]
    if not rows:
        return []
    words, word_idx = split_words(tokenizer, [ids[k] for k in rows], eos, trace.meta.get("language"))
    pairs = match_words(words, [w["word"] for w in ref_words])
    out = []
    for wi, idx in enumerate(word_idx):
        if wi in pairs:
            ref = ref_words[pairs[wi]]
            out += [(rows[i], ref["start"], ref["end"]) for i in idx]
    return out


def _eos(tokenizer) -> int:
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    if not isinstance(eos, int) or eos < 0:
        raise LabError("the tokenizer has no <|endoftext|> token: is this a Whisper tokenizer?")
    return int(eos)


# -- scoring ----------------------------------------------------------------------------------
@dataclass
class HeadScores:
    """How well each decoder cross-attention head follows the reference alignment.

    ``scores``: (decoder_layer, head) mean attention mass inside the reference word (module
    docstring: the metric); ``hits``: (decoder_layer, head) fraction of tokens whose argmax frame
    is inside it; ``ranked``: ``[(layer, head, score)]`` best first; ``checkpoint_heads``: the
    model's ``generation_config.alignment_heads``; ``overlap``: ``k`` (= number of checkpoint
    heads), ``found_in_checkpoint`` (of the top-k found heads, how many are checkpoint heads),
    ``checkpoint_ranks`` (1-based rank of each checkpoint head), ``checkpoint_in_top_half``,
    ``checkpoint_mean_score``, ``top_k_mean_score``, ``all_heads_mean_score`` (a random head's
    expected score), ``uniform_score`` (a head attending uniformly). ``n_tokens``: tokens scored.
    """

    scores: torch.Tensor
    ranked: list[tuple[int, int, float]]
    checkpoint_heads: list[list[int]]
    overlap: dict
    hits: torch.Tensor | None = None
    n_tokens: int = 0
    tolerance: float = TOLERANCE_S
    metric: str = METRIC
    per_clip: list[dict] = field(default_factory=list)

    def top(self, k: int | None = None) -> list[list[int]]:
        """The best ``k`` heads as [[layer, head], ...] (default: as many as the checkpoint has)."""
        k = len(self.checkpoint_heads) if k is None else int(k)
        return [[l, h] for l, h, _ in self.ranked[:k]]

    def as_dict(self) -> dict:
        return {"scores": self.scores.tolist(), "hits": None if self.hits is None else self.hits.tolist(),
                "ranked": [list(r) for r in self.ranked], "checkpoint_heads": self.checkpoint_heads,
                "overlap": self.overlap, "n_tokens": self.n_tokens, "tolerance": self.tolerance,
                "metric": self.metric, "per_clip": self.per_clip}


def _cross_stack(trace: Trace, steps: list[int]) -> torch.Tensor:
    """(token, layer, head, key_frame) cross-attention rows of ``steps``; every decoder layer and
    head must have been captured."""
    model_meta = trace.meta.get("model", {})
    n_layers, n_heads = model_meta.get("decoder_layers"), model_meta.get("decoder_heads")
    layers = trace.meta.get("captured_layers", {}).get("decoder")
    if trace.meta.get("captured_heads") is not None or (layers is not None and n_layers is not None
                                                        and list(layers) != list(range(n_layers))):
        raise LabError("score_heads needs every decoder layer and head captured: trace with "
                       "lab.interventions.align_heads.CROSS_POLICY (or a policy without layers/heads)")
    rows = []
    for s in steps:
        name = f"decoder.step.{s}.cross_attn.pattern"
        if name not in trace:
            raise LabError(f"score_heads needs {name!r}: trace with a policy that keeps "
                           "'decoder.step.*.cross_attn.pattern' (CROSS_POLICY)")
        rows.append(trace[name].float())
    out = torch.stack(rows)
    if n_heads is not None and out.shape[2] != n_heads:
        raise LabError(f"score_heads: the trace holds {out.shape[2]} heads, the model has {n_heads}")
    return out


def _summarise(scores: torch.Tensor, hits: torch.Tensor | None, checkpoint: list[list[int]],
               uniform: float, n_tokens: int, tolerance: float, per_clip=None) -> HeadScores:
    L, H = scores.shape
    flat = [(l, h, float(scores[l, h])) for l in range(L) for h in range(H)]
    ranked = sorted(flat, key=lambda r: (-r[2], r[0], r[1]))
    rank_of = {(l, h): i + 1 for i, (l, h, _) in enumerate(ranked)}
    ck = [[int(l), int(h)] for l, h in checkpoint if 0 <= int(l) < L and 0 <= int(h) < H]
    k = len(ck)
    top = {(l, h) for l, h, _ in ranked[:k]}
    ranks = [rank_of[(l, h)] for l, h in ck]
    overlap = {
        "k": k, "n_heads_total": L * H,
        "found_in_checkpoint": sum((l, h) in top for l, h in ck),
        "checkpoint_ranks": ranks,
        "checkpoint_in_top_half": sum(r <= (L * H) / 2 for r in ranks),
        "checkpoint_mean_score": float(sum(scores[l, h] for l, h in ck) / k) if k else None,
        "top_k_mean_score": float(sum(s for _, _, s in ranked[:k]) / k) if k else None,
        "all_heads_mean_score": float(scores.mean()),
        "uniform_score": uniform,
    }
    return HeadScores(scores=scores, ranked=ranked, checkpoint_heads=ck, overlap=overlap, hits=hits,
                      n_tokens=n_tokens, tolerance=tolerance, per_clip=per_clip or [])


def score_heads(trace: Trace, reference_words: list[dict], *, tokenizer,
                tolerance: float = TOLERANCE_S) -> HeadScores:
    """Score every (decoder layer, head) of ``trace`` (a ``trace_whisper`` trace with every
    step's cross-attention: ``policy=CROSS_POLICY``) against ``reference_words`` (seconds; from
    :func:`reference_words`). The metric: module docstring / :data:`METRIC`. LabError when no
    token of the transcript matches a reference word."""
    if tolerance < 0 or not math.isfinite(tolerance):
        raise LabError(f"tolerance must be a number of seconds >= 0, got {tolerance!r}")
    spans = token_spans(trace, tokenizer, reference_words)
    if not spans:
        raise LabError("score_heads: no word of the transcript "
                       f"{trace.meta.get('text', '')!r} matches a reference word")
    rate = float(trace.time_bases.get("encoder_frame", ENCODER_FPS))
    n_frames = max(1, int(trace.meta.get("n_content_mel_frames", 3000)) // 2)
    cross = _cross_stack(trace, [s for s, _, _ in spans])[..., :n_frames]  # (token, layer, head, frame)
    cross = cross / cross.sum(-1, keepdim=True).clamp_min(1e-12)
    frames = torch.arange(n_frames, dtype=torch.float32)
    mass, hit, share = [], [], []
    for k, (_, a, b) in enumerate(spans):
        lo, hi = (a - tolerance) * rate, (b + tolerance) * rate
        inside = ((frames + 1 > lo) & (frames < hi)).float()  # frame f covers [f, f + 1) / rate
        mass.append((cross[k] * inside).sum(-1))
        hit.append(inside[cross[k].argmax(-1)])
        share.append(float(inside.mean()))
    scores = torch.stack(mass).mean(0)
    hits = torch.stack(hit).mean(0)
    ck = trace.meta.get("alignment_heads") or []
    return _summarise(scores, hits, ck, float(sum(share) / len(share)), len(spans), tolerance)


def score_heads_over(clips: Sequence, loaded, *, texts: Sequence[str] | None = None, ctc=None,
                     tolerance: float = TOLERANCE_S, references: Sequence[list[dict]] | None = None,
                     **trace_kw) -> HeadScores:
    """:func:`score_heads` on each clip (paths of committed clips, or audio with ``texts``),
    averaged over clips (each clip weighs the same). ``references``: reference words per clip
    (default :func:`reference_words` with ``ctc``); ``trace_kw`` go to ``trace_whisper``
    (default policy: :data:`CROSS_POLICY`). ``per_clip``: each clip's text, tokens scored and
    top heads."""
    from ..whisper.tracer import trace_whisper

    if not clips:
        raise LabError("score_heads_over: no clips")
    if texts is not None and len(texts) != len(clips):
        raise LabError(f"score_heads_over: {len(clips)} clips but {len(texts)} texts")
    loaded = _core.as_loaded(loaded, "whisper")
    tok = loaded.processor.tokenizer
    trace_kw = {"policy": CROSS_POLICY, "word_timestamps": False, **trace_kw}
    results, per_clip = [], []
    for i, clip in enumerate(clips):
        ref = references[i] if references is not None else reference_words(
            clip, texts[i] if texts is not None else None, ctc=ctc)
        tr = trace_whisper(clip, loaded, **trace_kw)
        r = score_heads(tr, ref, tokenizer=tok, tolerance=tolerance)
        results.append(r)
        per_clip.append({"clip": str(getattr(clip, "name", clip)), "text": tr.meta["text"],
                         "n_tokens": r.n_tokens, "top": r.top(), "overlap": r.overlap})
    return combine(results, per_clip=per_clip)


def combine(results: Sequence[HeadScores], *, per_clip: list[dict] | None = None) -> HeadScores:
    """The mean of several clips' :class:`HeadScores` (each clip weighs the same), ranked again
    (e.g. leave one clip out: find the heads on the others)."""
    if not results:
        raise LabError("combine: no HeadScores")
    scores = torch.stack([r.scores for r in results]).mean(0)
    hits = (torch.stack([r.hits for r in results]).mean(0)
            if all(r.hits is not None for r in results) else None)
    uniform = sum(r.overlap["uniform_score"] for r in results) / len(results)
    return _summarise(scores, hits, results[0].checkpoint_heads, uniform,
                      sum(r.n_tokens for r in results), results[0].tolerance, per_clip)


# -- word-time error --------------------------------------------------------------------------
def word_time_error(words: list[dict], ref_words: list[dict]) -> dict:
    """Mean |start - reference start| and |end - reference end| (seconds) over the words of
    ``words`` (``trace.meta["words"]`` / ``word_timestamps``) matched to ``ref_words``
    (:func:`match_words`). ``{start, end, mean, n_matched, n_words}`` (``mean``: over starts and
    ends together); reference times that are None (espeak: no end) are skipped; None errors
    when nothing matched."""
    pairs = match_words([w["word"] for w in words], [w["word"] for w in ref_words])
    ds = [abs(words[i]["start"] - ref_words[j]["start"]) for i, j in pairs.items()
          if ref_words[j].get("start") is not None]
    de = [abs(words[i]["end"] - ref_words[j]["end"]) for i, j in pairs.items()
          if ref_words[j].get("end") is not None]
    both = ds + de
    return {"start": sum(ds) / len(ds) if ds else None, "end": sum(de) / len(de) if de else None,
            "mean": sum(both) / len(both) if both else None, "n_matched": len(pairs),
            "n_words": len(words)}
