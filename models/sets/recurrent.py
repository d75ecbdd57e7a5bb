r"""A recurrent set model and SIRE, its permutation-invariance regulariser.

A recurrent network is a discrete dynamical system :math:`s_{t+1} = f(s_t,
x_{t+1})`; read over a set in some order it is not permutation invariant.
SIRE (Cohen-Karlik, Ben David & Globerson, *Regularizing Towards Permutation
Invariance in Recurrent Models*, NeurIPS 2020) adds to the task loss

.. math::

    \lambda\, \mathbb{E}_{(i, j)} \big\| F(x) - F(\tau_{ij} x) \big\|^2,

where :math:`\tau_{ij}` swaps positions :math:`i` and :math:`j` of the sequence
and :math:`F` is the network's output. Transpositions generate the symmetric
group, so a network invariant to every transposition is invariant to every
permutation. Restricting :math:`(i, j)` to neighbours (:math:`j = i + 1`) asks
only for invariance to local perturbations: the "semi-invariant" setting of
the paper's perturbed-MNIST experiment.

Sets are padded batches ``x [B, L, d]`` with ``lengths [B]`` (see
:func:`models.sets.deepsets.set_mask`): the recurrent network reads only the
real elements (``pack_padded_sequence``) and the transpositions swap only real
positions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.sets.deepsets import set_mask

__all__ = [
    "CELLS",
    "TARGETS",
    "RecurrentSetModel",
    "permute_sets",
    "random_permutations",
    "random_transpositions",
    "sire_penalty",
    "sire_state_penalty",
]

#: What :class:`RecurrentSetModel`'s penalty compares: the output after the whole
#: set, or the recurrent state right after the two swapped elements.
TARGETS: tuple[str, ...] = ("output", "state")

#: The recurrent cells of :class:`RecurrentSetModel`.
CELLS: tuple[str, ...] = ("gru", "lstm", "tanh")


def _lengths(x: Tensor, lengths: Tensor | None, where: str) -> Tensor:
    set_mask(x, lengths, where)  # validates
    if lengths is None:
        return torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
    return lengths.to(x.device)


def permute_sets(x: Tensor, index: Tensor) -> Tensor:
    """Reorder the elements of each set: ``out[b, i] = x[b, index[b, i]]``.

    Args:
        x: Padded sets ``[B, L, d]``.
        index: ``[B, L]`` long, a permutation of ``0..L-1`` in each row.

    Returns:
        The reordered sets, same shape as ``x``.
    """
    return torch.gather(x, 1, index.unsqueeze(-1).expand_as(x))


def random_transpositions(
    lengths: Tensor,
    max_len: int,
    *,
    local: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One random transposition of the real positions of each set, as an index.

    Positions ``i != j`` are drawn uniformly among the real ones (``local``:
    ``j = i + 1`` with ``i`` uniform); a set with one element is left as it is.

    Args:
        lengths: ``[B]`` set sizes (on any device).
        max_len: The padded length ``L``.
        local: Swap neighbouring positions only.
        generator: Random source (CPU generator); ``None``: the global one.

    Returns:
        ``[B, L]`` long index for :func:`permute_sets`, on ``lengths``' device.

    Example:
        >>> idx = random_transpositions(torch.tensor([3]), 4, local=True,
        ...                             generator=torch.Generator().manual_seed(0))
        >>> sorted(idx[0].tolist()) == [0, 1, 2, 3] and idx[0, 3].item() == 3
        True
    """
    n = lengths.detach().cpu().long()
    b = n.shape[0]
    u = torch.rand(b, 2, generator=generator, dtype=torch.float64)
    if local:
        i = (u[:, 0] * (n - 1).clamp(min=1)).long()
        j = i + 1
    else:
        i = (u[:, 0] * n).long()
        j = (u[:, 1] * (n - 1).clamp(min=1)).long()
        j = j + (j >= i).long()
    single = n < 2
    i = torch.where(single, 0, i)
    j = torch.where(single, 0, j)
    idx = torch.arange(max_len).repeat(b, 1)
    rows = torch.arange(b)
    idx[rows, i] = j
    idx[rows, j] = torch.where(single, 0, i)
    return idx.to(lengths.device)


def random_permutations(
    lengths: Tensor, max_len: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """A uniformly random permutation of the real positions of each set.

    Padding positions stay where they are.

    Args:
        lengths: ``[B]`` set sizes.
        max_len: The padded length ``L``.
        generator: Random source (CPU generator).

    Returns:
        ``[B, L]`` long index for :func:`permute_sets`.
    """
    n = lengths.detach().cpu().long()
    keys = torch.rand(n.shape[0], max_len, generator=generator, dtype=torch.float64)
    pad = torch.arange(max_len)[None, :] >= n[:, None]
    keys = torch.where(pad, 2.0 + torch.arange(max_len, dtype=torch.float64), keys)
    return keys.argsort(dim=1).to(lengths.device)


def sire_penalty(
    f: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    lengths: Tensor | None = None,
    *,
    num_transpositions: int = 1,
    local: bool = False,
    generator: torch.Generator | None = None,
    reference: Tensor | None = None,
) -> Tensor:
    r"""SIRE: mean of :math:`\|f(x) - f(\tau x)\|^2` over random transpositions.

    Args:
        f: The model, ``f(x, lengths) -> [B, out]``.
        x: Padded sets ``[B, L, d]``.
        lengths: ``[B]`` set sizes (``None``: all ``L``).
        num_transpositions: Transpositions sampled per set (>= 1).
        local: Swap neighbouring positions only.
        generator: Random source for the transpositions.
        reference: ``f(x, lengths)`` if already computed (saves a forward pass;
            the gradient flows through it as well).

    Returns:
        A scalar: the squared output difference summed over output components,
        averaged over sets and transpositions. Zero for an invariant ``f``;
        differentiable in ``f``'s parameters.

    Raises:
        ValueError: ``num_transpositions < 1`` or bad ``x``/``lengths``.

    Example:
        >>> x = torch.randn(4, 6, 1)
        >>> total = lambda x, n: x.sum(dim=1)              # invariant
        >>> first = lambda x, n: x[:, 0]                    # not invariant
        >>> float(sire_penalty(total, x))
        0.0
        >>> float(sire_penalty(first, x, num_transpositions=8)) > 0
        True
    """
    if not isinstance(num_transpositions, int) or num_transpositions < 1:
        raise ValueError(
            "sire_penalty: `num_transpositions` must be an integer >= 1; got "
            f"{num_transpositions!r}."
        )
    n = _lengths(x, lengths, "sire_penalty")
    ref = f(x, n) if reference is None else reference
    b, max_len = x.shape[:2]
    idx = torch.cat(
        [
            random_transpositions(n, max_len, local=local, generator=generator)
            for _ in range(num_transpositions)
        ]
    )
    swapped = f(permute_sets(x.repeat(num_transpositions, 1, 1), idx),
                n.repeat(num_transpositions))
    diff = swapped - ref.repeat(num_transpositions, *([1] * (ref.dim() - 1)))
    return diff.pow(2).reshape(diff.shape[0], -1).sum(dim=1).mean()


def sire_state_penalty(
    model: RecurrentSetModel,
    x: Tensor,
    lengths: Tensor | None = None,
    *,
    num_transpositions: int = 1,
    local: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""SIRE on the recurrent state: :math:`\|s_j(x) - s_j(\tau_{ij} x)\|^2`, ``i < j``.

    :math:`s_j` is the state after reading positions ``0..j``, i.e. right after
    both swapped elements. With neighbouring swaps (``local``) this is the
    commutation of the transition map, :math:`f(f(s, x_a), x_b) = f(f(s, x_b),
    x_a)`, at a state :math:`s = s_{i-1}` the network reaches on the data.
    Sets of one element contribute zero.

    Args:
        model: The recurrent set model (its :meth:`RecurrentSetModel.states`).
        x: Padded sets ``[B, L, d]``.
        lengths: ``[B]`` set sizes.
        num_transpositions: Transpositions sampled per set (>= 1).
        local: Swap neighbouring positions only.
        generator: Random source for the transpositions.

    Returns:
        The squared state difference, summed over the state, averaged over sets
        and transpositions.

    Raises:
        ValueError: ``num_transpositions < 1`` or bad ``x``/``lengths``.
    """
    if not isinstance(num_transpositions, int) or num_transpositions < 1:
        raise ValueError(
            "sire_state_penalty: `num_transpositions` must be an integer >= 1; got "
            f"{num_transpositions!r}."
        )
    n = _lengths(x, lengths, "sire_state_penalty")
    b, max_len = x.shape[:2]
    ref = model.states(x, n)
    total = x.new_zeros(())
    for _ in range(num_transpositions):
        idx = random_transpositions(n, max_len, local=local, generator=generator)
        moved = idx != torch.arange(max_len, device=idx.device)
        pos = torch.where(moved, torch.arange(max_len, device=idx.device), 0)
        j = pos.amax(dim=1)  # the later swapped position (0 if none)
        swapped = model.states(permute_sets(x, idx), n)
        rows = torch.arange(b, device=x.device)
        diff = swapped[rows, j] - ref[rows, j]
        total = total + diff.pow(2).sum(dim=1).mean()
    return total / num_transpositions


class RecurrentSetModel(nn.Module):
    """A recurrent network read over a set, with the SIRE regulariser.

    ``x [B, L, d]`` -> recurrent cell over the real elements -> final state ->
    a two-layer MLP head -> ``[B, out]``. The SIRE weight and sampling options are
    attributes used by :meth:`penalty` (the training loop adds
    ``lam * penalty``); with ``lam = 0`` the model is exactly the plain
    recurrent network.

    Args:
        in_dim: Element feature size ``d``.
        out_dim: Output size.
        hidden: State size (and head width).
        cell: ``"gru"``, ``"lstm"`` or ``"tanh"`` (Elman RNN).
        lam: SIRE weight (>= 0).
        num_transpositions: Transpositions sampled per set in :meth:`penalty`.
        local: Swap neighbouring positions only.
        target: What the penalty compares: ``"output"`` (:func:`sire_penalty`,
            the final output) or ``"state"`` (:func:`sire_state_penalty`, the
            state right after the swapped pair).

    Raises:
        ValueError: unknown ``cell`` or ``target``, negative ``lam``,
            ``num_transpositions < 1``.

    Example:
        >>> m = RecurrentSetModel(1, 2, hidden=8, cell="gru", lam=0.5)
        >>> m(torch.randn(3, 5, 1), torch.tensor([5, 2, 4])).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: int = 32,
        cell: str = "gru",
        lam: float = 0.0,
        num_transpositions: int = 1,
        local: bool = False,
        target: str = "output",
    ) -> None:
        """Build the model (see the class docstring)."""
        super().__init__()
        if cell not in CELLS:
            raise ValueError(
                f"RecurrentSetModel: `cell` must be one of {', '.join(CELLS)}; got "
                f"{cell!r}."
            )
        if not lam >= 0:
            raise ValueError(
                f"RecurrentSetModel: `lam` must be >= 0 (the SIRE weight); got {lam}."
            )
        if not isinstance(num_transpositions, int) or num_transpositions < 1:
            raise ValueError(
                "RecurrentSetModel: `num_transpositions` must be an integer >= 1; "
                f"got {num_transpositions!r}."
            )
        if target not in TARGETS:
            raise ValueError(
                f"RecurrentSetModel: `target` must be one of {', '.join(TARGETS)}; "
                f"got {target!r}."
            )
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}.get(cell)
        if rnn is None:
            self.rnn: nn.Module = nn.RNN(
                in_dim, hidden, nonlinearity="tanh", batch_first=True
            )
        else:
            self.rnn = rnn(in_dim, hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out_dim)
        )
        self.cell = cell
        self.lam = float(lam)
        self.num_transpositions = num_transpositions
        self.local = bool(local)
        self.target = target

    def state(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The final recurrent state after reading each set's real elements."""
        n = _lengths(x, lengths, "RecurrentSetModel")
        packed = pack_padded_sequence(
            x, n.cpu(), batch_first=True, enforce_sorted=False
        )
        _, h = self.rnn(packed)
        if self.cell == "lstm":
            h = h[0]
        return h[-1]

    def states(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The state after each real element, ``[B, L, hidden]`` (zeros after)."""
        n = _lengths(x, lengths, "RecurrentSetModel")
        packed = pack_padded_sequence(
            x, n.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.rnn(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """``[B, L, d]`` padded sets (and ``[B]`` lengths) -> ``[B, out]``."""
        return self.head(self.state(x, lengths))

    def penalty(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        reference: Tensor | None = None,
    ) -> Tensor:
        """The SIRE penalty of this model with its own options.

        :func:`sire_penalty` (``target="output"``; ``reference``, the output on
        ``x``, saves a forward pass) or :func:`sire_state_penalty`
        (``target="state"``; ``reference`` is ignored).
        """
        if self.target == "state":
            return sire_state_penalty(
                self,
                x,
                lengths,
                num_transpositions=self.num_transpositions,
                local=self.local,
                generator=generator,
            )
        return sire_penalty(
            self,
            x,
            lengths,
            num_transpositions=self.num_transpositions,
            local=self.local,
            generator=generator,
            reference=reference,
        )
