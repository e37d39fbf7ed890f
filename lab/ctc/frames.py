"""Where CTC frames sit in time, from the config and the feature extractor alone (no model run).

A raw-waveform model (wav2vec2, HuBERT, WavLM, Data2VecAudio) runs a stack of 1-D convolutions
over the 16 kHz samples. Layer ``i`` with kernel ``k_i`` and stride ``s_i`` (no padding) gives

    hop_i   = hop_{i-1} * s_i                      (input samples between two output frames)
    field_i = field_{i-1} + (k_i - 1) * hop_{i-1}  (input samples one output frame sees)
    len_i   = (len_{i-1} + 2 p_i - k_i) // s_i + 1

starting from one sample (hop 1, field 1). The base configs (kernels 10,3,3,3,3,2,2; strides
5,2,2,2,2,2,2) give a 320-sample hop (20 ms, 50 frames per second) and a 400-sample field
(25 ms); one second of audio (16000 samples) gives 49 frames.

A mel-input model (Wav2Vec2Bert, M-CTC-T, the zoo's Whisper-CTC) starts from feature frames: a
window of ``window`` samples every ``hop`` samples (25 ms / 10 ms), then its own convolutions
(M-CTC-T: kernel 7 stride 3; Whisper: kernel 3 stride 1 then stride 2, padding 1) or none
(Wav2Vec2Bert stacks two 10 ms frames: 20 ms hop, 35 ms field).

Frame ``j`` of a layer covers samples ``[offset + j * hop, offset + j * hop + field)``
(``offset`` < 0 when the first window is centred on sample 0 or a convolution pads).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .constants import FBANK_HOP_SECONDS, FBANK_WINDOW_SECONDS, SAMPLE_RATE


@dataclass(frozen=True)
class LayerGeometry:
    """One convolution layer: ``hop``/``field``/``offset`` in input samples, ``length`` frames."""

    index: int
    kernel: int
    stride: int
    padding: int
    hop: int
    field: int
    offset: int
    sample_rate: int
    length: int | None = None

    @property
    def hop_ms(self) -> float:
        return 1000.0 * self.hop / self.sample_rate

    @property
    def field_ms(self) -> float:
        return 1000.0 * self.field / self.sample_rate

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(hop_ms=self.hop_ms, field_ms=self.field_ms, frames_per_second=self.frames_per_second)
        return d


@dataclass(frozen=True)
class FrameGeometry:
    """The whole chain from samples to CTC frames.

    ``input``: ``"waveform"`` or ``"features"``. ``feature_hop``/``feature_window``/
    ``feature_offset``: samples, for mel models (1/1/0 for waveform models).
    ``layers``: one :class:`LayerGeometry` per convolution. The CTC frames are the last layer's
    output (or the feature frames when there is no convolution).
    """

    sample_rate: int
    input: str
    feature_hop: int
    feature_window: int
    feature_offset: int
    layers: tuple[LayerGeometry, ...] = field(default_factory=tuple)
    n_samples: int | None = None
    n_feature_frames: int | None = None

    @property
    def hop(self) -> int:
        return self.layers[-1].hop if self.layers else self.feature_hop

    @property
    def field(self) -> int:
        return self.layers[-1].field if self.layers else self.feature_window

    @property
    def offset(self) -> int:
        return self.layers[-1].offset if self.layers else self.feature_offset

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop

    @property
    def hop_ms(self) -> float:
        return 1000.0 * self.hop / self.sample_rate

    @property
    def field_ms(self) -> float:
        return 1000.0 * self.field / self.sample_rate

    @property
    def n_frames(self) -> int | None:
        if self.layers:
            return self.layers[-1].length
        return self.n_feature_frames

    def frame_span(self, j: int) -> tuple[float, float]:
        """Seconds ``(start, end)`` of the audio CTC frame ``j`` sees (clipped at 0)."""
        start = self.offset + j * self.hop
        return max(start, 0) / self.sample_rate, (start + self.field) / self.sample_rate

    def frame_start(self, j: float) -> float:
        """Seconds at which CTC frame ``j`` starts on the frame grid (``j / frames_per_second``)."""
        return j / self.frames_per_second

    def as_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate, "input": self.input,
            "feature_hop": self.feature_hop, "feature_window": self.feature_window,
            "feature_offset": self.feature_offset, "n_samples": self.n_samples,
            "n_feature_frames": self.n_feature_frames, "n_frames": self.n_frames,
            "hop": self.hop, "field": self.field, "offset": self.offset,
            "hop_ms": self.hop_ms, "field_ms": self.field_ms,
            "frames_per_second": self.frames_per_second,
            "layers": [layer.as_dict() for layer in self.layers],
        }


def conv_out_length(length: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output frames of a 1-D convolution (PyTorch's formula, dilation 1)."""
    n = length + 2 * padding - kernel
    return n // stride + 1 if n >= 0 else 0


def chain(kernels, strides, *, sample_rate: int = SAMPLE_RATE, paddings=None, input_hop: int = 1,
          input_window: int = 1, input_offset: int = 0, input_length: int | None = None
          ) -> tuple[LayerGeometry, ...]:
    """Geometry of a stack of convolutions over an input with the given hop/window (samples)."""
    kernels, strides = list(kernels), list(strides)
    if len(kernels) != len(strides):
        raise ValueError(f"{len(kernels)} kernels but {len(strides)} strides")
    paddings = list(paddings) if paddings is not None else [0] * len(kernels)
    hop, fld, off, length = input_hop, input_window, input_offset, input_length
    out = []
    for i, (k, s, p) in enumerate(zip(kernels, strides, paddings)):
        fld = fld + (k - 1) * hop
        off = off - p * hop
        hop = hop * s
        length = conv_out_length(length, k, s, p) if length is not None else None
        out.append(LayerGeometry(i, int(k), int(s), int(p), hop, fld, off, sample_rate, length))
    return tuple(out)


def feature_frames(feature_extractor) -> tuple[int, int, int]:
    """``(hop, window, offset)`` in samples of a mel feature extractor's frames.

    M-CTC-T's extractor states hop/window in ms (it has ``sample_stride``/``sample_size``);
    SeamlessM4T (Wav2Vec2Bert) stacks ``stride`` 10 ms frames; Whisper centres its 400-sample
    window on each hop (offset -200).
    """
    fe = feature_extractor
    if hasattr(fe, "sample_stride") and hasattr(fe, "sample_size"):  # M-CTC-T (ms units)
        return int(fe.sample_stride), int(fe.sample_size), 0
    name = type(fe).__name__
    if name.startswith("SeamlessM4T"):
        stride = int(getattr(fe, "stride", 1))
        hop = round(FBANK_HOP_SECONDS * fe.sampling_rate)  # Kaldi fbank: 10 ms shift, 25 ms window
        window = round(FBANK_WINDOW_SECONDS * fe.sampling_rate)
        return hop * stride, window + hop * (stride - 1), 0
    hop = int(getattr(fe, "hop_length"))
    window = int(getattr(fe, "n_fft", None) or getattr(fe, "win_length", None) or hop)
    centered = name.startswith("Whisper")
    return hop, window, (-window // 2 if centered else 0)


def geometry(config, feature_extractor=None, *, spec=None, n_samples: int | None = None,
             n_feature_frames: int | None = None) -> FrameGeometry:
    """The :class:`FrameGeometry` of a CTC model from its ``config`` (+ feature extractor for
    mel models). ``spec``: the model's :class:`lab.ctc.names.ArchSpec` (default: looked up)."""
    from .names import spec_for

    spec = spec or spec_for(config)
    sr = int(getattr(feature_extractor, "sampling_rate", None) or SAMPLE_RATE)
    kernels, strides, paddings = spec.conv_geometry(config)
    if spec.input == "waveform":
        layers = chain(kernels, strides, sample_rate=sr, paddings=paddings, input_length=n_samples)
        return FrameGeometry(sr, "waveform", 1, 1, 0, layers, n_samples, None)
    if feature_extractor is None:
        raise ValueError("a mel-input model's frame geometry needs its feature extractor")
    hop, window, offset = feature_frames(feature_extractor)
    layers = chain(kernels, strides, sample_rate=sr, paddings=paddings, input_hop=hop,
                   input_window=window, input_offset=offset, input_length=n_feature_frames)
    return FrameGeometry(sr, "features", hop, window, offset, layers, n_samples, n_feature_frames)


def min_samples(geom: FrameGeometry, feature_extractor=None) -> tuple[int, str]:
    """``(samples, why)``: the shortest clip that gives one CTC frame, from the geometry alone.

    The convolutions need :func:`lab.audio.conv_min_length` input frames; a waveform model's input
    frames are samples (wav2vec2 base: 400 samples = its 25 ms receptive field). A mel model needs
    that many feature frames: ``window + (F - 1) * hop`` samples for uncentred windows (Kaldi
    fbank); Whisper's centred STFT reflect-pads ``window // 2`` samples on each side, which needs
    more than that many samples, and keeps ``n // hop`` frames (it drops the last). SeamlessM4T
    (Wav2Vec2Bert) pads its fbank frames to a multiple of ``stride`` before stacking them, so one
    25 ms window already makes a stacked frame."""
    from ..audio import conv_min_length

    frames = conv_min_length([g.kernel for g in geom.layers], [g.stride for g in geom.layers],
                             [g.padding for g in geom.layers]) if geom.layers else 1
    if geom.input == "waveform":
        return frames, f"its convolutional feature encoder needs {frames} samples for one frame"
    hop, window = geom.feature_hop, geom.feature_window
    if geom.feature_offset < 0:  # centred (Whisper): reflect padding of window // 2
        n = max(-geom.feature_offset + 1, frames * hop)
        return n, (f"its {window}-sample STFT window is centred (reflect padding of "
                   f"{-geom.feature_offset} samples needs more samples than that)"
                   + (f" and its convolutions need {frames} feature frames" if frames > 1 else ""))
    if type(feature_extractor).__name__.startswith("SeamlessM4T"):
        stride = int(getattr(feature_extractor, "stride", 1))
        fb_hop = hop // stride
        fb_window = window - fb_hop * (stride - 1)
        n = fb_window + (frames - 1) * stride * fb_hop
        return n, (f"{frames} frame(s), each {stride} stacked {1000 * fb_window / geom.sample_rate:.0f}"
                   " ms fbank windows (the last padded)")
    n = window + (frames - 1) * hop
    return n, (f"{frames} feature frame(s) of {1000 * window / geom.sample_rate:.0f} ms every "
               f"{1000 * hop / geom.sample_rate:.0f} ms")
