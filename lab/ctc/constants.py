"""CTC display symbols and decoding defaults, one name each."""
from ..audio import SAMPLE_RATE

BLANK_MARK = "_"      # how a blank frame is written in frame-token strings (B_R_II_O_N_||...)
DELIMITER_MARK = "|"  # the word delimiter token of wav2vec2-style vocabularies
TOP_K = 5             # best tokens kept per frame
BEAM_SIZE = 32        # beam search: hypotheses kept per frame (pyctcdecode's beam_width)
LM_ALPHA = 0.5        # n-gram LM weight
LM_BETA = 1.0         # word insertion bonus
FBANK_HOP_SECONDS = 0.010     # mel-input extractors (Kaldi fbank): 10 ms shift
FBANK_WINDOW_SECONDS = 0.025  # and 25 ms window

__all__ = ["SAMPLE_RATE", "BLANK_MARK", "DELIMITER_MARK", "TOP_K", "BEAM_SIZE", "LM_ALPHA", "LM_BETA",
           "FBANK_HOP_SECONDS", "FBANK_WINDOW_SECONDS"]
