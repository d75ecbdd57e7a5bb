"""Building blocks without graph logic: MLP encoders and decoders.

The families build their encoders and decoders from these, so dropout placement
and initialisation are stated once per family (in the family's constructor) and
not hidden in a block.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from graphops._checks import check_int, check_real

__all__ = ["MLP", "glorot_", "uniform_fan_"]


class MLP(nn.Sequential):
    """``[Dropout] -> Linear -> (act -> [Dropout] -> Linear)*`` with optional end act.

    Args:
        sizes: Layer widths ``[in, hidden..., out]``, at least two entries.
        dropout: Dropout before every ``Linear`` (``0`` disables it).
        act: Activation between layers (a module class, e.g. ``nn.ReLU``).
        bias: Biases on the linear maps.
        final_act: Apply ``act`` after the last ``Linear`` as well.

    Raises:
        ValueError: fewer than two sizes, a non-positive size or a dropout outside
            ``[0, 1)``.

    Example:
        >>> MLP([8, 16, 3], dropout=0.5)
        MLP(
          (0): Dropout(p=0.5, inplace=False)
          (1): Linear(in_features=8, out_features=16, bias=True)
          (2): ReLU()
          (3): Dropout(p=0.5, inplace=False)
          (4): Linear(in_features=16, out_features=3, bias=True)
        )
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        dropout: float = 0.0,
        act: type[nn.Module] = nn.ReLU,
        bias: bool = True,
        final_act: bool = False,
    ) -> None:
        """Build the layers (see the class docstring)."""
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"MLP: `sizes` needs at least [in, out]; got {sizes}. Pass e.g. "
                "[num_features, hidden]."
            )
        for s in sizes:
            check_int("MLP", "sizes", s, low=1)
        p = check_real("MLP", "dropout", dropout, low=0.0, high=1.0, high_open=True)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i > 0:
                layers.append(act())
            if p > 0:
                layers.append(nn.Dropout(p))
            layers.append(nn.Linear(a, b, bias=bias))
        if final_act:
            layers.append(act())
        super().__init__(*layers)


def glorot_(weight: Tensor) -> Tensor:
    """Glorot-uniform initialisation in place (PyG's ``glorot``), returns ``weight``.

    Bound ``sqrt(6 / (fan_in + fan_out))`` over the last two dimensions.
    """
    bound = (6.0 / (weight.shape[-2] + weight.shape[-1])) ** 0.5
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def uniform_fan_(weight: Tensor, fan: int) -> Tensor:
    """``U[-1/sqrt(fan), 1/sqrt(fan)]`` in place (GCNII's and GraphCON's init)."""
    bound = 1.0 / fan**0.5
    with torch.no_grad():
        return weight.uniform_(-bound, bound)
