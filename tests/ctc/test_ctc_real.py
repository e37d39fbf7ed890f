"""The CTC lab on the offline real models the zoo ships (trained by the lab on espeak speech)."""
import json

import pytest

from lab.models import load_cached
from lab.ctc.capture import trace_ctc

CLIP = "open_the_door.wav"


@pytest.mark.real
@pytest.mark.parametrize("model_id", ["whisper-tiny.en-ctc", "tiny-wav2vec2-ctc-en"])
def test_real_ctc_trace_is_meaningful(model_id, clips_dir):
    reference = json.loads((clips_dir / "clips.json").read_text())[CLIP]["text"]
    loaded = load_cached(model_id, family="ctc")
    tr = trace_ctc(clips_dir / CLIP, loaded, reference=reference)
    m = tr.meta
    # a trained model: most frames blank (peaky), and the text is close to the reference
    assert m["frame_tokens"].count("_") > 0.5 * len(m["frame_tokens"])
    assert m["wer"]["cer"] <= 0.5, (m["text"], m["wer"])
    # the lab's greedy collapse equals the HF tokenizer's own CTC decode of the same frames
    ids = tr["ctc.frame_ids"].tolist()
    assert m["text"] == loaded.processor.tokenizer.decode(ids)
    # forced alignment: every reference word, in order, inside the clip
    words = m["words"]
    assert [w["word"].lower() for w in words] == reference.lower().strip(".").split()
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= len(tr["input.waveform"]) / 16000 + 0.05
