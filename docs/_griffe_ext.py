r"""Griffe extension: turn the reST bits of the project's docstrings into Markdown.

The docstrings are Google style (ruff's ``D`` rules) but keep a few reStructuredText
habits that griffe's Google parser does not know, and that Markdown misreads:

* ``Example:`` (singular) is not a Google section for griffe, so the doctest lines
  under it are read as prose, and an output line such as ``[0.5, 0.25]`` becomes a
  broken Markdown reference link. It is renamed ``Examples:``, which griffe parses
  into highlighted code.
* ``.. math::`` directives (one line, or an indented block) and ``:math:`` roles
  become MathML, converted at build time by ``latex2mathml`` (part of the ``docs``
  extra): browsers render MathML natively, so the site needs no MathJax from a CDN
  and reads offline. A formula the converter cannot take whole (it leaves a
  ``\command`` in its output, or raises) is shown as its LaTeX source instead: a
  fenced ``tex`` block, or inline code.
* The other inline roles (``:func:`~pkg.f```, ``:class:`X```, ...) become inline
  code with the short name, and `` `text <url>`_ `` links become Markdown links.

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


_LEFTOVER = re.compile(r"\\[A-Za-z]+")


def mathml(latex: str, *, display: bool) -> str | None:
    """``latex`` as one line of MathML, or ``None`` where it cannot be converted.

    ``None`` when ``latex2mathml`` is absent, raises, or leaves a LaTeX command
    in its output (it passes unknown commands through as text).
    """
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return None
    try:
        out = convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any converter failure falls back to code
        return None
    if _LEFTOVER.search(out):
        return None
    return out.replace("\n", "")


def _role(match: re.Match[str]) -> str:
    role, text = match.group(1), match.group(2).strip()
    if role == "math":
        return mathml(text, display=False) or f"`{text}`"
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
        # Blank lines separate equations (as in reST); each is one <math>, and
        # the whole block is shown as source if any one cannot be converted.
        equations = [" ".join(p.split("\n")) for p in "\n".join(text).split("\n\n")]
        html = [mathml(eq, display=True) for eq in equations if eq.strip()]
        if html and all(h is not None for h in html):
            for k, h in enumerate(html):
                out.extend([""] if k else [])
                out.append(f"{pad}{h}")
        else:
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
        The same docstring, ``Example:`` renamed ``Examples:``, math as MathML
        (or LaTeX source where it cannot be converted), roles and reST links in
        Markdown.

    Examples:
        >>> rst_to_markdown("See :func:`~solvers.solve` and :math:`x^2`.")[:30]
        'See `solve` and <math xmlns="h'
        >>> doc = "Text:\n\n.. math:: \\frobnicate{y}\n\nExample:\n    f(1)"
        >>> print(rst_to_markdown(doc))
        Text:
        <BLANKLINE>
        ```tex
        \frobnicate{y}
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
