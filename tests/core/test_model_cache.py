"""``lab.models.load_cached``: a bounded LRU (count and bytes), thread-safe, a hit never waits for
another model's load, one load per missing key, eviction only drops the cache's reference."""
from __future__ import annotations

import threading

import pytest
import torch

from lab import models
from lab.models import Loaded


class _Resolver:
    """A stand-in for ``models.resolve``: a small Linear per id, counting calls; ids listed in
    ``gates`` block until their event is set."""

    def __init__(self, width: int = 4):
        self.calls: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.started: dict[str, threading.Event] = {}
        self.width = width
        self.lock = threading.Lock()

    def __call__(self, model_id, *, family=None, attention=True, device=None, allow_paths=True):
        with self.lock:
            self.calls.append(model_id)
        if model_id in self.gates:
            self.started.setdefault(model_id, threading.Event()).set()
            assert self.gates[model_id].wait(30), "test gate never opened"
        model = torch.nn.Linear(self.width, self.width)
        return Loaded(model=model, processor=None, model_id=model_id, family=family or "ctc",
                      weights_source=f"test:{model_id}", path="", device="cpu")


@pytest.fixture
def fake(monkeypatch):
    r = _Resolver()
    monkeypatch.setattr(models, "resolve", r)
    monkeypatch.setattr(models, "MAX_MODELS", 2)
    monkeypatch.setattr(models, "MAX_MODEL_BYTES", 0)
    models.clear_cache()
    yield r
    models.clear_cache()


def _ids() -> list[str]:
    return [k[0] for k in models.cache_info()["keys"]]


def test_hit_returns_the_same_object_without_loading_again(fake):
    a = models.load_cached("a", family="ctc")
    assert models.load_cached("a", family="ctc") is a
    assert fake.calls == ["a"]


def test_least_recently_used_is_evicted_first(fake):
    models.load_cached("a", family="ctc")
    models.load_cached("b", family="ctc")
    models.load_cached("a", family="ctc")  # a is now the most recent
    models.load_cached("c", family="ctc")  # evicts b, not a
    assert _ids() == ["a", "c"]
    models.load_cached("b", family="ctc")  # b loads again and evicts a
    assert _ids() == ["c", "b"]
    assert fake.calls == ["a", "b", "c", "b"]


def test_the_count_limit_holds_for_many_ids(fake, monkeypatch):
    monkeypatch.setattr(models, "MAX_MODELS", 3)
    for i in range(10):
        models.load_cached(f"m{i}", family="ctc")
        assert len(models.cache_info()["keys"]) <= 3
    assert _ids() == ["m7", "m8", "m9"]


def test_the_byte_limit_evicts_but_keeps_the_newest(fake, monkeypatch):
    monkeypatch.setattr(models, "MAX_MODELS", 10)
    one = models.model_bytes(models.load_cached("a", family="ctc"))
    assert one == (4 * 4 + 4) * 4  # Linear(4, 4) in float32
    monkeypatch.setattr(models, "MAX_MODEL_BYTES", 2 * one)
    models.load_cached("b", family="ctc")
    models.load_cached("c", family="ctc")
    assert _ids() == ["b", "c"]
    assert models.cache_info()["bytes"] == 2 * one
    monkeypatch.setattr(models, "MAX_MODEL_BYTES", one // 2)  # smaller than any model
    models.load_cached("d", family="ctc")
    assert _ids() == ["d"]


def test_key_includes_family_and_attention(fake, monkeypatch):
    monkeypatch.setattr(models, "MAX_MODELS", 10)
    a1 = models.load_cached("a", family="ctc", attention=True)
    a2 = models.load_cached("a", family="ctc", attention=False)
    assert a1 is not a2 and len(models.cache_info()["keys"]) == 2


def test_an_evicted_model_keeps_working_for_the_request_that_holds_it(fake):
    held = models.load_cached("a", family="ctc")
    models.load_cached("b", family="ctc")
    models.load_cached("c", family="ctc")  # a is evicted
    assert "a" not in _ids()
    x = torch.ones(1, 4)
    assert torch.equal(held.model(x), torch.nn.functional.linear(x, held.model.weight, held.model.bias))
    again = models.load_cached("a", family="ctc")
    assert again is not held and fake.calls.count("a") == 2


def test_a_hit_does_not_wait_for_another_models_load(fake):
    hit = models.load_cached("fast", family="ctc")
    fake.gates["slow"] = threading.Event()
    slow_result = {}
    t = threading.Thread(target=lambda: slow_result.setdefault(
        "v", models.load_cached("slow", family="ctc")))
    t.start()
    try:
        assert fake.started.setdefault("slow", threading.Event()).wait(30)
        # the slow load is in progress (blocked in resolve): a hit on another model returns now
        assert models.load_cached("fast", family="ctc") is hit
        assert t.is_alive()
    finally:
        fake.gates["slow"].set()
        t.join(30)
    assert slow_result["v"].model_id == "slow"


def test_concurrent_gets_of_one_missing_model_load_it_once(fake):
    fake.gates["m"] = threading.Event()
    out, errors = [], []

    def get():
        try:
            out.append(models.load_cached("m", family="ctc"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=get) for _ in range(8)]
    for t in threads:
        t.start()
    assert fake.started.setdefault("m", threading.Event()).wait(30)
    fake.gates["m"].set()
    for t in threads:
        t.join(30)
    assert not errors and len(out) == 8
    assert fake.calls == ["m"]
    assert all(o is out[0] for o in out)


def test_concurrent_gets_of_many_models_respect_the_limit(fake, monkeypatch):
    monkeypatch.setattr(models, "MAX_MODELS", 3)
    errors = []

    def work(k):
        try:
            for i in range(20):
                mid = f"m{(k + i) % 6}"
                assert models.load_cached(mid, family="ctc").model_id == mid
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(models.cache_info()["keys"]) <= 3
    assert not models._LOADING


def test_a_failed_load_is_not_cached_and_can_be_retried(fake, monkeypatch):
    real = fake.__call__
    state = {"fail": True}

    def flaky(model_id, **kw):
        if state["fail"]:
            raise models.LabError("boom")
        return real(model_id, **kw)

    monkeypatch.setattr(models, "resolve", flaky)
    with pytest.raises(models.LabError):
        models.load_cached("a", family="ctc")
    assert not models.cache_info()["keys"] and not models._LOADING
    state["fail"] = False
    assert models.load_cached("a", family="ctc").model_id == "a"


def test_max_models_reads_the_environment(monkeypatch):
    monkeypatch.setenv("AUDIOLAB_MAX_MODELS", "3")
    assert models._env_int("AUDIOLAB_MAX_MODELS", 6) == 3
    monkeypatch.setenv("AUDIOLAB_MAX_MODELS", "many")
    with pytest.raises(models.LabError, match="AUDIOLAB_MAX_MODELS"):
        models._env_int("AUDIOLAB_MAX_MODELS", 6)
