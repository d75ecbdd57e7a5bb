"""Every ```python block of README.md runs, so the documentation cannot drift.

Blocks run in order in one namespace (a later block may use names an earlier one
defined, as a reader going down the page would), in a temporary working directory,
with matplotlib's non-interactive backend. Shell blocks (```bash) are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of each ```python block in ``text``."""
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)
    ]


def test_block_finder():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == [(2, "x = 1\n"), (8, "y = x\n")]


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    pytest.importorskip(
        "matplotlib",
        reason="the plots need matplotlib: pip install 'graphpde[demo]' "
        "(make test installs it)",
    )
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(README.read_text())
    assert blocks, "README.md has no python blocks"
    namespace: dict = {"__name__": "__readme__"}
    for line, code in blocks:
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"README.md block at line {line} failed: {exc!r}\n{code}")
