"""AST trace: patch grid, patch pixels, logits, attention, rollout, padding, hooks."""
import numpy as np
import pytest
import torch
import transformers as T

from lab.classify import attention_rollout, extract_patches, fbank_frames, patch_grid, trace_ast
from lab.errors import LabError
from lab.models import resolve
from lab.trace import CapturePolicy, Trace

MOD = T.models.audio_spectrogram_transformer.modeling_audio_spectrogram_transformer
FULL = CapturePolicy.full()


@pytest.fixture(scope="module")
def ast_trace(loaded, short_clip_module):
    return trace_ast(short_clip_module, loaded["ast"], policy=FULL)


@pytest.fixture(scope="module")
def short_clip_module():
    from lab.audio import load_audio

    sr = 16000
    t = np.arange(int(0.6 * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * (300 + 1500 * t) * t)
    x[::1600] += 0.8
    return load_audio((sr, x.astype(np.float32)))


@pytest.mark.parametrize("mel,frames,patch,fs,ts,expected", [
    (128, 1024, 16, 10, 10, (12, 101)),  # the hub models: 1212 patches
    (128, 100, 16, 10, 10, (12, 9)),
    (128, 200, 16, 10, 10, (12, 19)),
    (64, 150, 16, 8, 12, (7, 12)),
    (128, 128, 16, 16, 16, (8, 8)),  # no overlap
])
def test_patch_grid_matches_the_patch_embedding_output(mel, frames, patch, fs, ts, expected):
    cfg = T.ASTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8,
                      num_mel_bins=mel, max_length=frames, patch_size=patch, frequency_stride=fs,
                      time_stride=ts)
    grid = patch_grid(cfg)
    assert grid == expected
    emb = MOD.ASTPatchEmbeddings(cfg)
    with torch.no_grad():
        out = emb(torch.randn(1, frames, mel))  # (batch, patch, hidden)
        conv = emb.projection(torch.randn(1, 1, mel, frames))  # (batch, hidden, freq, time)
    assert out.shape[1] == grid[0] * grid[1]
    assert tuple(conv.shape[2:]) == grid
    assert MOD.ASTEmbeddings(cfg).get_shape(cfg) == grid  # transformers' own formula agrees


def test_1024_frames_make_1212_patches():
    f, t = patch_grid(T.ASTConfig())
    assert (f, t, f * t) == (12, 101, 1212)


@pytest.mark.parametrize("fs,ts", [(10, 10), (8, 12)])
def test_patch_pixels_through_the_conv_equal_its_output(fs, ts):
    cfg = T.ASTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                      intermediate_size=8, max_length=120, frequency_stride=fs, time_stride=ts)
    emb = MOD.ASTPatchEmbeddings(cfg)
    fbank = torch.randn(120, 128)
    patches = extract_patches(fbank, cfg)
    w, b = emb.projection.weight, emb.projection.bias  # (hidden, 1, 16, 16)
    with torch.no_grad():
        mine = torch.einsum("pij,hij->ph", patches, w[:, 0]) + b
        theirs = emb(fbank[None])[0]
    assert patches.shape == (patch_grid(cfg)[0] * patch_grid(cfg)[1], 16, 16)
    torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)


def test_trace_patch_pixels_equal_the_models_patch_embeddings(ast_trace, loaded):
    conv = loaded["ast"].model.audio_spectrogram_transformer.embeddings.patch_embeddings.projection
    p = ast_trace["ast.patches"]
    with torch.no_grad():
        mine = torch.einsum("pij,hij->ph", p, conv.weight[:, 0]) + conv.bias
    torch.testing.assert_close(mine, ast_trace["ast.patch_embeddings"], rtol=1e-5, atol=1e-5)
    # patch (f, t) holds mel bins f*10.. and frames t*10..: check one by hand
    f, t = 3, 5
    grid_t = ast_trace.meta["patch_grid"][1]
    fb = ast_trace["input.fbank"]
    torch.testing.assert_close(p[f * grid_t + t], fb[t * 10:t * 10 + 16, f * 10:f * 10 + 16].T)


def test_embeddings_are_patches_plus_positions_and_tokens(ast_trace):
    e, pos = ast_trace["ast.embeddings"], ast_trace["ast.position_embeddings"]
    torch.testing.assert_close(e[0], ast_trace["ast.cls_token"] + pos[0])
    torch.testing.assert_close(e[1], ast_trace["ast.distillation_token"] + pos[1])
    torch.testing.assert_close(e[2:], ast_trace["ast.patch_embeddings"] + pos[2:])


def test_captured_logits_equal_the_models_own(ast_trace, loaded, short_clip_module):
    model, fe = loaded["ast"].model, loaded["ast"].processor
    x = fe(short_clip_module.samples, sampling_rate=16000, return_tensors="pt")["input_values"]
    with torch.no_grad():
        ref = model(x).logits[0]
    torch.testing.assert_close(ast_trace["cls.logits"], ref)
    torch.testing.assert_close(ast_trace["input.fbank"], x[0])
    torch.testing.assert_close(ast_trace["cls.probs"], torch.sigmoid(ref))
    top = ast_trace.meta["top_k"]
    assert top[0]["id"] == int(ref.argmax())
    assert top[0]["label"] == model.config.id2label[int(ref.argmax())]
    assert [r["score"] for r in top] == sorted([r["score"] for r in top], reverse=True)


def test_attention_rows_sum_to_one_and_views_agree(ast_trace):
    n_layers = 2
    pats = [ast_trace[f"encoder.layers.{i}.attn.pattern"] for i in range(n_layers)]
    grid = ast_trace.meta["patch_grid"]
    for p in pats:
        assert p.shape == (2, 2 + grid[0] * grid[1], 2 + grid[0] * grid[1])
        torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[:-1]))
    cls = ast_trace["ast.cls_attention"]
    assert cls.shape == (n_layers, 2, *grid)
    torch.testing.assert_close(cls[1, 0], pats[1][0, 0, 2:].reshape(grid))
    torch.testing.assert_close(ast_trace["ast.attention_mean"][0], pats[0].mean(0))


def test_rollout_is_the_readout_row_of_the_full_rollout(ast_trace):
    pats = [ast_trace[f"encoder.layers.{i}.attn.pattern"] for i in range(2)]
    full = attention_rollout(pats)
    readout = full[[0, 1]].mean(0)
    grid = ast_trace.meta["patch_grid"]
    torch.testing.assert_close(ast_trace["ast.rollout"], readout[2:].reshape(grid), rtol=1e-4, atol=1e-6)
    total = float(ast_trace["ast.rollout"].sum()) + ast_trace.meta["rollout_special_mass"]
    assert total == pytest.approx(1.0, abs=1e-5)


def test_fbank_padding_is_marked(ast_trace, loaded):
    fe = loaded["ast"].processor
    m = ast_trace.meta
    n = fbank_frames(len(ast_trace["input.waveform"]), 16000)
    assert m["n_fbank_frames"] == n == 58  # 0.6 s: 1 + (9600 - 400) // 160
    assert m["padded_from_frame"] == n and m["truncated_frames"] == 0
    pad = ast_trace["input.fbank"][n:]
    expected = (0.0 - fe.mean) / (2 * fe.std)
    assert pad.shape[0] == m["max_length"] - n
    torch.testing.assert_close(pad, torch.full_like(pad, expected))
    assert m["padding_value_normalized"] == pytest.approx(expected)
    assert m["n_content_time_patches"] == 6  # columns starting before frame 58: 0, 10, ..., 50
    assert (m["fbank_mean"], m["fbank_std"]) == (pytest.approx(-4.2677393), pytest.approx(4.5689974))


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5])
def test_fbank_frame_count_matches_the_extractor(seconds):
    fe = T.ASTFeatureExtractor(max_length=2000)
    x = (np.random.default_rng(0).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    feats = fe(x, sampling_rate=16000, return_tensors="np")["input_values"][0]
    n = fbank_frames(len(x), 16000)
    pad = (0.0 - fe.mean) / (2 * fe.std)
    assert not np.allclose(feats[n - 1], pad) and np.allclose(feats[n:], pad)


def test_long_audio_is_cut_with_a_note(loaded, clip):
    t = trace_ast(clip, loaded["ast"])  # 1.7 s into a 1.28 s window
    assert t.meta["truncated_frames"] == t.meta["n_fbank_frames"] - 128 > 0
    assert t.meta["padded_from_frame"] is None
    assert any("cut" in n for n in t.meta["notes"])


def test_time_bases(ast_trace):
    assert ast_trace.time_bases == {"sample": 16000.0, "mel_frame": 100.0, "time_patch": 10.0}
    assert ast_trace.seconds("time_patch", 5) == pytest.approx(0.5)


def test_describe_lists_the_documented_names(ast_trace):
    assert list(ast_trace.tensors) == [
        "input.waveform", "input.fbank", "ast.patches", "ast.patch_embeddings",
        "ast.position_embeddings", "ast.cls_token", "ast.distillation_token", "ast.embeddings",
        "encoder.layers.0.attn.pattern", "encoder.layers.1.attn.pattern", "ast.attention_mean",
        "ast.cls_attention", "ast.rollout", "ast.pooled", "cls.logits", "cls.probs"]
    assert ast_trace.axes["ast.cls_attention"] == ("layer", "head", "freq_patch", "time_patch")
    assert ast_trace.axes["ast.patches"] == ("patch", "patch_mel", "patch_frame")
    assert "ast.rollout" in ast_trace.describe()


def test_policy_filters_patterns_but_keeps_rollout(loaded, short_clip_module):
    t = trace_ast(short_clip_module, loaded["ast"],
                  policy=CapturePolicy(names=["cls.*", "input.fbank"]))
    assert t.names("encoder.layers.*") == [] and "ast.attention_mean" not in t
    assert {"ast.rollout", "ast.cls_attention", "cls.logits", "input.fbank"} <= set(t.tensors)


def test_softmax_when_config_says_single_label(in_memory, short_clip_module):
    ld = in_memory("ast", problem_type="single_label_classification")
    t = trace_ast(short_clip_module, ld)
    assert t.meta["activation"] == "softmax"
    assert float(t["cls.probs"].sum()) == pytest.approx(1.0, abs=1e-5)
    t2 = trace_ast(short_clip_module, ld, activation="sigmoid")
    torch.testing.assert_close(t2["cls.probs"], torch.sigmoid(t2["cls.logits"]))


def test_no_hooks_left_even_after_an_exception(loaded, short_clip_module, lab_hooks, monkeypatch):
    model = loaded["ast"].model
    trace_ast(short_clip_module, loaded["ast"])
    assert lab_hooks(model) == 0

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(model.classifier, "forward", boom)
    with pytest.raises(RuntimeError, match="boom"):
        trace_ast(short_clip_module, loaded["ast"])
    assert lab_hooks(model) == 0


def test_sdpa_model_raises_a_lab_error(tiny_dirs, short_clip_module):
    ld = resolve(str(tiny_dirs["ast"]), family="classify", attention=False)
    with pytest.raises(LabError, match="eager"):
        trace_ast(short_clip_module, ld)


def test_bad_audio_is_a_lab_error(loaded):
    with pytest.raises(LabError, match="silent"):
        trace_ast((16000, np.zeros(16000, np.float32)), loaded["ast"])
    with pytest.raises(LabError, match="25 ms"):
        trace_ast((16000, np.full(200, 0.5, np.float32)), loaded["ast"])


def test_save_and_load_round_trip(ast_trace, tmp_path):
    back = Trace.load(ast_trace.save(tmp_path / "t"))
    assert back.meta["patch_grid"] == ast_trace.meta["patch_grid"]
    torch.testing.assert_close(back["ast.rollout"], ast_trace["ast.rollout"])
