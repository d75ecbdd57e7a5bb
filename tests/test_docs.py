"""The documentation site: strict build, navigation, notebooks, reference, snippets.

The site is built with ``mkdocs build --strict`` into a temporary folder (a warning
fails the build), then checked against the sources: every page of the navigation
exists and was rendered, the notebook glob lists every ``notebooks/*.ipynb``, the
API reference has a page for every public module, every Python snippet of the hand
written pages runs, and every ``graphpde`` command they show parses. The docs
packages are the ``docs`` extra; without them the build tests skip with the reason.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "notebooks" not in p.parts)

def _missing_docs_packages() -> list[str]:
    missing = []
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter", "griffe"):
        if importlib.util.find_spec(module) is None:
            missing.append(module)
    if "mkdocstrings" not in missing:
        try:
            found = importlib.util.find_spec("mkdocstrings_handlers.python")
        except ModuleNotFoundError:
            found = None
        if found is None:
            missing.append("mkdocstrings-python")
    return missing


MISSING = _missing_docs_packages()
needs_docs = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs extra is not installed (missing: {', '.join(MISSING)}); "
    "pip install -e '.[docs]'",
)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hooks():
    """``docs/_hooks.py`` (needs mkdocs)."""
    return _load("_hooks")


@pytest.fixture(scope="module")
def nav(hooks) -> list:
    """The navigation of ``mkdocs.yml`` after the hooks expanded it."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return hooks._expand(config["nav"], str(DOCS))


def _nav_paths(entries) -> list[str]:
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                out.extend(_nav_paths(value if isinstance(value, list) else [value]))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built strictly (any warning fails) into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("WARNING")]
    assert not warnings, "\n".join(warnings)
    return out


# -- the strict build ----------------------------------------------------------------
@needs_docs
@pytest.mark.slow
def test_every_nav_page_exists_and_is_rendered(site, nav, hooks):
    generated = {page.path for page in hooks.reference_pages()}
    paths = _nav_paths(nav)
    assert "index.md" in paths and len(paths) == len(set(paths))
    for path in paths:
        assert path in generated or (DOCS / path).is_file(), f"nav page {path} missing"
        stem = path.rsplit(".", 1)[0]
        html = (
            site / stem[: -len("index")] / "index.html"
            if stem.endswith("index")
            else site / stem / "index.html"
        )
        assert html.is_file(), f"{path} was not rendered to {html}"
        assert html.stat().st_size > 1000


@needs_docs
@pytest.mark.slow
def test_notebooks_are_rendered_with_their_outputs(site):
    for nb in sorted(glob.glob(str(ROOT / "notebooks" / "*.ipynb"))):
        html = site / "notebooks" / Path(nb).stem / "index.html"
        text = html.read_text(encoding="utf-8")
        assert "jp-OutputArea" in text, f"{html} has no stored outputs"


@needs_docs
@pytest.mark.slow
def test_reference_pages_render_docstrings(site):
    text = (site / "reference" / "solvers" / "index.html").read_text(encoding="utf-8")
    assert 'id="solvers.get_solver"' in text
    gcn = (site / "reference" / "models" / "gcn" / "index.html").read_text("utf-8")
    # `.. math::` became MathML and `Example:` a parsed examples section.
    assert ".. math::" not in gcn and ":class:`" not in gcn
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in gcn
    # A formula the converter cannot take whole is shown as highlighted TeX
    # (a control sequence is a keyword token): ConstantStep's \big\lceil.
    steps = (site / "reference" / "solvers" / "controllers" / "index.html").read_text(
        "utf-8"
    )
    assert '<span class="k">\\big\\lceil</span>' in steps


# -- the navigation, without building --------------------------------------------------
@needs_docs
def test_notebook_glob_lists_every_notebook(nav):
    on_disk = sorted(
        "notebooks/" + Path(p).name for p in glob.glob(str(ROOT / "notebooks/*.ipynb"))
    )
    listed = sorted(p for p in _nav_paths(nav) if p.endswith(".ipynb"))
    assert on_disk and listed == on_disk
    assert (DOCS / "notebooks").resolve() == (ROOT / "notebooks").resolve()


@needs_docs
def test_glob_matching_nothing_fails(hooks, tmp_path):
    with pytest.raises(ValueError, match="matches no file"):
        hooks._expand(["nothing/*.ipynb"], str(tmp_path))


@needs_docs
def test_reference_has_a_page_per_public_module(hooks, nav):
    # Independent list: pkgutil over the packages' source folders.
    expected = set()
    for top in hooks.PACKAGES:
        expected.add(top)
        for info in pkgutil.walk_packages([str(ROOT / top)], prefix=f"{top}."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                expected.add(info.name)
    pages = {page.module: page for page in hooks.reference_pages()}
    assert set(pages) == expected
    listed = set(_nav_paths(nav))
    for page in pages.values():
        assert page.path in listed
        assert f"::: {page.module}" in page.markdown


@needs_docs
def test_package_pages_skip_names_documented_on_a_public_module(hooks):
    pages = {page.module: page.markdown for page in hooks.reference_pages()}
    # `CG` is re-exported by solvers from graphops.linalg: documented there only.
    assert "- CG\n" not in pages["solvers"] and "- get_solver\n" in pages["solvers"]
    # graphops.datasets re-exports its private modules' names: documented here.
    assert "- from_arrays\n" in pages["graphops.datasets"]
    assert "- edge_homophily\n" not in pages["graphops.datasets"]


# -- the griffe extension ------------------------------------------------------------
@pytest.fixture(scope="module")
def ext():
    pytest.importorskip("griffe", reason="the docs extra (griffe) is not installed")
    return _load("_griffe_ext")


def test_roles_become_inline_code(ext, monkeypatch):
    text = ":func:`~solvers.solve`, :class:`Graph`, :meth:`a.b <x.y>`, :math:`x^2`"
    monkeypatch.setattr(ext, "mathml", lambda latex, display: None)
    assert ext.rst_to_markdown(text) == "`solve`, `Graph`, `a.b`, `x^2`"


def test_math_becomes_mathml(ext):
    pytest.importorskip("latex2mathml", reason="latex2mathml (docs extra) is absent")
    out = ext.rst_to_markdown("see :math:`x^2`.")
    # MathML for x squared: a superscript of identifier x and number 2.
    assert out.startswith('see <math xmlns="http://www.w3.org/1998/Math/MathML"')
    assert 'display="inline"' in out and out.endswith("</math>.")
    assert re.sub(r"</?mrow>", "", out).count("<msup><mi>x</mi><mn>2</mn></msup>") == 1
    block = ext.rst_to_markdown(".. math:: a = b\n\n    c = d")
    assert block.count('display="block"') == 2 and "<mi>c</mi>" in block
    # An unknown command stays LaTeX source: the converter would pass it through.
    assert ext.mathml(r"\frobnicate{x}", display=True) is None
    assert ext.rst_to_markdown(":math:`\\frobnicate{x}`") == "`\\frobnicate{x}`"


def test_rst_links_become_markdown_links(ext):
    text = "see `torchdiffeq <https://example.org/t>`_."
    assert ext.rst_to_markdown(text) == "see [torchdiffeq](https://example.org/t)."


def test_math_directives_become_fenced_blocks(ext, monkeypatch):
    monkeypatch.setattr(ext, "mathml", lambda latex, display: None)
    text = (
        "Intro:\n"
        "    .. math:: a = b\n"
        "        + c\n"
        "    after\n"
        ".. math::\n"
        "\n"
        "    y = x\n"
        "\n"
        "    z = w\n"
        "end"
    )
    assert ext.rst_to_markdown(text).split("\n") == [
        "Intro:",
        "",
        "    ```tex",
        "    a = b",
        "    + c",
        "    ```",
        "",
        "    after",
        "",
        "```tex",
        "y = x",
        "",
        "z = w",
        "```",
        "",
        "end",
    ]


def test_example_section_is_renamed(ext):
    text = "Summary.\n\n    Example:\n        >>> 1\nExample: inline stays"
    out = ext.rst_to_markdown(text)
    assert "    Examples:\n        >>> 1" in out
    assert out.endswith("Example: inline stays")


# -- the snippets of the hand-written pages ------------------------------------------
def _blocks(page: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


# The pages with python snippets (the others have nothing to run).
SNIPPET_PAGES = [p for p in PAGES if _blocks(p, "python")]


def test_every_page_has_been_checked_for_snippets():
    assert PAGES, "no documentation pages found"
    assert SNIPPET_PAGES


@pytest.mark.slow
@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_snippets_run(page, tmp_path, monkeypatch):
    blocks = _blocks(page, "python")
    pytest.importorskip("networkx", reason="the snippets use networkx (test extra)")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page.name}[python block {i}]", "exec"), namespace)


def test_graphpde_commands_parse():
    from models.experiments.cli import build_parser

    parser = build_parser()
    commands = []
    for page in PAGES:
        for block in _blocks(page, "bash"):
            commands += [
                ln.split("  #")[0].strip()
                for ln in block.splitlines()
                if ln.strip().startswith("graphpde ")
            ]
    assert len(commands) >= 10
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])
        assert args.command == command.split()[1]
