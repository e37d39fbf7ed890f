"""The TTS card's phoneme experiment: tiny-speecht5-tts-en's recipe on letters vs on phones.

``python scripts/tts_phoneme_experiment.py phone|char STEPS THREADS`` trains the zoo recipe's model
(same config, data, optimizer, seed) for STEPS steps with either the spelled text (``char``) or
flite ``awb``'s own phone sequence (``flite -ps``; one ASCII letter per ARPAbet phone, pauses as
``,``) as the tokenizer's input, then scores both test sets with the recipe's evaluation.
Measured (2000 steps, 1 thread each, run side by side): loss 0.652 letters / 0.637 phones;
Whisper WER Harvard 0.99 / 0.97, grammar sentences 0.94 / 0.94. Not part of the lab.
"""
import subprocess
import sys
import time
import types
import functools

ARPA = {"aa":"a","ae":"A","ah":"V","ao":"O","aw":"W","ax":"x","ay":"Y","eh":"e","er":"R","ey":"E",
        "ih":"I","iy":"i","ow":"o","oy":"Q","uh":"U","uw":"u",
        "b":"b","ch":"C","d":"d","dh":"D","f":"f","g":"g","hh":"h","jh":"J","k":"k","l":"l","m":"m",
        "n":"n","ng":"N","p":"p","r":"r","s":"s","sh":"S","t":"t","th":"T","v":"v","w":"w","y":"y",
        "z":"z","zh":"Z"}
@functools.lru_cache(maxsize=None)
def phones(text):
    out = subprocess.run(["flite", "-voice", "awb", "-ps", "-t", text, "-o", "/dev/null"],
                         capture_output=True, text=True, check=True).stdout.split()
    while out and out[0] == "pau": out.pop(0)
    while out and out[-1] == "pau": out.pop()
    s = "".join("," if p == "pau" else ARPA[p] for p in out)
    end = text.strip()[-1:] if text.strip()[-1:] in ".?!" else "."
    return s + end

import numpy as np, torch
mode, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
from lab.zoo import data, tts_data, tts_eval
from lab.zoo.common import warmup_cosine
from lab.zoo import train_speecht5_tts as T
from lab.tts.tiny import tiny_processor
from lab.tts.speaker import load_speaker
from lab.models import resolve
from transformers import SpeechT5ForTextToSpeech
torch.manual_seed(0); rng = np.random.default_rng(0)
proc = tiny_processor()
class Tok:
    def __init__(s, tok): s.tok = tok; s.pad_token_id = tok.pad_token_id
    def __call__(s, text): return s.tok(phones(text) if mode == "phone" else text)
    def __len__(s): return len(s.tok)
tok = Tok(proc.tokenizer)
P = types.SimpleNamespace(tokenizer=tok, feature_extractor=proc.feature_extractor)
texts = [tts_data.text("train", i, 0) for i in range(T.N_TRAIN)]
mels, samples = tts_data.corpus(texts, workers=1, cache=data.data_cache())
t0 = time.time(); ids = [tok(t).input_ids for t in texts]; print("tokenize", time.time()-t0, flush=True)
print(texts[0], "->", tok.tok.convert_ids_to_tokens(ids[0]))
cfg = T.config(len(tok))
model = SpeechT5ForTextToSpeech._from_config(cfg, attn_implementation="eager")
speaker, _ = load_speaker(None)
opt = torch.optim.AdamW(model.parameters(), lr=T.LR, weight_decay=0.01, betas=(0.9, 0.98))
sched = warmup_cosine(opt, steps, T.WARMUP, floor=0.05)
order = np.argsort([m.shape[0] for m in mels], kind="stable")
batches = [order[i:i + T.BATCH].tolist() for i in range(0, len(order), T.BATCH)]
step, losses, t0 = 0, [], time.time()
while step < steps:
    rng.shuffle(batches)
    for b in batches:
        if step >= steps: break
        x, am, y = T._batch(ids, mels, b, tok.pad_token_id, cfg.reduction_factor)
        model.train()
        loss = model(input_ids=x, attention_mask=am, labels=y, speaker_embeddings=speaker.expand(len(b), -1)).loss
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == steps - 1: print(f"step {step} loss {np.mean(losses[-100:]):.3f} ({time.time()-t0:.0f}s)", flush=True)
        step += 1
model.eval()
whisper = resolve("whisper-tiny.en")
tests = T.test_texts(0)
for name in ("harvard", "simple"):
    tx = tests[name]
    refs = tts_data.corpus(tx, workers=1)[1] / data.SAMPLE_RATE
    ev = tts_eval.evaluate(model, P, speaker, tx, list(refs), whisper, log=print if name == "harvard" else None)
    print(mode, steps, name, "WER", ev["wer"], "within15", ev["within_15pct"], "diag", ev["diagonality_best_head"], flush=True)
