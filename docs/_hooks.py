"""mkdocs hook: list every notebook in the nav without naming them by hand.

A nav entry written as a glob (``notebooks/*.ipynb``) is replaced by the sorted
matching files under ``docs_dir``, so a new ``notebooks/NN_name.ipynb`` appears on
the site without editing ``mkdocs.yml``.
"""

from __future__ import annotations

import glob
import os
from typing import Any


def _expand(entries: list[Any], docs_dir: str) -> list[Any]:
    out: list[Any] = []
    for entry in entries:
        if isinstance(entry, str) and any(c in entry for c in "*?["):
            matches = sorted(glob.glob(os.path.join(docs_dir, entry)))
            if not matches:
                raise ValueError(
                    f"mkdocs nav: the pattern {entry!r} matches no file under "
                    f"{docs_dir!r}."
                )
            out.extend(
                os.path.relpath(m, docs_dir).replace(os.sep, "/") for m in matches
            )
        elif isinstance(entry, dict):
            out.append(
                {
                    k: _expand(v, docs_dir) if isinstance(v, list) else v
                    for k, v in entry.items()
                }
            )
        else:
            out.append(entry)
    return out


def on_config(config: Any) -> Any:
    """Expand glob entries of ``nav`` (mkdocs hook)."""
    if config["nav"]:
        config["nav"] = _expand(config["nav"], config["docs_dir"])
    return config
