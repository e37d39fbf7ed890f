"""Segments from timestamp tokens, and where the next window starts (transformers 5
``WhisperGenerationMixin._retrieve_segment``, the same rules as openai ``transcribe()``).

A decoded window (timestamps on, end-of-text removed) looks like
``<|0.00|> text <|2.40|><|2.40|> text <|5.10|><|5.10|> text`` : every pair of consecutive
timestamp tokens closes a segment. Then:

- ends with a single timestamp after text (``... text <|7.00|>``): no speech after it, the whole
  window is consumed (``"single_timestamp"``);
- ends with text after the last pair: that last segment is unfinished (cut by the window edge);
  it is dropped and the next window starts at the last complete timestamp (``"last_timestamp"``);
- no pair at all: the whole decoding is one segment ending at the window end (or at its only
  timestamp) and the whole window is consumed (``"no_timestamp_pair"``).

Times are seconds from the window start; ``seek`` offsets are in mel frames (100 per second).
"""
from __future__ import annotations

from .constants import MEL_FRAMES_PER_SECOND, TIMESTAMP_SECONDS

INPUT_STRIDE = 2  # mel frames per encoder frame (= per timestamp step)


def split_segments(tokens: list[int], timestamp_begin: int, seek_num_frames: int) -> tuple[list[dict], int, str]:
    """(segments, seek offset in mel frames, kind) of one window's generated ``tokens``
    (end-of-text removed). ``seek_num_frames``: mel frames of audio the window held.

    Each segment: ``{"start", "end"}`` (s, window-relative), ``"tokens"`` (ids, timestamps
    included), ``"slice"`` (a, b): its position in ``tokens``. ``kind``: single_timestamp |
    last_timestamp | no_timestamp_pair (see the module docstring)."""
    is_ts = [t >= timestamp_begin for t in tokens]
    single_ending = is_ts[-2:] == [False, True]
    cuts = [i + 1 for i in range(len(is_ts) - 1) if is_ts[i] and is_ts[i + 1]]
    if cuts:
        segments = []
        if single_ending:
            cuts.append(len(tokens))
        else:
            cuts[-1] += 1  # keep the closing timestamp in the last segment
        last = 0
        for j, cut in enumerate(cuts):
            piece = tokens[last:cut]
            end_idx = -1 if (j < len(cuts) - 1 or single_ending) else -2
            segments.append({"start": (piece[0] - timestamp_begin) * TIMESTAMP_SECONDS,
                             "end": (piece[end_idx] - timestamp_begin) * TIMESTAMP_SECONDS,
                             "tokens": list(piece), "slice": (last, cut)})
            last = cut
        if single_ending:
            return segments, int(seek_num_frames), "single_timestamp"
        last_pos = tokens[last - 2] - timestamp_begin
        return segments, int(last_pos * INPUT_STRIDE), "last_timestamp"
    stamps = [t for t in tokens if t >= timestamp_begin]
    end_pos = int(seek_num_frames * (1 / MEL_FRAMES_PER_SECOND) / TIMESTAMP_SECONDS)  # HF's expression
    if stamps and stamps[-1] != timestamp_begin:
        end_pos = stamps[-1] - timestamp_begin
    return ([{"start": 0.0, "end": end_pos * TIMESTAMP_SECONDS, "tokens": list(tokens), "slice": (0, len(tokens))}],
            int(seek_num_frames), "no_timestamp_pair")


def with_text(segments: list[dict], tokenizer, offset: float = 0.0, **extra) -> list[dict]:
    """Segments as JSON rows: ``start``/``end`` + ``offset`` (s, rounded to 1 ms), ``text`` (special and timestamp tokens skipped), ``tokens``, plus ``extra`` keys."""
    return [{"start": round(offset + s["start"], 3), "end": round(offset + s["end"], 3),
             "text": tokenizer.decode(s["tokens"], skip_special_tokens=True), "tokens": list(s["tokens"]),
             **extra} for s in segments]


def window_segments(trace, model, tokenizer) -> list[dict]:
    """``meta["segments"]`` of a one-window (<= 30 s) timestamp trace: the complete segments of
    :func:`split_segments`, plus the tail after the last timestamp pair (text the window edge cut,
    which long-form decoding would re-decode from the last timestamp) as a segment ending at the
    end of the audio with ``"complete": False``. Rows: ``{start, end (s), text, tokens, complete}``."""
    eos = int(model.generation_config.eos_token_id)
    tb = int(model.generation_config.no_timestamps_token_id) + 1
    ids = [t for t in trace.meta["token_ids"] if t != eos]
    n_frames = int(trace.meta.get("n_mel_frames", 3000))
    segs, _, kind = split_segments(ids, tb, n_frames)
    rows = with_text(segs, tokenizer, complete=True)
    used = segs[-1]["slice"][1] if segs else 0
    if kind == "last_timestamp" and used < len(ids):
        tail = ids[used:]
        start = (tail[0] - tb) * TIMESTAMP_SECONDS if tail[0] >= tb else rows[-1]["end"]
        rows.append({"start": round(start, 3), "end": round(float(trace.meta.get("content_seconds", 30.0)), 3),
                     "text": tokenizer.decode(tail, skip_special_tokens=True), "tokens": tail, "complete": False})
    return rows
