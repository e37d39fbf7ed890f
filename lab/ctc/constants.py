"""CTC display symbols and decoding defaults, one name each."""
from ..audio import SAMPLE_RATE

BLANK_MARK = "_"      # how a blank frame is written in frame-token strings (B_R_II_O_N_||...)
DELIMITER_MARK = "|"  # the word delimiter token of wav2vec2-style vocabularies
TOP_K = 5             # best tokens kept per frame

__all__ = ["SAMPLE_RATE", "BLANK_MARK", "DELIMITER_MARK", "TOP_K"]
