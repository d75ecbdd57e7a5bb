r"""Linear stability: stability functions and regions, CFL limits, step-size advice.

Each solver describes its linear stability once, as one value of
:mod:`solvers.linear_stability` returned by ``solver.linear_stability()``
(:class:`OneStep`, :class:`Multistep`, :class:`Oscillator`, :class:`Unconditional`
or :class:`NotAnalysed`). Everything here derives from that value, and every bound
from one scan-and-bisect routine (:func:`~solvers.linear_stability.ray_bound`). The
package is split by job:

* :mod:`~solvers.stability.analysis` -- :func:`stability_function`,
  :func:`root_condition`, :func:`stability_region`, :func:`stability_bound`,
  :func:`imag_axis_bound`, :func:`max_stable_dt`;
* :mod:`~solvers.stability.cfl` -- :func:`cfl_table` and :func:`check_stability`
  (the ``StabilityWarning`` text);
* :mod:`~solvers.stability.plotting` -- :func:`plot_stability_regions` (matplotlib
  is imported when it is called);
* :mod:`~solvers.stability.jacobian` -- :func:`jacobian_eigenvalue`,
  :func:`jacobian_lam_max`, :func:`jacobian_spectrum` (Ritz values of the outer
  spectrum) and :func:`recommend_dt` for learned, nonlinear terms.

Conventions
===========
The analysis uses the scalar test equation ``y' = mu y`` and the scaled variable
``z = dt * mu``. A one-step method maps ``y_n -> R(z) y_n`` and is stable where
``|R(z)| <= 1``; a multistep method is stable where every root ``zeta`` of its
characteristic polynomial ``rho(zeta) - z sigma(zeta)`` has ``|zeta| <= 1``.
``root_condition`` returns ``max |zeta|`` for both (``|R(z)|`` for one-step methods).

For graph heat flow ``y' = -L y`` (see :mod:`graphops`: ``L = D - W`` is PSD) the
eigenvalues of ``-L`` are ``-lambda_i <= 0``, so the relevant points are
``z_i = -dt * lambda_i`` on the negative real axis, and a method whose stability
interval is ``[-c, 0]`` is stable iff ``dt <= c / lambda_max``. ``c`` is the
method's :func:`stability_bound` (Euler 2, RK4 2.785, Dopri5 3.307, AB2 1,
AB3 6/11, AB4 3/10; ``inf`` for ImplicitEuler and CrankNicolson).

Second-order methods (``Leapfrog`` = Stormer-Verlet, ``SymplecticEuler``, two-step
leapfrog) integrate the wave equation ``x'' = -L x``. Written as a first-order
system its eigenvalues are ``+-i sqrt(lambda_i)``, so the same ``z`` plane is used
with ``z = +-i dt sqrt(lambda)``: for ``x'' = -lambda x`` these methods satisfy

.. math:: \zeta^2 - (2 + z^2)\,\zeta + 1 = 0, \qquad z^2 = -dt^2 \lambda,

i.e. ``zeta^2 - (2 - dt^2 lambda) zeta + 1 = 0``, whose roots stay on the unit
circle iff ``dt^2 lambda <= 4``. Their stability "region" is the segment
``[-2i, 2i]`` of the imaginary axis, ``stability_bound`` is 2 and the CFL limit is
``dt <= 2 / sqrt(lambda_max)``. The damped scheme (``DampedLeapfrog``) has no
region in the ``z`` plane: its limit is computed per ``lambda_max``.
"""

from __future__ import annotations

from solvers.linear_stability import (
    LinearStability,
    Multistep,
    NotAnalysed,
    OneStep,
    Oscillator,
    Unconditional,
)
from solvers.stability.analysis import (
    imag_axis_bound,
    max_stable_dt,
    root_condition,
    stability_bound,
    stability_function,
    stability_region,
)
from solvers.stability.cfl import CFLRow, cfl_table, check_stability
from solvers.stability.jacobian import (
    DominantEigenvalue,
    RitzValues,
    jacobian_eigenvalue,
    jacobian_lam_max,
    jacobian_spectrum,
    recommend_dt,
    stable_step,
)
from solvers.stability.plotting import plot_stability_regions

__all__ = [
    "CFLRow",
    "DominantEigenvalue",
    "LinearStability",
    "Multistep",
    "NotAnalysed",
    "OneStep",
    "Oscillator",
    "RitzValues",
    "Unconditional",
    "cfl_table",
    "check_stability",
    "imag_axis_bound",
    "jacobian_eigenvalue",
    "jacobian_lam_max",
    "jacobian_spectrum",
    "max_stable_dt",
    "plot_stability_regions",
    "recommend_dt",
    "stable_step",
    "root_condition",
    "stability_bound",
    "stability_function",
    "stability_region",
]
