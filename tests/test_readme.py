"""The README's Python example runs as written (real offline Whisper)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.real
def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    code = code.replace('"out/fox"', repr(str(tmp_path / "fox")))
    monkeypatch.chdir(ROOT)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    trace = ns["trace"]
    assert "quick" in trace.meta["text"].lower() and trace.meta["words"]
    assert (tmp_path / "fox" / "tensors.safetensors").is_file()
