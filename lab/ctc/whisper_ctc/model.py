"""``WhisperCTCForCTC``: the frozen Whisper encoder + a small trained CTC head (in the spirit of M-CTC-T).

A mel-input, encoder-only CTC model with the standard HF ``*ForCTC`` interface:
``model(input_features, attention_mask=None, labels=None, output_attentions=..., output_hidden_states=...)``
returns a ``CausalLMOutput`` with ``logits`` (batch, frame, vocab) at 50 frames/s (one frame per
encoder position, 20 ms).

Unlike ``WhisperEncoder`` it accepts any mel length up to 3000 frames (30 s): the learned positions
are sliced, no 30 s padding is needed (the processor pads to the longest clip only). Module paths:

- ``encoder.conv1`` / ``encoder.conv2`` / ``encoder.embed_positions`` -- Whisper's, frozen
- ``encoder.layers.N.self_attn`` (N < 4 for tiny.en) -- Whisper's encoder layers, frozen
- ``encoder.layer_norm`` -- Whisper's final encoder norm
- ``layer_weights`` (with ``use_weighted_layer_sum``): softmax mix of embeddings + encoder layers
- ``head.proj`` (d_model -> head_dim), ``head.layers.N.self_attn`` (N < head_layers), ``head.layer_norm``
- ``head.layers.N.conv_*`` (with ``head_conv_kernel`` > 0): a Conformer-style convolution module at the
  start of each head layer (pointwise + GLU, depthwise conv over ``head_conv_kernel`` frames, SiLU,
  pointwise): ordered local context, which the head's self-attention (no position embeddings) lacks
- ``lm_head`` (head_dim -> vocab): the CTC logits; id ``pad_token_id`` (0, ``<pad>``) is the blank

``hidden_states`` (when asked): encoder embeddings, the output of each encoder layer (the last one
after ``encoder.layer_norm``), the head projection, the output of each head layer: every entry is
(batch, frame, dim). ``attentions``: encoder layers then head layers, each (batch, head, query, key).

Registered with the Auto classes by :func:`register` (no ``trust_remote_code``): config
``model_type="whisper_ctc"``, feature extractor ``WhisperCTCFeatureExtractor`` (Whisper's log-mel
with ``padding="longest"`` by default).
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel, WhisperConfig, WhisperFeatureExtractor
from transformers.activations import ACT2FN
from transformers.modeling_outputs import CausalLMOutput
from transformers.models.whisper.modeling_whisper import WhisperAttention, WhisperEncoder


class WhisperCTCConfig(WhisperConfig):
    """Whisper's encoder fields + the CTC head. ``vocab_size`` is the CTC vocabulary (blank = pad)."""

    model_type = "whisper_ctc"

    def __init__(self, head_layers: int = 2, head_dim: int = 256, head_heads: int = 4,
                 head_ffn_dim: int = 1024, head_conv_kernel: int = 0, ctc_loss_reduction: str = "mean",
                 ctc_zero_infinity: bool = True, **kwargs):
        kwargs.setdefault("is_encoder_decoder", False)
        kwargs.setdefault("vocab_size", 32)
        kwargs.setdefault("pad_token_id", 0)
        kwargs.setdefault("bos_token_id", 1)
        kwargs.setdefault("eos_token_id", 2)
        kwargs.setdefault("decoder_start_token_id", 1)
        kwargs.setdefault("suppress_tokens", None)
        kwargs.setdefault("begin_suppress_tokens", None)
        super().__init__(**kwargs)
        self.head_layers = head_layers
        self.head_dim = head_dim
        self.head_heads = head_heads
        self.head_ffn_dim = head_ffn_dim
        self.head_conv_kernel = head_conv_kernel
        self.ctc_loss_reduction = ctc_loss_reduction
        self.ctc_zero_infinity = ctc_zero_infinity
        # frame geometry for lab/ctc/frames.py (Whisper's two convs over mel frames: 100/s -> 50/s)
        self.conv_kernel = [3, 3]
        self.conv_stride = [1, 2]


class WhisperCTCFeatureExtractor(WhisperFeatureExtractor):
    """Whisper's log-mel features, padded to the longest clip of the batch (not to 30 s)."""

    def __call__(self, raw_speech, *args, padding="longest", **kwargs):
        return super().__call__(raw_speech, *args, padding=padding, **kwargs)


class CTCHeadLayer(nn.Module):
    """Pre-norm transformer layer (Whisper's layout) at the head's width."""

    def __init__(self, config: WhisperCTCConfig, idx: int):
        super().__init__()
        d = config.head_dim
        self.self_attn = WhisperAttention(d, config.head_heads, dropout=config.attention_dropout,
                                          layer_idx=idx, config=config)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, config.head_ffn_dim)
        self.fc2 = nn.Linear(config.head_ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.act = ACT2FN[config.activation_function]
        self.dropout = config.dropout
        k = config.head_conv_kernel
        if k:
            if k % 2 == 0:
                raise ValueError(f"head_conv_kernel must be odd (centred), got {k}")
            self.conv_layer_norm = nn.LayerNorm(d)
            self.conv_pointwise1 = nn.Linear(d, 2 * d)
            self.conv_depthwise = nn.Conv1d(d, d, k, padding=k // 2, groups=d)
            self.conv_pointwise2 = nn.Linear(d, d)
        else:
            self.conv_depthwise = None

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None,
                frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, frame, head_dim); attention_mask additive (batch, 1, 1, key_frame);
        frame_mask (batch, frame) 1 = real frame (padding is zeroed before the depthwise conv)."""
        if self.conv_depthwise is not None:
            h = nn.functional.glu(self.conv_pointwise1(self.conv_layer_norm(x)), dim=-1)
            if frame_mask is not None:
                h = h * frame_mask[..., None].to(h.dtype)
            h = self.conv_depthwise(h.transpose(1, 2)).transpose(1, 2)
            x = x + nn.functional.dropout(self.conv_pointwise2(nn.functional.silu(h)), self.dropout,
                                          self.training)
        h, _ = self.self_attn(hidden_states=self.self_attn_layer_norm(x), attention_mask=attention_mask)
        x = x + nn.functional.dropout(h, self.dropout, self.training)
        h = self.fc2(self.act(self.fc1(self.final_layer_norm(x))))
        return x + nn.functional.dropout(h, self.dropout, self.training)


class CTCHead(nn.Module):
    def __init__(self, config: WhisperCTCConfig):
        super().__init__()
        self.proj = nn.Linear(config.d_model, config.head_dim)
        self.layers = nn.ModuleList(CTCHeadLayer(config, i) for i in range(config.head_layers))
        self.layer_norm = nn.LayerNorm(config.head_dim)


class WhisperCTCForCTC(PreTrainedModel):
    config_class = WhisperCTCConfig
    base_model_prefix = "whisper_ctc"
    main_input_name = "input_features"
    _supports_sdpa = True
    _supports_flash_attn = False

    def __init__(self, config: WhisperCTCConfig):
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        if config.use_weighted_layer_sum:  # SUPERB-style learned mix of the encoder's layer outputs
            n = config.encoder_layers + 1
            self.layer_weights = nn.Parameter(torch.ones(n) / n)
        self.head = CTCHead(config)
        self.lm_head = nn.Linear(config.head_dim, config.vocab_size)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.config.init_std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def freeze_encoder(self) -> None:
        for p in self.encoder.parameters():
            p.requires_grad = False

    @staticmethod
    def frame_lengths(mel_lengths: torch.Tensor) -> torch.Tensor:
        """Encoder frames for ``mel_lengths`` mel frames (conv2 has stride 2, padding 1)."""
        return (mel_lengths + 1) // 2

    @staticmethod
    def _key_mask(frame_mask: torch.Tensor | None, dtype) -> torch.Tensor | None:
        if frame_mask is None:
            return None
        m = (1.0 - frame_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return m  # (batch, 1, 1, key_frame) additive

    def mix(self, stacked: torch.Tensor) -> torch.Tensor:
        """(batch, layer, frame, d_model) encoder states -> the head's input (batch, frame, d_model):
        the softmax(layer_weights) mix with ``use_weighted_layer_sum``, else the last layer."""
        if not self.config.use_weighted_layer_sum:
            return stacked[:, -1]
        w = nn.functional.softmax(self.layer_weights, dim=-1)
        return (stacked * w.view(1, -1, 1, 1)).sum(1)

    def encode_states(self, input_features: torch.Tensor, frame_mask=None) -> torch.Tensor:
        """(batch, n_mels, mel_frame) -> all encoder states (batch, layer, frame, d_model)."""
        states: list[torch.Tensor] = []
        self.encode(input_features, frame_mask, states, mixed=False)
        return torch.stack(states, 1)

    def encode(self, input_features: torch.Tensor, frame_mask=None, states=None,
               mixed: bool = True) -> torch.Tensor:
        """(batch, n_mels, mel_frame) -> the head's input (batch, frame, d_model): Whisper's encoder
        output, or the learned mix of its layers (``use_weighted_layer_sum``)."""
        enc = self.encoder
        n = input_features.shape[-1]
        if n > enc.embed_positions.num_embeddings * 2:
            raise ValueError(f"input_features has {n} mel frames; at most "
                             f"{enc.embed_positions.num_embeddings * 2} (30 s)")
        x = nn.functional.gelu(enc.conv1(input_features))
        x = nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)  # (batch, frame, d_model)
        x = x + enc.embed_positions.weight[: x.shape[1]]
        mask = self._key_mask(frame_mask, x.dtype)
        mine = [x]
        for i, layer in enumerate(enc.layers):
            x = layer(x, mask)
            if i == len(enc.layers) - 1:
                x = enc.layer_norm(x)
            mine.append(x)
        if states is not None:
            states.extend(mine)
        if mixed and self.config.use_weighted_layer_sum:
            return self.mix(torch.stack(mine, 1))
        return x

    def head_logits(self, hidden: torch.Tensor, frame_mask=None, states=None) -> torch.Tensor:
        """Encoder output (batch, frame, d_model) -> CTC logits (batch, frame, vocab)."""
        x = self.head.proj(hidden)
        mask = self._key_mask(frame_mask, x.dtype)
        if states is not None:
            states.append(x)
        for layer in self.head.layers:
            x = layer(x, mask, frame_mask)
            if states is not None:
                states.append(x)
        return self.lm_head(self.head.layer_norm(x))

    def ctc_loss(self, logits, labels, frame_lengths):
        labels_mask = labels >= 0
        target_lengths = labels_mask.sum(-1)
        flat = labels.masked_select(labels_mask)
        log_probs = nn.functional.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
        with torch.backends.cudnn.flags(enabled=False):
            return nn.functional.ctc_loss(log_probs, flat, frame_lengths, target_lengths,
                                          blank=self.config.pad_token_id,
                                          reduction=self.config.ctc_loss_reduction,
                                          zero_infinity=self.config.ctc_zero_infinity)

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, output_attentions: bool | None = None,
                output_hidden_states: bool | None = None, return_dict: bool | None = None,
                **kwargs) -> CausalLMOutput:
        """input_features (batch, n_mels, mel_frame) log-mel; attention_mask (batch, mel_frame) 1 =
        real frame; labels (batch, target) char ids, -100 = padding."""
        output_attentions = output_attentions if output_attentions is not None else \
            self.config.output_attentions
        output_hidden_states = output_hidden_states if output_hidden_states is not None else \
            self.config.output_hidden_states
        frames = self.frame_lengths(torch.tensor(input_features.shape[-1]))
        frame_mask = None
        if attention_mask is not None:
            frame_mask = attention_mask[:, ::2][:, :frames]
        states = [] if output_hidden_states else None
        attns: list[torch.Tensor] = []
        hooks = []
        if output_attentions:
            mods = [m.self_attn for m in self.encoder.layers] + [m.self_attn for m in self.head.layers]
            hooks = [m.register_forward_hook(lambda _m, _i, out: attns.append(out[1])) for m in mods]
        try:
            hidden = self.encode(input_features, frame_mask, states)
            logits = self.head_logits(hidden, frame_mask, states)
        finally:
            for h in hooks:
                h.remove()
        loss = None
        if labels is not None:
            lengths = (frame_mask.sum(-1) if frame_mask is not None
                       else torch.full((logits.shape[0],), logits.shape[1])).long()
            loss = self.ctc_loss(logits, labels, lengths)
        return CausalLMOutput(loss=loss, logits=logits,
                              hidden_states=tuple(states) if states is not None else None,
                              attentions=tuple(attns) if output_attentions else None)


_REGISTERED = False


def register() -> None:
    """Make the Auto classes know ``whisper_ctc`` (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForCTC

    AutoConfig.register("whisper_ctc", WhisperCTCConfig, exist_ok=True)
    AutoModelForCTC.register(WhisperCTCConfig, WhisperCTCForCTC, exist_ok=True)
    AutoFeatureExtractor.register(WhisperCTCConfig, WhisperCTCFeatureExtractor, exist_ok=True)
    _REGISTERED = True


register()


def load(path: str, attn: str, **kw):
    """Resolver loader (``lab.registry.ARCH_LOADERS``, registered by ``lab/ctc/register.py``):
    (model, processor) for a ``whisper_ctc`` dir."""
    from transformers import AutoProcessor

    register()
    model = WhisperCTCForCTC.from_pretrained(path, attn_implementation=attn, **kw)
    proc_kw = {k: v for k, v in kw.items() if k in ("local_files_only", "revision", "cache_dir")}
    return model, AutoProcessor.from_pretrained(path, **proc_kw)
