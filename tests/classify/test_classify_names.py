"""The module-path table matches the installed transformers; the resolver loads the right class."""
import pytest
import transformers as T

from lab.classify.names import TABLE, paths_for
from lab.classify.tiny import tiny_config
from lab.errors import LabError
from lab.trace import module_at


def tiny_instance(arch):
    kind = "ast" if arch.startswith("AST") else "wav2vec2-seq"
    cfg = tiny_config(kind)
    if arch.startswith("Hubert"):
        cfg = T.HubertConfig(**tiny_config("hubert-seq").to_dict())
    if arch.startswith("Data2VecAudio"):
        cfg = T.Data2VecAudioConfig(**{k: v for k, v in cfg.to_dict().items()
                                       if k not in ("model_type", "architectures")})
    return getattr(T, arch)(cfg)


@pytest.mark.parametrize("arch", sorted(TABLE))
def test_every_path_exists(arch):
    model = tiny_instance(arch)
    p = paths_for(model)
    assert p is TABLE[arch]
    n = model.config.num_hidden_layers
    assert len(module_at(model, p.layers)) == n
    for i in range(n):
        module_at(model, p.attn(i))
    for path in p.parts.values():
        module_at(model, path)


def test_ast_layers_moved_in_transformers_5():
    assert TABLE["ASTForAudioClassification"].layers == "audio_spectrogram_transformer.layers"
    model = tiny_instance("ASTForAudioClassification")
    with pytest.raises(LabError):
        module_at(model, "audio_spectrogram_transformer.encoder.layer.0")


def test_unsupported_model_is_a_lab_error():
    with pytest.raises(LabError, match="supported"):
        paths_for(T.Wav2Vec2Model(tiny_config("wav2vec2-seq")))


def test_resolver_picks_the_frame_class(loaded):
    assert type(loaded["wav2vec2-frame"].model).__name__ == "Wav2Vec2ForAudioFrameClassification"
    assert type(loaded["wav2vec2-seq"].model).__name__ == "Wav2Vec2ForSequenceClassification"
    assert type(loaded["hubert-seq"].model).__name__ == "HubertForSequenceClassification"
    assert type(loaded["ast"].model).__name__ == "ASTForAudioClassification"
    assert loaded["ast"].model.config._attn_implementation == "eager"
    assert loaded["ast"].weights_source.startswith("local:")
