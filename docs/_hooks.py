"""mkdocs hooks: the notebooks and the API reference are listed without naming them.

* A nav entry written as a glob (``notebooks/*.ipynb``) is replaced by the sorted
  matching files under ``docs_dir``, so a new ``notebooks/NN_name.ipynb`` appears on
  the site without editing ``mkdocs.yml``.
* The nav entry ``reference/`` is replaced by one page per public package and module
  of :data:`PACKAGES` (found by walking the source tree; names starting with ``_``
  are private and skipped). The pages are generated in memory (nothing is written
  to ``docs/``), so a new module is documented as soon as it exists.

A package page shows the package docstring, the public names that the package
itself defines or re-exports from its private modules (names re-exported from a
public module are documented on that module's page, once), and a list of its
public modules. A module page shows the whole module.
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

__all__ = ["PACKAGES", "Page", "on_config", "on_files", "reference_pages"]

#: The top-level packages documented in the API reference.
PACKAGES = ("graphops", "solvers", "models")
REFERENCE = "reference/"
_ROOT = Path(__file__).resolve().parent.parent


def _load_griffe_ext() -> Any:
    # mkdocs loads a hook by path, without putting docs/ on sys.path.
    spec = importlib.util.spec_from_file_location(
        "_griffe_ext", Path(__file__).with_name("_griffe_ext.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_rst_to_markdown = _load_griffe_ext().rst_to_markdown


@dataclass(frozen=True)
class Page:
    """One generated reference page."""

    module: str  # dotted name
    path: str  # page path under docs_dir
    is_package: bool
    markdown: str


def _is_public(dotted: str) -> bool:
    return not any(part.startswith("_") for part in dotted.split("."))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _summary(tree: ast.Module) -> str:
    doc = ast.get_docstring(tree) or ""
    first = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    return _rst_to_markdown(first)


def _package_members(tree: ast.Module, package: str) -> list[str]:
    """``__all__`` names defined here or imported from a private module."""
    origin: dict[str, str] = {}
    exported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                origin[alias.asname or alias.name] = node.module
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                exported = list(ast.literal_eval(node.value))
    keep = []
    for name in exported:
        source = origin.get(name)
        if source is None:
            if f"{package}.{name}" in _all_modules():
                continue  # a public submodule, listed below
            keep.append(name)  # defined (or lazily resolved) in the package
        elif not _is_public(source):
            keep.append(name)
    return keep


def _all_modules() -> dict[str, tuple[Path, bool]]:
    """Public dotted module name -> (source file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for top in PACKAGES:
        for init in sorted((_ROOT / top).rglob("__init__.py")):
            pkg_dir = init.parent
            dotted = ".".join(pkg_dir.relative_to(_ROOT).parts)
            if not _is_public(dotted):
                continue
            found[dotted] = (init, True)
            for src in sorted(pkg_dir.glob("*.py")):
                if not src.name.startswith("_"):
                    found[f"{dotted}.{src.stem}"] = (src, False)
    return found


def reference_pages() -> list[Page]:
    """The generated API pages, packages before their modules, sorted by name."""
    modules = _all_modules()
    pages = []
    for dotted in sorted(modules, key=lambda m: m.split(".")):
        src, is_package = modules[dotted]
        tree = _parse(src)
        parts = dotted.split(".")
        if is_package:
            path = REFERENCE + "/".join(parts) + "/index.md"
            members = _package_members(tree, dotted)
            children = [
                m for m in modules if m != dotted and m.rsplit(".", 1)[0] == dotted
            ]
            lines = [f"# `{dotted}`", "", f"::: {dotted}", "    options:"]
            lines.append("      show_root_heading: false")
            if members:
                lines.append("      members:")
                lines.extend(f"        - {name}" for name in members)
            else:
                lines.append("      members: false")
            if children:
                lines += ["", "## Modules", ""]
                for child in sorted(children):
                    child_src, child_pkg = modules[child]
                    leaf = child.rsplit(".", 1)[1]
                    link = f"{leaf}/index.md" if child_pkg else f"{leaf}.md"
                    summary = _summary(_parse(child_src))
                    lines.append(f"- [`{child}`]({link}): {summary}")
        else:
            path = REFERENCE + "/".join(parts) + ".md"
            lines = [f"# `{dotted}`", "", f"::: {dotted}", "    options:"]
            lines.append("      show_root_heading: false")
        pages.append(Page(dotted, path, is_package, "\n".join(lines) + "\n"))
    return pages


def _reference_nav() -> list[Any]:
    """Nested nav: one section per package, its index page first."""
    pages = reference_pages()

    def section(package: str) -> dict[str, list[Any]]:
        entries: list[Any] = []
        for page in pages:
            if page.module == package:
                entries.insert(0, page.path)
            elif page.module != package and page.module.rsplit(".", 1)[0] == package:
                entries.append(
                    section(page.module)
                    if page.is_package
                    else {page.module.rsplit(".", 1)[1]: page.path}
                )
        if len(entries) == 1:  # a package without public modules: one page
            return {package: entries[0]}
        return {package: entries}

    return [section(top) for top in PACKAGES]


def _expand(entries: list[Any], docs_dir: str) -> list[Any]:
    out: list[Any] = []
    for entry in entries:
        if entry == REFERENCE:
            out.extend(_reference_nav())
        elif isinstance(entry, str) and any(c in entry for c in "*?["):
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
                    k: _expand(v if isinstance(v, list) else [v], docs_dir)
                    if isinstance(v, list) or v == REFERENCE
                    else v
                    for k, v in entry.items()
                }
            )
        else:
            out.append(entry)
    return out


def on_config(config: Any) -> Any:
    """Expand the glob and ``reference/`` entries of ``nav`` (mkdocs hook)."""
    if config["nav"]:
        config["nav"] = _expand(config["nav"], config["docs_dir"])
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated reference pages to the site (mkdocs hook)."""
    for page in reference_pages():
        files.append(File.generated(config, page.path, content=page.markdown))
    return files
