"""apps.common without a server: outputs by name, the guarded handler, model choices."""
from __future__ import annotations

import logging
import warnings

import pytest

pytestmark = pytest.mark.app


def _is_skip(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update" and "value" not in v


def test_outputs_by_name():
    from apps.common import Outputs

    out = Outputs("status", "plot", "state")
    assert out.values(state=3, status="ok")[0] == "ok" and out.values(state=3)[2] == 3
    assert _is_skip(out.values(status="ok")[1])
    with pytest.raises(KeyError, match="not an output"):
        out.values(plott=1)
    status, plot, state, other = object(), object(), object(), object()
    assert out.components(locals()) == [status, plot, state]
    del plot
    with pytest.raises(KeyError, match="plot"):
        out.components(locals())
    with pytest.raises(ValueError):
        Outputs("a", "a")


def test_guarded_lab_error_is_the_message_and_the_rest_unchanged():
    from apps.common import Outputs, guarded
    from lab.errors import LabError

    OUT = Outputs("status", "plot")

    @guarded(OUT, box="status")
    def handler(x):
        raise LabError("no audio <here>")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status, plot = handler(1)
    assert "<b>Error:</b> no audio &lt;here&gt;" in status and _is_skip(plot)


def test_guarded_bug_is_logged_and_generic(caplog):
    from apps.common import guarded

    @guarded(2, box=0)
    def stream():
        yield "first", 1
        raise ZeroDivisionError("boom")

    with warnings.catch_warnings(), caplog.at_level(logging.ERROR, logger="apps"):
        warnings.simplefilter("ignore")
        outs = list(stream())
    assert outs[0] == ("first", 1)
    box, rest = outs[1]
    assert "internal error (ZeroDivisionError): boom" in box and "Traceback" not in box
    assert _is_skip(rest)
    assert "Traceback" in caplog.text and "ZeroDivisionError" in caplog.text


def test_guarded_single_output_and_expected_types():
    from apps.common import guarded

    @guarded(expected=(IndexError,))
    def pick(i):
        return [1, 2][i]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pick(1) == 2 and _is_skip(pick(5))

    @guarded(box=0)
    def panel():
        raise IndexError("index 5")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "internal error (IndexError)" in panel()


def test_model_choices_per_family():
    from apps import common
    from lab import models

    for family in ("whisper", "ctc", "tts", "classify"):
        ids = common.model_choices(family, extra=["x-demo"])
        assert len(ids) == len(set(ids)) and "x-demo" in ids
        known = [m.id for m in models.KNOWN if m.family == family]
        assert set(known) <= set(ids)
        if models.DEFAULTS.get(family):
            assert ids[0] == models.DEFAULTS[family] == common.default_model(family)
    labelled = common.model_choices("whisper", labelled=True)
    assert [i for _, i in labelled] == common.model_choices("whisper")
