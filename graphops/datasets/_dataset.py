"""The node-classification dataset container, :class:`GraphDataset`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.graph import Graph
from graphops.homophily import edge_homophily

__all__ = ["GraphDataset"]


@dataclass(frozen=True, eq=False, repr=False)
class GraphDataset:
    """A node-classification dataset: graph, features, labels and split masks.

    The masks are boolean. With a single split they have shape ``[N]``; with several
    (the 10 Geom-GCN splits) they have shape ``[N, S]`` and column ``i`` is split
    ``i`` (use :meth:`split`). Equality is identity (``eq=False``): compare fields
    explicitly.

    Args:
        name: Canonical dataset name, e.g. ``"cora"``.
        graph: The undirected graph on ``N`` nodes.
        x: Node features ``[N, F]``, floating point.
        y: Node labels ``[N]``, int64 in ``[0, num_classes)``.
        train_mask: Boolean ``[N]`` or ``[N, S]``.
        val_mask: Same shape as ``train_mask``.
        test_mask: Same shape as ``train_mask``.
        num_classes: Number of classes ``C``.

    Raises:
        TypeError: ``graph`` is not a Graph, or a tensor has the wrong dtype.
        ValueError: shapes disagree with ``graph.num_nodes`` or with each other, a
            label is outside ``[0, num_classes)``, ``x`` has a NaN/inf entry, a
            split's ``train_mask`` is all False, or two masks of one split overlap
            (checked once here, so every loader and generator gets them).

    Shapes:
        ``x [N, F]``, ``y [N]``, masks ``[N]`` or ``[N, S]``.
    """

    name: str
    graph: Graph
    x: Tensor
    y: Tensor
    train_mask: Tensor
    val_mask: Tensor
    test_mask: Tensor
    num_classes: int

    def __post_init__(self) -> None:
        """Validate types and shapes once, at construction."""
        where = "GraphDataset"
        if not isinstance(self.graph, Graph):
            raise TypeError(
                f"{where}: `graph` must be a graphops Graph; got "
                f"{describe(self.graph)}. "
                "Build one with Graph(edge_index, num_nodes)."
            )
        n = self.graph.num_nodes
        if (
            not isinstance(self.x, Tensor)
            or not self.x.is_floating_point()
            or self.x.dim() != 2
        ):
            raise TypeError(
                f"{where}: `x` must be a floating tensor [N, F]; got "
                f"{describe(self.x)}. "
                "Convert the features with torch.as_tensor(x, dtype=torch.float32)."
            )
        if self.x.shape[0] != n:
            raise ValueError(
                f"{where}: `x` must have one row per node, [N={n}, F]; got "
                f"{tuple(self.x.shape)}. Check that the features match the graph."
            )
        if not isinstance(self.y, Tensor) or self.y.dtype != torch.int64:
            raise TypeError(
                f"{where}: `y` must be an int64 tensor [N={n}]; got "
                f"{describe(self.y)}. "
                "Pass class indices (not one-hot), cast with .long()."
            )
        if self.y.shape != (n,):
            raise ValueError(
                f"{where}: `y` must have shape [N={n}] (one class index per node); got "
                f"{tuple(self.y.shape)}. Pass class indices, e.g. y.argmax(1) for "
                "one-hot."
            )
        masks = {
            "train_mask": self.train_mask,
            "val_mask": self.val_mask,
            "test_mask": self.test_mask,
        }
        for key, m in masks.items():
            if not isinstance(m, Tensor) or m.dtype != torch.bool:
                raise TypeError(
                    f"{where}: `{key}` must be a bool tensor; got {describe(m)}. "
                    "Cast with .bool()."
                )
            if (
                m.dim() not in (1, 2)
                or m.shape[0] != n
                or (m.dim() == 2 and m.shape[1] < 1)
            ):
                raise ValueError(
                    f"{where}: `{key}` must have shape [N={n}] or [N={n}, S]; got "
                    f"{tuple(m.shape)}. Stack several splits as columns."
                )
            if m.shape != self.train_mask.shape:
                raise ValueError(
                    f"{where}: all masks must have the same shape; got `train_mask` "
                    f"{tuple(self.train_mask.shape)} and `{key}` {tuple(m.shape)}. "
                    "Pass one column per split in each mask."
                )
        if (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, int)
            or self.num_classes < 1
        ):
            raise ValueError(
                f"{where}: `num_classes` must be a positive int; got "
                f"{self.num_classes!r}."
                " Pass int(y.max()) + 1 or the known number of classes."
            )
        if self.x.numel() > 0 and not bool(torch.isfinite(self.x).all()):
            bad = (~torch.isfinite(self.x)).nonzero()
            i, j = int(bad[0, 0]), int(bad[0, 1])
            raise ValueError(
                f"{where}: `x` must be finite; got {float(self.x[i, j])} at node {i}, "
                f"feature {j} ({bad.shape[0]} non-finite entries). The feature file "
                "is damaged or was parsed wrongly: re-download it, or impute and "
                "rebuild the dataset."
            )
        self._check_masks(where, n)
        if n > 0:
            lo, hi = int(self.y.min()), int(self.y.max())
            if lo < 0 or hi >= self.num_classes:
                raise ValueError(
                    f"{where}: labels must lie in [0, num_classes={self.num_classes}); "
                    f"got labels in [{lo}, {hi}]. Pass num_classes={max(hi + 1, 1)} or "
                    "relabel."
                )

    def _check_masks(self, where: str, n: int) -> None:
        """Every split trains on some node, and no node is in two of its masks."""
        if n == 0:
            return
        tr, va, te = (
            m if m.dim() == 2 else m.unsqueeze(1)
            for m in (self.train_mask, self.val_mask, self.test_mask)
        )
        empty = ~tr.any(0)
        if bool(empty.any()):
            s = int(empty.nonzero()[0])
            raise ValueError(
                f"{where}: `train_mask` must select at least one node in every split; "
                f"got an all-False train mask in split {s}. The split file is "
                "damaged or does not belong to this graph: rebuild the masks."
            )
        for (ka, a), (kb, b) in (
            (("train_mask", tr), ("val_mask", va)),
            (("train_mask", tr), ("test_mask", te)),
            (("val_mask", va), ("test_mask", te)),
        ):
            both = a & b
            if bool(both.any()):
                i, s = (int(v) for v in both.nonzero()[0])
                raise ValueError(
                    f"{where}: `{ka}` and `{kb}` must be disjoint; got node {i} in "
                    f"both (split {s}, {int(both[:, s].sum())} such nodes). "
                    "Overlapping masks leak evaluation nodes into training: fix "
                    "the split."
                )

    # -- sizes ------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N``."""
        return self.graph.num_nodes

    @property
    def num_edges(self) -> int:
        """Number of undirected edges ``M`` (each stored once)."""
        return self.graph.num_edges

    @property
    def num_features(self) -> int:
        """Number of node features ``F``."""
        return int(self.x.shape[1])

    @property
    def num_splits(self) -> int:
        """Number of train/val/test splits ``S`` (1 when the masks are 1-D)."""
        return 1 if self.train_mask.dim() == 1 else int(self.train_mask.shape[1])

    def split(self, i: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """The ``(train, val, test)`` boolean masks ``[N]`` of split ``i``.

        Args:
            i: Split index in ``[0, num_splits)``.

        Returns:
            Three boolean tensors of shape ``[N]``.

        Raises:
            TypeError: ``i`` is not an int.
            IndexError: ``i`` is out of range.
        """
        i = check_int(
            "GraphDataset.split",
            "i",
            i,
            fix=f"Pass a split index in [0, {self.num_splits}).",
        )
        if not 0 <= i < self.num_splits:
            plural = "s" if self.num_splits > 1 else ""
            raise IndexError(
                f"GraphDataset.split: `i` must be in [0, {self.num_splits}) for "
                f"'{self.name}' ({self.num_splits} split{plural});"
                f" got {i}. Loop over range(dataset.num_splits)."
            )
        if self.train_mask.dim() == 1:
            return self.train_mask, self.val_mask, self.test_mask
        return self.train_mask[:, i], self.val_mask[:, i], self.test_mask[:, i]

    def to(self, device: torch.device | str) -> GraphDataset:
        """A copy with the graph, features, labels and masks on ``device``."""
        return dataclasses.replace(
            self,
            graph=self.graph.to(device),
            x=self.x.to(device),
            y=self.y.to(device),
            train_mask=self.train_mask.to(device),
            val_mask=self.val_mask.to(device),
            test_mask=self.test_mask.to(device),
        )

    # -- text -------------------------------------------------------------------------
    def _split_sizes(self) -> str:
        def sizes(m: Tensor) -> str:
            s = m.sum(0).reshape(-1)
            lo, hi = int(s.min()), int(s.max())
            return f"{lo}" if lo == hi else f"{lo}-{hi}"

        return " / ".join(
            sizes(m) for m in (self.train_mask, self.val_mask, self.test_mask)
        )

    def __repr__(self) -> str:
        """One line: name, sizes, number of splits and split sizes."""
        return (
            f"GraphDataset(name={self.name!r}, num_nodes={self.num_nodes}, "
            f"num_edges={self.num_edges}, num_features={self.num_features}, "
            f"num_classes={self.num_classes}, num_splits={self.num_splits}, "
            f"train/val/test={self._split_sizes()})"
        )

    def summary(self) -> str:
        """A multi-line human-readable description (sizes, homophily, splits)."""
        n = max(self.num_nodes, 1)
        fractions = " / ".join(
            f"{100 * float(m.sum(0).double().mean()) / n:.0f}%"
            for m in (self.train_mask, self.val_mask, self.test_mask)
        )
        h = (
            f"{edge_homophily(self.graph, self.y):.3f}"
            if self.num_edges
            else "n/a (no edges)"
        )
        return "\n".join(
            [
                f"GraphDataset '{self.name}'",
                f"  nodes           {self.num_nodes}",
                f"  edges           {self.num_edges} (undirected, no self-loops)",
                f"  features        {self.num_features} ({self.x.dtype})",
                f"  classes         {self.num_classes}",
                f"  edge homophily  {h}",
                f"  splits          {self.num_splits}: train / val / test = "
                f"{self._split_sizes()} nodes ({fractions} of the nodes)",
            ]
        )
