"""M-CTC-T (``speechbrain/m-ctc-t-large``), carried by the lab after transformers 5 removed it.

- ``MCTCTConfig``           config.json with the 4.x keys (config.py)
- ``MCTCTForCTC``, ``MCTCTModel``  the network, 4.x parameter names (modeling.py)
- ``MCTCTFeatureExtractor`` log-mel (MFSC) features as 4.x computes them (features.py)
- ``MCTCTProcessor``        features + Wav2Vec2CTCTokenizer (processing.py)
- ``load(path, attn)``      the resolver's loader; ``register_auto()`` (loader.py)
- ``frame_geometry(config, feature_extractor)``  hops and receptive fields in ms (geometry.py)

Parity with transformers 4.46: ``make mctct-parity`` (scripts/mctct_parity.py).
"""
from .config import MCTCTConfig
from .features import MCTCTFeatureExtractor
from .geometry import frame_geometry
from .loader import is_mctct, load, register_auto
from .modeling import MCTCTForCTC, MCTCTModel
from .processing import MCTCTProcessor

register_auto()

__all__ = ["MCTCTConfig", "MCTCTFeatureExtractor", "MCTCTForCTC", "MCTCTModel", "MCTCTProcessor",
           "frame_geometry", "is_mctct", "load", "register_auto"]
