"""Where M-CTC-T's frames sit in time, from the config and the feature extractor (no model).

Feature frames: a ``win_length`` ms window every ``hop_length`` ms (25 ms / 10 ms: 100 per
second). Encoder frames: the subsampler's strides multiply the hop (x3: 30 ms, 33.3 per
second); each convolution of kernel k widens the receptive field by (k - 1) input frames.
Encoder frame j is centred on feature frame ``j * stride`` (the input is padded by k // 2
frames at the start), i.e. at ``j * hop_ms + win_ms / 2`` ms for one convolution.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FrameGeometry:
    sample_rate: int
    feature_hop_ms: float  # 10
    feature_window_ms: float  # 25
    feature_frames_per_second: float  # 100
    encoder_stride_frames: int  # feature frames per encoder frame (3)
    encoder_hop_ms: float  # 30
    encoder_frames_per_second: float  # 33.33
    encoder_receptive_field_frames: int  # feature frames seen by one encoder frame (7)
    encoder_receptive_field_ms: float  # 85

    def as_dict(self) -> dict:
        return asdict(self)

    def encoder_frame_center_s(self, j: int) -> float:
        """Centre (seconds) of encoder frame ``j``: feature frame ``j * stride``'s centre."""
        return (j * self.encoder_stride_frames * self.feature_hop_ms + self.feature_window_ms / 2) / 1000


def frame_geometry(config, feature_extractor) -> FrameGeometry:
    hop = float(feature_extractor.hop_length)
    win = float(feature_extractor.win_length)
    stride, field = 1, 1
    for k, s in zip(config.conv_kernel, config.conv_stride):
        field += (k - 1) * stride
        stride *= s
    return FrameGeometry(
        sample_rate=int(feature_extractor.sampling_rate), feature_hop_ms=hop, feature_window_ms=win,
        feature_frames_per_second=1000.0 / hop, encoder_stride_frames=stride,
        encoder_hop_ms=stride * hop, encoder_frames_per_second=1000.0 / (stride * hop),
        encoder_receptive_field_frames=field, encoder_receptive_field_ms=(field - 1) * hop + win)
