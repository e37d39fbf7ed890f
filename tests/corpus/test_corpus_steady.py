"""RunResult.steady_rate: the throughput after start-up that the corpus bench reports."""


def test_steady_rate_leaves_start_up_out():
    """Rows arriving 10 s after the start, then 4 a second: the steady rate is 4/s, not the whole
    run's (too few rows: None)."""
    from lab.corpus.engine import RunResult

    r = RunResult(store=None, started=0.0, arrivals=[10 + i / 4 for i in range(40)])
    assert abs(r.steady_rate() - 4.0) < 1e-9
    assert RunResult(store=None, arrivals=[1.0, 2.0]).steady_rate() is None
