"""Griffe extension: turn the reST bits of the project's docstrings into Markdown.

The docstrings are Google style (ruff's ``D`` rules) but keep a few reStructuredText
habits that griffe's Google parser does not know, and that Markdown misreads:

* ``Example:`` (singular) is not a Google section for griffe, so the doctest lines
  under it are read as prose, and an output line such as ``[0.5, 0.25]`` becomes a
  broken Markdown reference link. It is renamed ``Examples:``, which griffe parses
  into highlighted code.
* ``.. math::`` directives (one line, or an indented block) become fenced ``tex``
  code blocks: the site is built and read offline, with no MathJax from a CDN, so
  formulas are shown as their LaTeX source.
* Inline roles (``:func:`~pkg.f```, ``:class:`X```, ``:math:`x^2```, ...) become
  inline code with the short name, and `` `text <url>`_ `` links become Markdown
  links.

Only the text handed to the docstring parser changes; the sources are untouched.
Registered in ``mkdocs.yml`` under the python handler's ``extensions``.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

__all__ = ["RstToMarkdown", "rst_to_markdown"]

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$")
_MATH = re.compile(r"^(\s*)\.\. math::[ \t]*(.*)$")
_ROLE = re.compile(
    r":(?:py:)?(func|class|meth|mod|attr|data|obj|exc|const|ref|math):`([^`]+)`"
)
_LINK = re.compile(r"`([^`<]+?)\s*<([^`>]+)>`_{1,2}")


def _role(match: re.Match[str]) -> str:
    role, text = match.group(1), match.group(2).strip()
    if role == "math":
        return f"`{text}`"
    titled = re.fullmatch(r"(.+?)\s*<(.+)>", text)
    if titled:
        return f"`{titled.group(1)}`"
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"`{text.lstrip('!')}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        pad, first = match.group(1), match.group(2)
        base = len(pad)
        body: list[str] = [first] if first.strip() else []
        i += 1
        # The directive's content: every following line indented past the
        # directive, blank lines inside included.
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i])
            i += 1
        trailing_blanks = 0
        while body and not body[-1].strip():
            body.pop()
            trailing_blanks += 1
        while body and not body[0].strip():
            body.pop(0)
        rest = textwrap.dedent("\n".join(body[1:] if first.strip() else body))
        text = [first.strip()] if first.strip() else []
        text += [ln.rstrip() for ln in rest.splitlines()] if rest else []
        if out and out[-1].strip():
            out.append("")
        out.append(f"{pad}```tex")
        out.extend(f"{pad}{ln}" if ln else "" for ln in text)
        out.append(f"{pad}```")
        out.append("")
    return out


def rst_to_markdown(text: str) -> str:
    r"""The docstring ``text`` with its reST constructs rewritten as Markdown.

    Args:
        text: A cleaned docstring (as griffe stores it).

    Returns:
        The same docstring, ``Example:`` renamed ``Examples:``, ``.. math::``
        blocks fenced as ``tex`` code, roles and reST links in Markdown.

    Examples:
        >>> rst_to_markdown("See :func:`~solvers.solve` and :math:`x^2`.")
        'See `solve` and `x^2`.'
        >>> doc = "Text:\n\n.. math:: y = x\n\nExample:\n    f(1)"
        >>> print(rst_to_markdown(doc))
        Text:
        <BLANKLINE>
        ```tex
        y = x
        ```
        <BLANKLINE>
        Examples:
            f(1)
    """
    lines = [_EXAMPLE.sub(r"\1Examples:", ln) for ln in text.splitlines()]
    lines = _math_blocks(lines)
    out = "\n".join(lines)
    out = _ROLE.sub(_role, out)
    return _LINK.sub(r"[\1](\2)", out)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`rst_to_markdown` before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring (griffe hook, runs before parsing)."""
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
