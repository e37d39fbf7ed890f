"""The "What if" panel of the Whisper, CTC, TTS and Classify tabs: change one thing inside the
model (ablate heads or a part; Whisper: force a token; edit the audio; TTS: stop logit, speaker,
cross-attention span), run, and see original | changed | diff side by side on the same axes,
with both audios (TTS: both syntheses; the others: the original and the edited input).

A thin shell: the handler builds a spec (``apps/what_if_controls.py``) and calls
``lab.interventions.run.what_if(family, x, loaded, spec, original=<the tab's trace if it is the
unchanged run of the inputs>, **the tab's trace args)``; figures come from ``lab.viz.what_if``.
Whisper adds the head-importance sweep (``lab.interventions.sweep.head_importance``, with progress).

A tab mounts it with :func:`build` (``api_name``: ``/<family>_what_if``, ``/<family>_what_if_refresh``,
``/whisper_head_sweep``); every handler is ``common.guarded`` like the tab's own.
"""
from __future__ import annotations

from typing import Callable, Sequence

import gradio as gr

from apps import common, trace_io
from apps import what_if_controls as wc

# the run handler's control inputs, in order (after the tab's state, model and inputs)
CONTROLS = ("kind", "target", "heads", "mode", "step", "token", "token_text", "op", "word", "start",
            "end", "snr_db", "source", "source_start", "scale", "offset", "direction", "amount",
            "clamp_start", "clamp_end", "clamp_word", "patch_target", "patch_source", "patch_start",
            "patch_end")
OUTPUTS = common.Outputs("wi_status", "wi_original", "wi_changed", "wi_diff", "wi_text", "wi_audio_a",
                         "wi_audio_b", "wi_branch", "wi_json")
REFRESH = common.Outputs("wi_status", "target", "step", "token", "word", "direction", "wi_tokens",
                         "patch_target")
GROUPS = {wc.ABLATE: "g_ablate", wc.FORCE: "g_force", wc.EDIT: "g_edit", wc.STOP: "g_stop",
          wc.SPEAKER: "g_speaker", wc.CLAMP: "g_clamp", wc.PATCH: "g_patch"}
ABOUT = ("**What if?** Change one thing inside the model and compare with the tab's run: original "
         "| changed | diff on the same axes. Press **\u21bb** after a run to fill the pickers.")


def build(family: str, *, state, model, inputs: Sequence = (), load: Callable,
          args: Callable, current: Callable | None = None, run_event=None) -> None:
    """Mount the panel in the current Blocks. ``state``: the tab's trace State; ``model``: its
    model id component; ``inputs``: the tab's other inputs; ``load(model_id) -> Loaded`` (the
    tab's loader); ``args(loaded, trace, *input values) -> (x, trace kwargs)`` (what the tab
    passes its tracer); ``current(state value, *input values) -> Trace`` (default: the state);
    ``run_event``: the tab's Run event (the pickers refresh after it)."""
    current = current or (lambda value, *_: value)
    kinds = wc.KINDS[family]
    is_ = lambda k: k in kinds  # noqa: E731
    with gr.Accordion("What if? Change one thing inside the model", open=True, elem_id=f"{family}-whatif"):
        gr.Markdown(ABOUT)
        with gr.Row():
            kind = gr.Radio(list(kinds), value=kinds[0], label="Intervention", elem_id=f"{family}-whatif-kind",
                            scale=4)
            refresh = gr.Button("\u21bb from the tab's run", size="sm", scale=1)
        with gr.Row(visible=True) as g_ablate:
            target = gr.Dropdown([], label="Target (a part of the model)", allow_custom_value=True,
                                 elem_id=f"{family}-whatif-target")
            heads = gr.Textbox("", label="Heads (comma-separated; empty = the whole part)",
                               elem_id=f"{family}-whatif-heads")
            mode = gr.Radio(["zero", "mean"], value="zero", label="Replace with")
        with gr.Row(visible=False) as g_force:
            step = gr.Number(0, precision=0, label="Decoder step", elem_id=f"{family}-whatif-step")
            token = gr.Dropdown([], label="Token (that step's top-k)", allow_custom_value=True)
            token_text = gr.Textbox("", label="…or type a token / id (overrides)",
                                    elem_id=f"{family}-whatif-token-text")
        with gr.Row(visible=False) as g_edit:
            op = gr.Radio(["silence", "noise", "swap"], value="silence", label="Edit", elem_id=f"{family}-whatif-op")
            word = gr.Dropdown([], label="Word (fills the span)", allow_custom_value=True,
                               elem_id=f"{family}-whatif-word")
            start = gr.Number(0.0, label="Start (s)")
            end = gr.Number(0.5, label="End (s)")
            snr_db = gr.Number(10.0, label="Noise SNR (dB)")
            source = gr.Dropdown(list(wc.swap_sources()), label="Swap in (a committed clip)",
                                 allow_custom_value=True)
            source_start = gr.Number(0.0, label="Source start (s, in the swapped-in clip)")
        with gr.Row(visible=False) as g_stop:
            scale = gr.Number(1.0, label="Stop logit scale (0: stops at once; < 1 earlier)")
            offset = gr.Number(-20.0, label="Offset (-20: never stops by itself; 0: none)")
        with gr.Row(visible=False) as g_speaker:
            direction = gr.Dropdown([], label="Direction", allow_custom_value=True)
            amount = gr.Slider(-3, 3, value=1.0, step=0.1, label="Amount (tan of the turn: 1 = 45°)")
        with gr.Row(visible=False) as g_clamp:
            clamp_start = gr.Number(0, precision=0, label="Token span start")
            clamp_end = gr.Number(1, precision=0, label="End (exclusive)")
            clamp_word = gr.Textbox("", label="…or a word of the text")
        with gr.Row(visible=False) as g_patch:
            patch_target = gr.Dropdown([], label="Patch target (clip B's tensor replaces the tab clip's)",
                                       allow_custom_value=True, elem_id=f"{family}-whatif-patch-target")
            patch_source = gr.Dropdown(list(wc.swap_sources()), label="Clip B (a committed clip)",
                                       allow_custom_value=True, elem_id=f"{family}-whatif-patch-source")
            patch_start = gr.Number(None, label="From (s; empty: 0)")
            patch_end = gr.Number(None, label="To (s; empty: the end)")
        wi_tokens = gr.Markdown(visible=family == "tts")
        run = gr.Button("Run the what-if", variant="primary", elem_id=f"{family}-whatif-run")
        wi_status = common.status_box("", elem_id=f"{family}-whatif-status")
        with gr.Row(elem_id=f"{family}-whatif-figures"):
            wi_original = trace_io.Plot(label="Original", elem_id=f"{family}-whatif-original")
            wi_changed = trace_io.Plot(label="Changed", elem_id=f"{family}-whatif-changed")
            wi_diff = trace_io.Plot(label="Diff", elem_id=f"{family}-whatif-diff")
        wi_text = gr.HTML(elem_id=f"{family}-whatif-text")
        with gr.Row():
            wi_audio_a = gr.Audio(label="Original", type="numpy", interactive=False)
            wi_audio_b = gr.Audio(label="Changed", type="numpy", interactive=False)
        wi_branch = trace_io.Plot(label="Branch: the forced continuation", elem_id=f"{family}-whatif-branch",
                                  visible=family == "whisper")
        wi_json = gr.JSON(label="diff (lab.interventions.diff)", elem_id=f"{family}-whatif-json", max_height=240)
        if family == "whisper":
            with gr.Row():
                part = gr.Dropdown(["decoder.layers.{i}.cross_attn", "decoder.layers.{i}.self_attn",
                                    "encoder.layers.{i}.attn"], value="decoder.layers.{i}.cross_attn",
                                   label="Head importance: which attention")
                sweep = gr.Button("Sweep every head (one at a time)", elem_id="whisper-whatif-sweep")
            sweep_status = gr.Markdown(elem_id="whisper-whatif-sweep-status")
            sweep_plot = trace_io.Plot(label="Head importance", elem_id="whisper-whatif-sweep-plot", visible=False)
        if family == "ctc":
            lens_run = gr.Button("Lens: read every layer through the CTC head", elem_id="ctc-whatif-lens")
            lens_plot = trace_io.Plot(label="CTC lens (layer x time)", elem_id="ctc-whatif-lens-plot",
                                      visible=False)
    ui = locals()
    tab_inputs = [model, *inputs]
    n_tab = len(inputs)

    def _trace(value, values):
        return wc.require_trace(current(value, *values))

    @common.guarded(OUTPUTS, box="wi_status")
    def what_if_run(value, model_id, *rest):
        from lab.interventions.run import what_if
        from lab.viz import what_if as wv
        from lab.viz.whisper_beam import branch_figure

        values, c = rest[:n_tab], dict(zip(CONTROLS, rest[n_tab:]))
        trace = _trace(value, values)
        loaded = load(model_id)
        ivs = wc.spec(family, c["kind"], trace, loaded, c)
        x, kw = args(loaded, trace, *values)
        why = wc.mismatch(trace, family, x, loaded, kw)
        res = what_if(family, x, loaded, ivs, original=None if why else trace, **kw)
        v = wv.views(res.original, res.changed, res.diff)
        a, b = wc.players(res.original, res.changed)
        note = f" (the tab's trace was not reused: {why}; the original was run again)" if why else ""
        summary = "**changed**" if res.diff["changed"] else "**nothing changed**"
        return OUTPUTS.values(
            wi_status=f"{summary}: {', '.join(i.kind for i in ivs)} {ivs[0].as_dict()}{note}",
            wi_original=v["original"], wi_changed=v["changed"], wi_diff=v["diff"], wi_text=v["text_html"],
            wi_audio_a=a, wi_audio_b=gr.update(value=b, label="Changed" if b is not None else
                                               "Changed (the input was not edited: same audio)"),
            wi_branch=branch_figure(res.original, res.changed) if family == "whisper" else None,
            wi_json=res.diff)

    @common.guarded(REFRESH, box="wi_status")
    def what_if_refresh(value, model_id, *values):
        trace = _trace(value, values)
        loaded = load(model_id)
        out = dict(wi_status="", target=gr.update(choices=wc.target_choices(loaded, family)))
        if family != "tts":
            out["patch_target"] = gr.update(choices=wc.patch_targets(loaded, family), value="encoder.output")
        if family == "whisper":
            out.update(step=gr.update(label=f"Decoder step (0..{len(trace.steps) - 1})", value=0),
                       token=gr.update(choices=wc.token_choices(trace, 0), value=None))
        if family in ("whisper", "ctc"):
            out["word"] = gr.update(choices=wc.word_choices(trace), value=None)
        if family == "tts":
            x, kw = args(loaded, trace, *values)
            out.update(direction=gr.update(choices=wc.direction_choices(loaded, kw.get("speaker"))),
                       wi_tokens="Tokens: " + " ".join(f"`{k}:{t}`" for k, t in enumerate(trace.tokens)))
        return REFRESH.values(**out)

    @common.guarded(REFRESH, box="wi_status")
    def after_run(value, model_id, *values):
        """The refresh after the tab's Run: quiet when the run left no trace (its own box says why)."""
        trace = current(value, *values)
        if trace is None or (isinstance(trace, list) and not trace):
            return REFRESH.skip()
        return what_if_refresh.__wrapped__(value, model_id, *values)

    @common.guarded(len(GROUPS))
    def show_kind(k):
        return [gr.update(visible=g == k) for g in GROUPS]

    @common.guarded()
    def show_heads(value, model_id, target_name, *values):
        if not target_name:
            return gr.skip()
        return gr.update(label=wc.heads_label(load(model_id), family, target_name))

    @common.guarded()
    def show_tokens(value, s, *values):
        trace = current(value, *values)
        if trace is None or not getattr(trace, "steps", None):
            return gr.skip()
        return gr.update(choices=wc.token_choices(trace, s), value=None)

    @common.guarded(2)
    def show_word(value, k, *values):
        trace = current(value, *values)
        if trace is None or k in (None, ""):
            return common.skip(2)
        return wc.word_span(trace, k)

    ctl = [ui[n] for n in CONTROLS]
    run.click(what_if_run, [state, *tab_inputs, *ctl], OUTPUTS.components(ui), api_name=f"{family}_what_if")
    ref_out = REFRESH.components(ui)
    refresh.click(what_if_refresh, [state, *tab_inputs], ref_out, api_name=f"{family}_what_if_refresh")
    if run_event is not None:
        run_event.then(after_run, [state, *tab_inputs], ref_out, api_name=False)
    kind.change(show_kind, [kind], [ui[g] for g in GROUPS.values()], api_name=False)
    target.change(show_heads, [state, model, target], [heads], api_name=False)
    if family == "whisper":
        step.change(show_tokens, [state, step, *inputs], [token], api_name=f"{family}_what_if_tokens")
    word.change(show_word, [state, word, *inputs], [start, end], api_name=f"{family}_what_if_word")
    if family == "whisper":
        @common.guarded(2, box=0)
        def head_sweep(value, model_id, part_name, progress=gr.Progress()):
            """Knock out each head of ``part_name`` in turn (the tab's run's tokens, teacher-forced)."""
            from lab.interventions.sweep import head_importance
            from lab.viz.interventions import head_importance_figure

            trace = wc.require_trace(value)
            loaded = load(model_id)
            progress(0, desc="head importance")
            res = head_importance(trace, loaded, part=part_name,
                                  progress=lambda d, n: progress((d, n), desc="heads", unit="head"))
            return (f"head importance of {part_name}: intact log p {res.base_logprob:.2f} over "
                    f"{res.n_tokens} tokens", gr.update(value=head_importance_figure(res), visible=True))

        sweep.click(head_sweep, [state, model, part], [sweep_status, sweep_plot], api_name="whisper_head_sweep")
    if family == "ctc":
        @common.guarded(2, box=0)
        def lens(value, model_id, *values):
            """Every encoder layer of the tab's clip read through the CTC head (lab.interventions.lens)."""
            from lab.interventions.lens import ctc_lens
            from lab.viz.lens import ctc_lens_figure

            trace = _trace(value, values)
            loaded = load(model_id)
            x, kw = args(loaded, trace, *values)
            res = ctc_lens(x, loaded, reference=kw.get("reference"))
            first = res.first_correct()
            return (f"lens: {len(res.texts)} rows; the first to read the final text: "
                    f"{res.layer_names[first] if first is not None else 'none'}",
                    gr.update(value=ctc_lens_figure(res), visible=True))

        lens_run.click(lens, [state, *tab_inputs], [wi_status, lens_plot], api_name="ctc_lens")
