"""``MCTCTConfig``: the configuration of M-CTC-T, with the keys and defaults of transformers 4.x.

M-CTC-T (Lugosch et al. 2022, ``speechbrain/m-ctc-t-large``) left transformers in v5. The lab
keeps the architecture; this class reads and writes the hub checkpoint's ``config.json``
unchanged (``model_type: "mctct"``). Defaults describe the large checkpoint: 80 log-mel
features per 10 ms frame, one 1-D convolution (kernel 7, stride 3) with a GLU, 36 post-norm
transformer layers of width 1536 with 4 heads of 384 dims and learned relative-position
embeddings over +-(920 - 1) frames, and a CTC head over 8065 characters (blank = pad id 1).
"""
from __future__ import annotations

from transformers import PretrainedConfig


class MCTCTConfig(PretrainedConfig):
    """Keys as in transformers 4.x ``MCTCTConfig`` (same names, same defaults).

    ``conv_kernel``/``conv_stride`` hold one entry per convolution (``num_conv_layers``);
    ``conv_channels`` the output channels of every convolution but the last (needed only when
    there are several). ``attention_head_dim * num_attention_heads`` must equal ``hidden_size``
    (the attention output projection is ``hidden_size -> hidden_size``).
    """

    model_type = "mctct"

    vocab_size: int = 8065
    hidden_size: int = 1536
    num_hidden_layers: int = 36
    intermediate_size: int = 6144
    num_attention_heads: int = 4
    attention_head_dim: int = 384
    max_position_embeddings: int = 920
    layer_norm_eps: float = 1e-5
    layerdrop: float = 0.3
    hidden_act: str = "relu"
    initializer_range: float = 0.02
    hidden_dropout_prob: float = 0.3
    attention_probs_dropout_prob: float = 0.3
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | None = 2
    conv_glu_dim: int = 1
    conv_dropout: float = 0.3
    num_conv_layers: int = 1
    conv_kernel: list[int] | tuple[int, ...] = (7,)
    conv_stride: list[int] | tuple[int, ...] = (3,)
    input_feat_per_channel: int = 80
    input_channels: int = 1
    conv_channels: list[int] | tuple[int, ...] | None = None
    ctc_loss_reduction: str = "sum"
    ctc_zero_infinity: bool = False

    def __post_init__(self, **kwargs):
        # 4.x stores these as lists in config.json
        self.conv_kernel = list(self.conv_kernel)
        self.conv_stride = list(self.conv_stride)
        if self.conv_channels is not None:
            self.conv_channels = list(self.conv_channels)
        super().__post_init__(**kwargs)
        self.check()

    def check(self) -> None:
        """Raise ValueError when the convolution or attention shapes do not fit together."""
        n = self.num_conv_layers
        if len(self.conv_kernel) != n or len(self.conv_stride) != n:
            raise ValueError(f"MCTCTConfig: len(conv_kernel)={len(self.conv_kernel)} and "
                             f"len(conv_stride)={len(self.conv_stride)} must equal "
                             f"num_conv_layers={n}")
        if n > 1 and (self.conv_channels is None or len(self.conv_channels) < n - 1):
            raise ValueError("MCTCTConfig: several convolution layers need conv_channels "
                             "(the output channels of every layer but the last)")
        if self.num_attention_heads * self.attention_head_dim != self.hidden_size:
            raise ValueError(f"MCTCTConfig: num_attention_heads ({self.num_attention_heads}) x "
                             f"attention_head_dim ({self.attention_head_dim}) must equal "
                             f"hidden_size ({self.hidden_size})")
