"""Generic tests every model family passes (driven by ``helpers.MODEL_CASES``).

* permutation equivariance (``models.check_equivariance``) on a random graph;
* a solver swap: the model runs under every solver of ``helpers.all_solvers()``
  whose ``term_type`` accepts its term, and an incompatible solver fails with
  ``TermSolverMismatch`` naming the alternatives;
* ``model.to(dtype)`` moves every tensor the model holds;
* ``torch.autograd.gradcheck`` of the forward pass in float64 on a tiny graph,
  with respect to the input and to every parameter.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from models import check_equivariance
from solvers import (
    ConstantStep,
    DampedLeapfrog,
    Leapfrog,
    PIController,
    TermSolverMismatch,
    TwoStepLeapfrog,
)
from solvers.base import AbstractAdaptiveSolver, AbstractIntervalSolver

from conftest import make_random_graph
from helpers import MODEL_CASES, all_solvers

CASES = [pytest.param(case, id=case.name) for case in MODEL_CASES]


def _inputs(case, n=12, seed=0):
    graph = make_random_graph(n, 0.3, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, case.num_features, generator=gen)
    return graph, x


def _compatible(term, solver) -> bool:
    kinds = (
        solver.term_type if isinstance(solver.term_type, tuple) else (solver.term_type,)
    )
    # The leapfrog solvers need an acceleration that does not read the velocity;
    # they refuse a damped (velocity-dependent) SecondOrderTerm with
    # TermSolverMismatch, which the incompatible branch below checks.
    if getattr(term, "velocity_dependent", False) and isinstance(
        solver, (Leapfrog, TwoStepLeapfrog, DampedLeapfrog)
    ):
        return False
    return isinstance(term, kinds)


def _run_with(model, solver, x, graph):
    model.solver = solver
    if isinstance(solver, AbstractAdaptiveSolver):
        model.controller = PIController(rtol=1e-6, atol=1e-8)
    elif isinstance(solver, AbstractIntervalSolver):
        model.controller = ConstantStep()
    else:
        model.controller = ConstantStep()
    return model(x, graph)


@pytest.mark.parametrize("case", CASES)
def test_permutation_equivariant(case):
    graph, x = _inputs(case)
    model = case.build(case.num_features, case.num_classes)
    assert check_equivariance(model, graph, x) < 1e-10


@pytest.mark.parametrize("case", CASES)
def test_runs_under_every_compatible_solver(case):
    graph, x = _inputs(case)
    model = case.build(case.num_features, case.num_classes).eval()
    compatible, incompatible = [], []
    for solver in all_solvers():
        (compatible if _compatible(model.term, solver) else incompatible).append(solver)
    assert compatible, "no solver accepts this family's term"
    for solver in compatible:
        out = _run_with(model, solver, x, graph)
        assert out.shape == (graph.num_nodes, case.num_classes), repr(solver)
        assert torch.isfinite(out).all(), repr(solver)
    for solver in incompatible:
        model.solver, model.controller = solver, ConstantStep()
        with pytest.raises(TermSolverMismatch, match="use one of|Use"):
            model(x, graph)


@pytest.mark.parametrize("case", CASES)
def test_to_dtype_moves_everything(case):
    graph, x = _inputs(case)
    model = case.build(case.num_features, case.num_classes).eval()
    model.to(torch.float32)
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        assert tensor.dtype == torch.float32, name
    out = model(x.float(), graph.to(dtype=torch.float32))
    assert out.dtype == torch.float32


@pytest.mark.parametrize("case", CASES)
def test_gradcheck_forward(case):
    graph, x = _inputs(case, n=6, seed=1)
    model = case.build(case.num_features, case.num_classes).eval()
    params = {
        k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()
    }
    names = list(params)

    def f(x, *values):
        return functional_call(model, dict(zip(names, values, strict=True)), (x, graph))

    inputs = (x.clone().requires_grad_(True), *params.values())
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
