"""Test helpers: exact reference problems, the empirical order, benchmark loaders."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import Tensor

from graphops import Graph, Laplacian
from graphops.operators import GraphOperator
from models import gcn, graff, graphcon


@dataclass
class HeatProblem:
    """y' = -L y with the exact solution from an eigendecomposition of L."""

    graph: Graph
    L: GraphOperator
    y0: Tensor
    evals: Tensor
    evecs: Tensor

    def exact(self, t: float) -> Tensor:
        c = self.evecs.T @ self.y0
        return self.evecs @ (torch.exp(-self.evals * t).unsqueeze(1) * c)


def heat_problem(
    graph: Graph,
    normalization=None,
    num_modes: int = 4,
    features: int = 2,
    mode: str = "low",
) -> HeatProblem:
    """Heat flow with ``y0`` a mix of the lowest eigenvectors, or the top one.

    ``mode="low"``: a mix of the lowest eigenvectors; ``mode="top"``: the top
    eigenvector alone (the worst mode for CFL tests).
    """
    L = Laplacian(graph, normalization)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    if mode == "top":
        y0 = evecs[:, -1:].repeat(1, features)
    else:
        g = torch.Generator().manual_seed(1)
        coef = torch.randn(num_modes, features, generator=g)
        y0 = evecs[:, 1 : 1 + num_modes] @ coef
    return HeatProblem(graph, L, y0, evals, evecs)


@dataclass
class WaveProblem:
    """x'' = -L x, x(0) = x0, v(0) = v0, exact from the eigendecomposition."""

    graph: Graph
    L: GraphOperator
    x0: Tensor
    v0: Tensor
    evals: Tensor
    evecs: Tensor

    def exact(self, t: float) -> tuple[Tensor, Tensor]:
        w = self.evals.clamp_min(0).sqrt().unsqueeze(1)
        a = self.evecs.T @ self.x0
        b = self.evecs.T @ self.v0
        safe = torch.where(w > 0, w, torch.ones_like(w))
        sin_term = torch.where(w > 0, torch.sin(w * t) / safe, torch.full_like(w, t))
        x = torch.cos(w * t) * a + sin_term * b
        v = -w * torch.sin(w * t) * a + torch.cos(w * t) * b
        return self.evecs @ x, self.evecs @ v

    def energy(self, x: Tensor, v: Tensor) -> Tensor:
        return 0.5 * (v * v).sum() + 0.5 * (x * (self.L @ x)).sum()


def wave_problem(
    graph: Graph, normalization=None, num_modes: int = 4, features: int = 2
) -> WaveProblem:
    L = Laplacian(graph, normalization)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    g = torch.Generator().manual_seed(2)
    x0 = evecs[:, 1 : 1 + num_modes] @ torch.randn(num_modes, features, generator=g)
    v0 = (
        evecs[:, 1 : 1 + num_modes]
        @ torch.randn(num_modes, features, generator=g)
        * 0.5
    )
    return WaveProblem(graph, L, x0, v0, evals, evecs)


def empirical_order(
    dts: Sequence[float], errs: Sequence[float], floor: float = 1e-12
) -> float:
    """Least-squares slope of log(err) on log(dt), dropping errors below ``floor``."""
    pts = [
        (math.log(d), math.log(float(e)))
        for d, e in zip(dts, errs, strict=True)
        if float(e) > floor
    ]
    if len(pts) < 3:
        raise AssertionError(
            f"empirical_order: need >= 3 errors above {floor}; got {errs}"
        )
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def drive_steps(term, solver, y0, dt, num_steps, args=None, t0=0.0):
    """Drive ``solver.step`` by hand (no ``solve()``): states ``[y0, ...]``, evals."""
    state = solver.init(term, t0, y0, args)
    ys, evals, t, y = [y0], [], t0, y0
    for _ in range(num_steps):
        s = solver.step(term, t, dt, y, args, state)
        y, state, t = s.y1, s.state, t + dt
        ys.append(y)
        evals.append(s.rhs_evals)
    return ys, evals


# ---------------------------------------------------------------------------------
# Registries: one line per solver / model family; the generic tests iterate them.
# ---------------------------------------------------------------------------------
def all_solvers() -> list:
    """Every solver the package exports, configured as a user would (one per line).

    A new solver is covered by the generic order, CFL, gradcheck, repr, dtype and
    model solver-swap tests by adding one line here.
    """
    from solvers import (
        CG,
        RK4,
        AdamsBashforth,
        Bosh3,
        CrankNicolson,
        DampedLeapfrog,
        Dopri5,
        Euler,
        Heun,
        ImplicitEuler,
        Leapfrog,
        Midpoint,
        SymplecticEuler,
        TorchDiffEq,
        TwoStepLeapfrog,
    )

    return [
        Euler(),
        Midpoint(),
        Heun(),
        RK4(),
        Bosh3(),
        Dopri5(),
        Leapfrog(),
        TwoStepLeapfrog(),
        DampedLeapfrog(alpha=0.3, beta=0.7),
        SymplecticEuler(),
        AdamsBashforth(order=2),
        AdamsBashforth(order=3),
        AdamsBashforth(order=4),
        ImplicitEuler(CG(rtol=1e-12)),
        CrankNicolson(CG(rtol=1e-12)),
        TorchDiffEq("rk4"),
        TorchDiffEq("dopri5", rtol=1e-9, atol=1e-11),
    ]


@dataclass(frozen=True)
class ModelCase:
    """One model family for the generic model tests.

    Attributes:
        name: Test id.
        build: ``build(num_features, num_classes) -> GraphPDEModel`` with small
            widths (hidden <= 8) and few steps, in the default dtype.
        num_features: Input width the tests use.
        num_classes: Output width.
    """

    name: str
    build: object
    num_features: int = 3
    num_classes: int = 2


def _heat_model(num_features: int, num_classes: int):
    """Reference case: linear encoder, heat flow on the graph from args, decoder."""
    from torch import nn

    from models import GraphPDEModel
    from solvers import RK4, LinearTerm

    term = LinearTerm(lambda t, y, g: Laplacian(g, "sym"))
    return GraphPDEModel(
        nn.Linear(num_features, 4),
        term,
        nn.Linear(4, num_classes),
        solver=RK4(),
        t1=1.0,
        dt0=0.25,
    )


def _pde_gcn(num_features: int, num_classes: int, variant: str):
    from models import pde_gcn

    return pde_gcn.from_config(
        num_features, num_classes, variant=variant, hidden=4, layers=3, h=0.5
    )


def _grand_case(kind: str):
    """GRAND-l / GRAND-nl / BLEND with tiny widths and two fixed RK4 steps."""

    def build(num_features: int, num_classes: int):
        from models import grand
        from solvers import RK4

        small = dict(heads=2, attention_dim=4, solver=RK4(), t1=0.5, dt0=0.25)
        if kind == "blend":
            # The input has 2 positional columns after the features.
            return grand.blend_from_config(
                num_features - 2,
                num_classes,
                pos_dim=2,
                feat_hidden=3,
                pos_hidden=1,
                **small,
            )
        return grand.from_config(
            num_features, num_classes, variant=kind, hidden=4, **small
        )

    return build


def _nsd(num_features: int, num_classes: int, kind: str, **kw):
    """Neural Sheaf Diffusion with tiny widths (d = 2, C = 2, two layers)."""
    from models import sheaf

    return sheaf.from_config(
        num_features, num_classes, kind, d=2, layers=2, hidden=2, **kw
    )


# Families add their case here (one entry each).
MODEL_CASES: list[ModelCase] = [
    ModelCase("heat", _heat_model),
    ModelCase("gcn", lambda f, c: gcn.from_config(f, c, hidden=8, layers=3)),
    ModelCase(
        "res-gcn",
        lambda f, c: gcn.residual_from_config(f, c, hidden=8, layers=3),
    ),
    ModelCase(
        "pairnorm",
        lambda f, c: gcn.pairnorm_from_config(f, c, hidden=8, layers=3),
    ),
    ModelCase(
        "gcnii",
        lambda f, c: gcn.gcnii_from_config(f, c, hidden=8, layers=3),
    ),
    ModelCase("pde-gcn-d", lambda f, c: _pde_gcn(f, c, "D")),
    ModelCase("pde-gcn-h", lambda f, c: _pde_gcn(f, c, "H")),
    ModelCase("pde-gcn-m", lambda f, c: _pde_gcn(f, c, "M")),
    ModelCase(
        "graphcon",
        lambda f, c: graphcon.from_config(f, c, hidden=4, layers=2, dt=0.5, gamma=1.0),
    ),
    ModelCase(
        "graff-dd",
        lambda f, c: graff.from_config(
            f, c, w_style="diag_dom", hidden=4, time=1.0, step_size=0.5
        ),
    ),
    ModelCase(
        "graff-d",
        lambda f, c: graff.from_config(
            f, c, w_style="diag", hidden=4, time=1.0, step_size=0.5
        ),
    ),
    ModelCase("grand-l", _grand_case("l")),
    ModelCase("grand-nl", _grand_case("nl")),
    ModelCase("blend", _grand_case("blend"), num_features=5),
    ModelCase("nsd-diag", lambda f, c: _nsd(f, c, "diag", add_lp=True, add_hp=True)),
    ModelCase("nsd-orth", lambda f, c: _nsd(f, c, "orthogonal", add_hp=True)),
    ModelCase("nsd-general", lambda f, c: _nsd(f, c, "general", add_lp=True)),
]


def operators() -> list[tuple[str, object]]:
    """Every graph operator, one line each: ``(name, build(graph, weight))``.

    ``weight`` is ``[M]`` positive edge weights (possibly requiring grad) or
    ``None``. A new operator is covered by the generic operator tests
    (``tests/graphops/test_generic_operators.py``: dense/scipy agreement, transpose,
    weighted adjoint, gradcheck, dtype move, repr) by adding one line here.
    """
    import graphops as go
    from graphops.sheaf import SheafLaplacian, orthogonal_maps

    def sheaf(kind: str, normalised: bool):
        def build(graph, weight):
            gen = torch.Generator().manual_seed(5)
            m, d = graph.num_edges, 2
            if kind == "diag":
                maps = torch.rand(m, 2, d, generator=gen) + 0.5
            elif kind == "orthogonal":
                maps = orthogonal_maps(torch.randn(m, 2, 1, generator=gen), d)
            else:
                maps = torch.randn(m, 2, d, d, generator=gen)
            return SheafLaplacian(
                graph, maps, kind, normalised=normalised, edge_weight=weight
            )

        return build

    return [
        ("Gradient", lambda g, w: go.Gradient(g, w)),
        ("Divergence", lambda g, w: go.Divergence(g, w)),
        ("Laplacian", lambda g, w: go.Laplacian(g, None, w)),
        ("Laplacian-sym", lambda g, w: go.Laplacian(g, "sym", w)),
        ("Laplacian-rw", lambda g, w: go.Laplacian(g, "rw", w)),
        ("Laplacian-gcn", lambda g, w: go.Laplacian(g, "gcn", w)),
        ("Adjacency", lambda g, w: go.Adjacency(g, None, w)),
        ("Adjacency-sym", lambda g, w: go.Adjacency(g, "sym", w)),
        ("Adjacency-gcn", lambda g, w: go.Adjacency(g, "gcn", w)),
        ("NodeToEdgeMean", lambda g, w: go.NodeToEdgeMean(g, w)),
        ("EdgeToNodeMean", lambda g, w: go.EdgeToNodeMean(g, w)),
        ("SheafLaplacian-diag", sheaf("diag", False)),
        ("SheafLaplacian-orthogonal-normalised", sheaf("orthogonal", True)),
        ("SheafLaplacian-general-normalised", sheaf("general", True)),
    ]


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module.

    The benchmark folder is on ``sys.path`` and the module in ``sys.modules`` while
    it executes (the scripts import ``_common``; dataclasses look their module up).
    """
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCHMARKS))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
        sys.path.remove(str(BENCHMARKS))
    return module


def run_benchmark(
    script: str, argv: Sequence[str], results: Path
) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<script>`` in a fresh process; results go to ``results``.

    One thread, this checkout's packages on ``PYTHONPATH`` (not an installed copy),
    ``GRAPHPDE_BENCH_RESULTS=results``; standard output and error are captured.
    """
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *argv],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "GRAPHPDE_BENCH_RESULTS": str(results),
            "PYTHONPATH": str(BENCHMARKS.parent),
        },
    )
