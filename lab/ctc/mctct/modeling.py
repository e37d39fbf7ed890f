"""M-CTC-T in PyTorch: ``MCTCTModel`` (encoder) and ``MCTCTForCTC`` (encoder + CTC head).

Written for the lab (transformers 5 dropped the model); parameter names equal the 4.x
``MCTCTForCTC`` state dict, so the hub checkpoint loads unchanged with ``from_pretrained``.

Forward pass, shapes for batch B, feature frames T (10 ms each), F = input_feat_per_channel,
encoder frames T' (30 ms each with the default stride 3), width H, heads h of d dims:

    input_features (B, T, F)                 log-mel, utterance-normalised (features.py)
    encoder.layer_norm                       x * a + b with two learned scalars (B, T, F)
    encoder.conv  pad k//2 frames each side, Conv1d(F -> 2H, kernel 7, stride 3), GLU over
                  channels, -> (B, T', H) with T' = (T - 1) // 3 + 1
    encoder.layers.{i}  post-norm transformer layer, i = 0 .. L-1:
        attention.self    q = W_q x / sqrt(d), k = W_k x, v = W_v x (no biases)
                          scores[q, k] = q_q . k_k + q_q . E[M - 1 + k - q]   (B, h, T', T')
                          E = distance_embedding (2M - 1, d), M = max_position_embeddings;
                          the position term is 0 when |k - q| > M - 1;
                          padded keys get finfo.min; probs = softmax(scores) (B, h, T', T')
        attention.output  LayerNorm(x + W_o (probs @ v))                         (B, T', H)
        intermediate      relu(W_1 x)                                            (B, T', 4H)
        output            LayerNorm(x + W_2 .)                                   (B, T', H)
    ctc_head              Linear(H -> vocab) logits                              (B, T', V)

``output_hidden_states`` gives L + 1 tensors (the input of each layer, then the last output),
``output_attentions`` the L probability tensors ``(B, h, T', T')`` -- eager attention only.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutput, CausalLMOutput

from .config import MCTCTConfig


class MCTCTScaleShift(nn.Module):
    """``x * singleton_weight + singleton_bias`` with two learned scalars (4.x calls it a
    layer norm; it normalises nothing)."""

    def __init__(self):
        super().__init__()
        self.singleton_weight = nn.Parameter(torch.ones(1))
        self.singleton_bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.singleton_weight + self.singleton_bias


class MCTCTConvSubsampler(nn.Module):
    """Strided 1-D convolution(s) over time, each followed by a GLU over channels.

    ``(B, T, F) -> (B, T', H)``. The input is zero-padded once by ``sum(k // 2)`` frames on
    both ends (the checkpoints have one convolution, where this is "same"-style padding).
    """

    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.glu_dim = config.conv_glu_dim
        self.kernels = list(config.conv_kernel)
        self.strides = list(config.conv_stride)
        self.dropout = nn.Dropout(config.conv_dropout)
        n = config.num_conv_layers
        outs = [*(config.conv_channels or [])[: n - 1], 2 * config.hidden_size]  # 2H: GLU halves
        ins = [config.input_feat_per_channel * config.input_channels] + [c // 2 for c in outs[:-1]]
        self.conv_layers = nn.ModuleList(
            nn.Conv1d(i, o, kernel_size=k, stride=s, padding="valid")
            for i, o, k, s in zip(ins, outs, self.kernels, self.strides))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pad = sum(k // 2 for k in self.kernels)
        x = nn.functional.pad(features, (0, 0, pad, pad))  # pad the time axis: (B, T + 2p, F)
        x = x.transpose(1, 2)  # (B, F, T + 2p): channels first for Conv1d
        for conv in self.conv_layers:
            x = self.dropout(nn.functional.glu(conv(x), dim=self.glu_dim))
        return x.transpose(1, 2).contiguous()  # (B, T', H)


class MCTCTSelfAttention(nn.Module):
    """Multi-head self-attention with learned relative-position (distance) embeddings."""

    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.attention_head_dim
        inner = self.num_heads * self.head_dim
        self.query = nn.Linear(config.hidden_size, inner, bias=False)
        self.key = nn.Linear(config.hidden_size, inner, bias=False)
        self.value = nn.Linear(config.hidden_size, inner, bias=False)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.max_positions = config.max_position_embeddings
        # row M - 1 + (key - query) holds the embedding of that offset, offsets -(M-1) .. M-1
        self.distance_embedding = nn.Embedding(2 * config.max_position_embeddings - 1, self.head_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, T, d)

    def position_scores(self, q: torch.Tensor) -> torch.Tensor:
        """``q_q . E[M - 1 + k - q]`` for every query q and key k (0 where the offset has no
        embedding). ``q``: (B, h, T, d) -> (B, h, T, T)."""
        t = q.shape[-2]
        m = self.max_positions
        last = 2 * m - 2  # last row of E
        lo, hi = max(0, m - t), min(last, m + t - 2)  # rows any (q, k) pair can use
        table = self.distance_embedding.weight[lo:hi + 1]  # (W, d)
        by_row = torch.matmul(q, table.t())  # (B, h, T, W): q_q . E[lo + w]
        pos = torch.arange(t, device=q.device)
        row = (m - 1) + pos[None, :] - pos[:, None]  # (T, T): E row for (query, key)
        valid = (row >= lo) & (row <= hi)
        idx = (row - lo).clamp(0, hi - lo).expand(*by_row.shape[:2], t, t)
        return torch.gather(by_row, -1, idx) * valid

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None,
                head_mask: torch.Tensor | None = None, output_attentions: bool = False):
        """``hidden`` (B, T, H); ``attention_mask`` additive (B, 1, 1, T) or None;
        ``head_mask`` (h,) multiplies each head's probabilities. Returns
        ``(context (B, T, h*d), probs (B, h, T, T) or None)``."""
        q = self._heads(self.query(hidden) / math.sqrt(self.head_dim))
        k = self._heads(self.key(hidden))
        v = self._heads(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) + self.position_scores(q)  # (B, h, T, T)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(torch.softmax(scores, dim=-1))
        if head_mask is not None:
            probs = probs * head_mask.view(1, -1, 1, 1)
        context = torch.matmul(probs, v)  # (B, h, T, d)
        context = context.transpose(1, 2).flatten(2)  # (B, T, h*d)
        return context, (probs if output_attentions else None)


class MCTCTSelfOutput(nn.Module):
    """Output projection, dropout, residual, LayerNorm (post-norm)."""

    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class MCTCTAttention(nn.Module):
    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.self = MCTCTSelfAttention(config)
        self.output = MCTCTSelfOutput(config)

    def forward(self, hidden, attention_mask=None, head_mask=None, output_attentions=False):
        context, probs = self.self(hidden, attention_mask, head_mask, output_attentions)
        return self.output(context, hidden), probs


class MCTCTIntermediate(nn.Module):
    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))


class MCTCTOutput(MCTCTSelfOutput):
    """Feed-forward down projection, dropout, residual, LayerNorm."""

    def __init__(self, config: MCTCTConfig):
        super().__init__(config)
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)


class MCTCTLayer(nn.Module):
    """One post-norm transformer layer: attention block then feed-forward block."""

    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.intermediate = MCTCTIntermediate(config)
        self.attention = MCTCTAttention(config)
        self.output = MCTCTOutput(config)

    def forward(self, hidden, attention_mask=None, head_mask=None, output_attentions=False):
        """(B, T', H) -> ((B, T', H), probs (B, h, T', T') or None)."""
        attended, probs = self.attention(hidden, attention_mask, head_mask, output_attentions)
        return self.output(self.intermediate(attended), attended), probs


class MCTCTEncoder(nn.Module):
    """Scalar affine, convolutional subsampler, then the transformer layers."""

    def __init__(self, config: MCTCTConfig):
        super().__init__()
        self.config = config
        self.layer_norm = MCTCTScaleShift()
        self.conv = MCTCTConvSubsampler(config)
        self.layers = nn.ModuleList(MCTCTLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, input_features, attention_mask=None, head_mask=None,
                output_attentions=False, output_hidden_states=False, frame_mask_fn=None):
        hidden = self.conv(self.layer_norm(input_features))  # (B, T', H)
        hidden = nn.functional.dropout(hidden, p=self.config.hidden_dropout_prob,
                                       training=self.training)
        additive = None
        if attention_mask is not None:
            frames = frame_mask_fn(hidden.shape[1], attention_mask)  # (B, T') 1 = real frame
            additive = (1.0 - frames[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        if head_mask is not None and head_mask.dim() == 1:
            head_mask = head_mask.expand(len(self.layers), -1)
        states, attentions = [], []
        for i, layer in enumerate(self.layers):
            if output_hidden_states:
                states.append(hidden)
            skip = self.training and float(torch.rand([])) < self.config.layerdrop  # LayerDrop
            probs = None
            if not skip:
                hidden, probs = layer(hidden, additive,
                                      None if head_mask is None else head_mask[i], output_attentions)
            if output_attentions:
                attentions.append(probs)
        if output_hidden_states:
            states.append(hidden)
        return BaseModelOutput(last_hidden_state=hidden,
                               hidden_states=tuple(states) if output_hidden_states else None,
                               attentions=tuple(attentions) if output_attentions else None)


class MCTCTPreTrainedModel(PreTrainedModel):
    config_class = MCTCTConfig
    config: MCTCTConfig
    base_model_prefix = "mctct"
    main_input_name = "input_features"
    input_modalities = "audio"
    supports_gradient_checkpointing = False
    _supports_sdpa = False
    _supports_flash_attn = False
    _no_split_modules = ["MCTCTLayer"]

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)  # Linear/Conv1d/Embedding normal(0, initializer_range)
        if isinstance(module, MCTCTScaleShift):
            module.singleton_weight.fill_(1.0)
            module.singleton_bias.zero_()

    def _get_feat_extract_output_lengths(self, input_lengths):
        """Encoder frames for ``input_lengths`` feature frames (tensor or int), following the
        subsampler: the input is padded once by ``P = sum(k // 2)`` frames at each end, then
        ``L = (L - k) // s + 1`` per convolution. With one convolution (every checkpoint) this
        is 4.x's formula; with several, 4.x padded every layer in the formula (not in the
        forward) and its mask code indexed past the end."""
        kernels, strides = self.config.conv_kernel, self.config.conv_stride
        input_lengths = input_lengths + 2 * sum(k // 2 for k in kernels)
        for k, s in zip(kernels, strides):
            input_lengths = (input_lengths - k) // s + 1
        return input_lengths

    def _get_feature_vector_attention_mask(self, num_frames: int, attention_mask):
        """Feature-frame mask (B, T) -> encoder-frame mask (B, num_frames), 1 on real frames."""
        if attention_mask.dim() > 2:  # (B, T, F) masks from older call sites
            attention_mask = attention_mask[:, :, -1]
        lengths = self._get_feat_extract_output_lengths(attention_mask.sum(-1).long())
        steps = torch.arange(num_frames, device=attention_mask.device)
        return (steps[None, :] < lengths[:, None]).long()


class MCTCTModel(MCTCTPreTrainedModel):
    """The encoder alone: ``last_hidden_state`` (B, T', H)."""

    def __init__(self, config: MCTCTConfig):
        super().__init__(config)
        self.encoder = MCTCTEncoder(config)
        self.post_init()

    def forward(self, input_features, attention_mask=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        if input_features is None:
            raise ValueError("MCTCTModel needs input_features (B, T, F)")
        cfg = self.config
        out = self.encoder(
            input_features, attention_mask, head_mask,
            output_attentions=cfg.output_attentions if output_attentions is None else output_attentions,
            output_hidden_states=cfg.output_hidden_states if output_hidden_states is None
            else output_hidden_states,
            frame_mask_fn=self._get_feature_vector_attention_mask)
        if return_dict is False or (return_dict is None and not cfg.return_dict):
            return out.to_tuple()
        return out


class MCTCTForCTC(MCTCTPreTrainedModel):
    """Encoder + ``ctc_head`` (Linear H -> vocab). Blank = ``config.pad_token_id``."""

    def __init__(self, config: MCTCTConfig):
        super().__init__(config)
        if config.vocab_size is None:
            raise ValueError("MCTCTForCTC needs config.vocab_size")
        self.mctct = MCTCTModel(config)
        self.ctc_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(self, input_features, attention_mask=None, head_mask=None, output_attentions=None,
                output_hidden_states=None, return_dict=None, labels=None):
        """``input_features`` (B, T, F), ``attention_mask`` (B, T) over feature frames.
        Returns ``CausalLMOutput`` with ``logits`` (B, T', V), ``hidden_states``, ``attentions``
        and, given ``labels`` (B, S) padded with -100, the CTC ``loss``."""
        enc = self.mctct(input_features, attention_mask, head_mask, output_attentions,
                         output_hidden_states, return_dict=True)
        logits = self.ctc_head(enc.last_hidden_state)
        loss = None
        if labels is not None:
            loss = self.ctc_loss(logits, labels, input_features, attention_mask)
        out = CausalLMOutput(loss=loss, logits=logits, hidden_states=enc.hidden_states,
                             attentions=enc.attentions)
        if return_dict is False or (return_dict is None and not self.config.return_dict):
            return out.to_tuple()
        return out

    def ctc_loss(self, logits, labels, input_features, attention_mask=None):
        if labels.max() >= self.config.vocab_size:
            raise ValueError(f"label ids must be < vocab_size {self.config.vocab_size}")
        if attention_mask is None:
            attention_mask = torch.ones(input_features.shape[:-1], dtype=torch.long,
                                        device=input_features.device)
        input_lengths = self._get_feat_extract_output_lengths(attention_mask.sum(-1)).long()
        keep = labels >= 0
        log_probs = nn.functional.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
        return nn.functional.ctc_loss(log_probs, labels.masked_select(keep), input_lengths,
                                      keep.sum(-1), blank=self.config.pad_token_id,
                                      reduction=self.config.ctc_loss_reduction,
                                      zero_infinity=self.config.ctc_zero_infinity)
