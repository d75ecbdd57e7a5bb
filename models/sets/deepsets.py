r"""DeepSets (Zaheer et al. 2017): :math:`\rho\big(\mathrm{pool}_i\,\phi(x_i)\big)`.

A batch of sets is a padded tensor ``x`` of shape ``[B, L, d]`` and ``lengths``
``[B]``: set ``b`` is ``x[b, :lengths[b]]``, the rest is padding. The pooling
(``sum``, ``mean`` or ``max``) reads only the real elements, so the output does
not depend on the padding nor on the order of the elements: the model is
permutation invariant by construction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["POOLINGS", "DeepSets", "set_mask"]

#: The pooling operators of :class:`DeepSets`.
POOLINGS: tuple[str, ...] = ("sum", "mean", "max")


def set_mask(x: Tensor, lengths: Tensor | None, where: str = "set_mask") -> Tensor:
    """Boolean ``[B, L]`` mask of the real elements of a padded batch of sets.

    Args:
        x: Padded sets, ``[B, L, d]``.
        lengths: Number of real elements of each set, ``[B]`` integers in
            ``1..L``; ``None`` means every set has all ``L`` elements.
        where: The caller's name, for the error messages.

    Returns:
        ``mask[b, i]`` is True when ``i < lengths[b]``.

    Raises:
        ValueError: ``x`` is not 3-D, or ``lengths`` has the wrong shape or values.
        TypeError: ``lengths`` is not an integer tensor.

    Example:
        >>> set_mask(torch.zeros(2, 3, 1), torch.tensor([1, 3])).tolist()
        [[True, False, False], [True, True, True]]
    """
    if x.dim() != 3:
        raise ValueError(
            f"{where}: `x` must be a padded batch of sets [B, L, d]; got shape "
            f"{tuple(x.shape)}. Add the feature axis with x.unsqueeze(-1)."
        )
    b, n = x.shape[:2]
    if lengths is None:
        return torch.ones(b, n, dtype=torch.bool, device=x.device)
    if not isinstance(lengths, Tensor) or lengths.dtype.is_floating_point:
        raise TypeError(
            f"{where}: `lengths` must be an integer tensor; got "
            f"{getattr(lengths, 'dtype', type(lengths).__name__)}. Pass "
            "torch.tensor(lengths, dtype=torch.long)."
        )
    if lengths.shape != (b,):
        raise ValueError(
            f"{where}: `lengths` must have shape ({b},) (one per set); got "
            f"{tuple(lengths.shape)}."
        )
    if b and (int(lengths.min()) < 1 or int(lengths.max()) > n):
        raise ValueError(
            f"{where}: `lengths` must lie in 1..{n} (the padded length); got "
            f"min {int(lengths.min())}, max {int(lengths.max())}. Empty sets are "
            "not supported."
        )
    return torch.arange(n, device=x.device)[None, :] < lengths.to(x.device)[:, None]


class DeepSets(nn.Module):
    r"""DeepSets: :math:`f(X) = \rho\big(\mathrm{pool}_{x \in X}\, \phi(x)\big)`.

    Args:
        phi: Module applied to every element, ``[..., d] -> [..., h]``.
        rho: Module applied to the pooled vector, ``[B, h] -> [B, out]``.
        pool: ``"sum"``, ``"mean"`` or ``"max"`` (over the real elements only).

    Raises:
        ValueError: unknown ``pool``.
        TypeError: ``phi`` or ``rho`` is not an ``nn.Module``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> m = DeepSets.mlp(1, 1, hidden=8, pool="sum")
        >>> x = torch.randn(2, 5, 1)
        >>> lengths = torch.tensor([5, 3])
        >>> y = m(x, lengths)
        >>> y_perm = m(x[:, [4, 2, 0, 1, 3]], torch.tensor([5, 3]))
        >>> bool(torch.allclose(y[0], y_perm[0]))  # set 0 permuted: same output
        True
    """

    def __init__(self, phi: nn.Module, rho: nn.Module, pool: str = "sum") -> None:
        """Build the model (see the class docstring)."""
        super().__init__()
        for name, mod in (("phi", phi), ("rho", rho)):
            if not isinstance(mod, nn.Module):
                raise TypeError(
                    f"DeepSets: `{name}` must be a torch.nn.Module; got "
                    f"{type(mod).__name__}. Wrap a function in a Module."
                )
        if pool not in POOLINGS:
            raise ValueError(
                f"DeepSets: `pool` must be one of {', '.join(POOLINGS)}; got "
                f"{pool!r}."
            )
        self.phi = phi
        self.rho = rho
        self.pool = pool

    @classmethod
    def mlp(
        cls,
        in_dim: int,
        out_dim: int,
        *,
        hidden: int = 32,
        pool: str = "sum",
        depth: int = 2,
    ) -> DeepSets:
        """DeepSets with ``depth``-layer ReLU MLPs as ``phi`` and ``rho``.

        Args:
            in_dim: Element feature size ``d``.
            out_dim: Output size.
            hidden: Width of both MLPs (and of the pooled vector).
            pool: The pooling.
            depth: Linear layers in each MLP (>= 1).

        Returns:
            The model.
        """
        if depth < 1:
            raise ValueError(f"DeepSets.mlp: `depth` must be >= 1; got {depth}.")

        def mlp(a: int, b: int, last_act: bool) -> nn.Sequential:
            layers: list[nn.Module] = []
            dims = [a] + [hidden] * (depth - 1) + [b]
            for i in range(depth):
                layers.append(nn.Linear(dims[i], dims[i + 1]))
                if i < depth - 1 or last_act:
                    layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        return cls(mlp(in_dim, hidden, True), mlp(hidden, out_dim, False), pool)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``[B, L, d]`` padded sets (and ``[B]`` lengths) -> ``[B, out]``."""
        mask = set_mask(x, lengths, "DeepSets")
        h = self.phi(x)
        m = mask.unsqueeze(-1)
        if self.pool == "max":
            pooled = h.masked_fill(~m, float("-inf")).amax(dim=1)
        else:
            pooled = h.masked_fill(~m, 0.0).sum(dim=1)
            if self.pool == "mean":
                pooled = pooled / mask.sum(dim=1, keepdim=True).to(h.dtype)
        return self.rho(pooled)
