"""``audiolab trace ctc`` on a tiny model saved to disk, and the CTC figures on real traces."""
import json

import pytest

from lab.cli import main
from lab.ctc import tiny
from lab.ctc.capture import decode_with_beams, fill_ctc, score_reference, trace_ctc, vocab_of
from lab.ctc.synthetic import peaky_logits
from lab.trace import CapturePolicy
from lab.viz import ctc as V
from lab.viz.common import figure_bytes

REF = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny.save_tiny("wav2vec2", tmp_path_factory.mktemp("tiny-w2v"))


def test_cli_json_keys(model_dir, clip, tmp_path, capsys):
    lm = tmp_path / "lm.txt"
    lm.write_text(REF + "\nThe dog sleeps.\n")
    rc = main(["trace", "ctc", clip, "--model", str(model_dir), "--reference", REF, "--lm", str(lm),
               "--beam", "8", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for k in ("text", "frame_tokens", "merged", "no_blanks", "naive_dedupe", "frames_per_second", "words",
              "model", "weights_source", "beam_text", "beam_lm_text", "wer", "cer"):
        assert k in out, k
    assert out["frames_per_second"] == 50.0 and out["hop_ms"] == 20.0 and out["receptive_field_ms"] == 25.0
    assert out["weights_source"].startswith("local:") and out["words_from"].startswith("forced")
    assert [w["word"] for w in out["words"]] == REF.upper().rstrip(".").split()
    assert all(set(w) == {"word", "start", "end", "score"} for w in out["words"])
    assert len(out["frame_tokens"]) >= out["n_frames"]


def test_cli_errors_are_messages(model_dir, tmp_path, capsys):
    assert main(["trace", "ctc", str(tmp_path / "missing.wav"), "--model", str(model_dir), "--json"]) == 2
    assert "not found" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["trace", "ctc", str(tmp_path / "x.wav"), "--model", str(tmp_path), "--json"]) == 2


@pytest.fixture(scope="module")
def peaky_trace():
    """A tiny model's trace whose CTC output is replaced by hand-made peaky logits."""
    L = tiny.loaded("wav2vec2")
    tr = trace_ctc(str(__import__("pathlib").Path(__file__).parents[2] / "assets/clips/quick_brown_fox.wav"),
                   L, policy=CapturePolicy.full())
    v = vocab_of(L)
    fill_ctc(tr, peaky_logits("the quick brown fox jumps over the lazy dog", v, tr.meta["n_frames"]), v)
    score_reference(tr, REF, vocab=v)
    decode_with_beams(tr, vocab=v, lm_text=REF, beam_size=8)
    return tr


def test_figures_build_and_stay_small(peaky_trace):
    tr = peaky_trace
    figs = [V.waveform_figure(tr), V.frame_grid_figure(tr), V.frame_grid_figure(tr, layer=0, width_s=0.005),
            V.length_chain_figure(tr), V.logits_figure(tr), V.token_strip_figure(tr),
            V.collapse_figure(tr), V.collapse_figure(tr, highlight=5), V.words_figure(tr, highlight=1),
            V.attention_figure(tr, 1, 0), V.attention_figure(tr, 0, "mean")]
    for f in figs:
        assert figure_bytes(f) < 2_000_000
    html = V.decoders_html(tr)
    assert "beam + 3-gram LM" in html and "greedy" in html and "reference" in html
    assert len(V.char_choices(tr)) == len(tr.meta["collapse"]["spans"]["no_blanks"])
    sr, x = V.char_slice(tr, 3)
    s = tr.meta["collapse"]["spans"]["no_blanks"][3]
    assert sr == 16000 and len(x) == pytest.approx((s["end"] - s["start"]) / 50 * sr + 0.1 * sr, abs=2)


def test_collapse_figure_rows_and_highlight(peaky_trace):
    f = V.collapse_figure(peaky_trace, highlight=2)
    rows = [t.name for t in f.data if t.type == "bar"]
    assert rows == ["frames", "merge repeats", "drop blanks", "| to space", "naive dedupe"]
    frames = next(t for t in f.data if t.name == "frames")
    assert len(frames.x) == peaky_trace.meta["n_frames"]
    assert len(f.layout.shapes) == 1  # the highlighted character's frames
    with pytest.raises(Exception):
        V.collapse_figure(peaky_trace, highlight=10_000)


def test_missing_attention_layer_message(peaky_trace):
    with pytest.raises(Exception, match="not captured"):
        V.attention_figure(peaky_trace, 7)


def test_length_bar_charts_leave_headroom_for_the_top_label(peaky_trace):
    """Outside value labels on a log axis: the axis must reach well above the tallest bar, or its
    label ("55,015" over the samples bar) is cut off."""
    import math

    from lab.viz.ctc_compare import lengths_figure

    fig = V.length_chain_figure(peaky_trace)
    top = max(fig.data[0].y)
    lo, hi = fig.layout.yaxis.range
    assert hi >= math.log10(top) + 0.3 and lo <= math.log10(min(fig.data[0].y))
    rows = [{"family": "ctc", "model": "m", "stages": [("samples", 55015, "16000/s"), ("frames", 172, "50/s")]},
            {"family": "whisper", "model": "w", "stages": [("samples", 55015, "16000/s"), ("words", 8, "")]}]
    lo, hi = lengths_figure(rows).layout.yaxis.range
    assert hi >= math.log10(55015) + 0.3 and lo <= math.log10(8)


def test_character_and_word_audio_are_the_slices_with_their_length(peaky_trace):
    """The players get (16000, int16 array) with the slice's samples; the label states the length
    (Gradio's player clock shows whole seconds: a 0.1 s slice reads 0:00)."""
    import numpy as np

    from apps import ctc_tab

    tr = peaky_trace
    _, upd = ctc_tab.show_character(tr, 1)
    sr, x = upd["value"]
    ref_sr, ref = V.char_slice(tr, 1)
    assert sr == ref_sr == 16000 and x.dtype == np.int16 and len(x) == len(ref) > 0
    assert f"{len(x) / sr:.2f} s" in upd["label"] and f"{len(x):,} samples" in upd["label"]
    w = tr.meta["words"][2]
    _, upd = ctc_tab.show_word(tr, 2)
    sr, x = upd["value"]
    assert len(x) == len(V.audio_slice(tr, w["start"], w["end"], pad=0.03)[1])
    assert np.abs(x).max() > 0 and f"{len(x) / sr:.2f} s" in upd["label"]
