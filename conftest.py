"""Doctest set-up for ``pytest --doctest-modules graphops solvers models``.

Docstring examples run against one small, documented namespace, as numpy's examples
assume ``np``: every public name of :mod:`graphops` and :mod:`solvers`, ``torch``,
and a ready-made problem: ``graph`` (a 4 x 4 grid graph, also ``g``), node
features ``x`` / ``x0`` (``[16, 2]``, float64, seeded) and ``term`` (heat flow
``LinearTerm(Laplacian(graph))``). Anything else an example needs, it builds.
"""

from __future__ import annotations

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctest_namespace(request, doctest_namespace):
    if not isinstance(request.node, DoctestItem):
        yield
        return
    import torch

    import graphops
    import solvers

    ns = doctest_namespace
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    for module in (graphops, solvers):
        ns.update({name: getattr(module, name) for name in module.__all__})
    graph = graphops.datasets.grid_graph(4, 4)
    x = torch.randn(graph.num_nodes, 2)
    ns.update(
        torch=torch,
        graph=graph,
        g=graph,
        x=x,
        x0=x,
        term=solvers.LinearTerm(graphops.Laplacian(graph)),
    )
    yield
    torch.set_default_dtype(old)
