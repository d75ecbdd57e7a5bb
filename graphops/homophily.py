r"""Homophily: how much the graph's edges agree with the node labels.

Four measures, all on the :class:`~graphops.graph.Graph` convention (each undirected
edge once, no self-loops; weights are ignored, degrees count neighbours):

* :func:`edge_homophily`: the fraction of edges joining two nodes of one class
  (Zhu et al. 2020).
* :func:`node_homophily`: the per-node fraction of same-class neighbours, averaged
  over the non-isolated nodes (Pei et al. 2020, Geom-GCN).
* :func:`class_insensitive_homophily`: per class, the excess of its same-class
  neighbour fraction over the class's share of the nodes, so that large classes
  cannot dominate (Lim et al. 2021, LINKX).
* :func:`adjusted_homophily`: edge homophily corrected for the value expected by
  chance given the classes' degree totals, 0 for a random graph and negative for
  heterophily (Platonov, Kuznedelev, Babenko & Prokhorenkova 2023, "Characterizing
  graph datasets for node classification: homophily-heterophily dichotomy and
  beyond").

Each returns a Python float. :func:`edge_homophily` is also importable from
:mod:`graphops.energy` and :mod:`graphops.datasets`, where it used to live.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphops._checks import describe
from graphops.graph import Graph

__all__ = [
    "adjusted_homophily",
    "class_insensitive_homophily",
    "edge_homophily",
    "node_homophily",
]


def _check(where: str, graph: Graph, y: Tensor) -> Tensor:
    """Validate ``(graph, y)``; return ``y`` on the graph's device as int64."""
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops.Graph; got {describe(graph)}."
        )
    if (
        not isinstance(y, Tensor)
        or y.is_floating_point()
        or y.is_complex()
        or y.dtype == torch.bool
    ):
        raise TypeError(
            f"{where}: `y` must be an integer label tensor [N]; got {describe(y)}. "
            "Pass class indices, e.g. y.argmax(1) for one-hot labels."
        )
    if y.shape != (graph.num_nodes,):
        raise ValueError(
            f"{where}: `y` must have shape [N={graph.num_nodes}]; got "
            f"{tuple(y.shape)}. "
            "Pass one label per node."
        )
    if graph.num_edges == 0:
        raise ValueError(
            f"{where}: homophily is undefined on a graph without edges; got "
            "num_edges=0 "
            f"(num_nodes={graph.num_nodes}). Check the graph."
        )
    return y.to(graph.device, torch.int64)


def _same(graph: Graph, y: Tensor) -> Tensor:
    """``[M]`` float64: 1 where the edge's two ends share a label."""
    i, j = graph.edge_index
    return (y[i] == y[j]).double()


def edge_homophily(graph: Graph, y: Tensor) -> float:
    r"""Fraction of undirected edges whose two end nodes share a label.

    .. math:: h = \frac{1}{M} \sum_{\{i,j\} \in E} [y_i = y_j]

    Each undirected edge counts once and there are no self-loops (the :class:`Graph`
    convention). PyG's ``homophily(edge_index, y, method="edge")`` on the raw
    Geom-GCN edge files counts directed pairs, including self-loops and one-way
    edges, and so gives larger values on some sets (Texas: 0.108 there, 0.061 here).

    Args:
        graph: The graph.
        y: Integer labels ``[N]``.

    Returns:
        ``h`` in ``[0, 1]`` as a Python float.

    Raises:
        TypeError: ``y`` is not an integer tensor.
        ValueError: ``y`` has the wrong shape, or the graph has no edges.

    Example:
        >>> import torch
        >>> from graphops.datasets import path_graph
        >>> round(edge_homophily(path_graph(4), torch.tensor([0, 0, 1, 1])), 3)
        0.667
    """
    y = _check("edge_homophily", graph, y)
    return float(_same(graph, y).mean())


def node_homophily(graph: Graph, y: Tensor) -> float:
    r"""Mean over nodes of the fraction of neighbours sharing the node's label.

    .. math::

        h_{node} = \frac{1}{|V'|} \sum_{v \in V'}
        \frac{|\{u \in \mathcal N(v) : y_u = y_v\}|}{d_v},
        \qquad V' = \{v : d_v > 0\}

    (Pei et al. 2020, Geom-GCN). Isolated nodes have no neighbour fraction and are
    left out of the mean.

    Args:
        graph: The graph.
        y: Integer labels ``[N]``.

    Returns:
        ``h_node`` in ``[0, 1]`` as a Python float.

    Raises:
        TypeError: ``graph`` is not a Graph or ``y`` not an integer tensor.
        ValueError: ``y`` has the wrong shape, or the graph has no edges.

    Example:
        >>> from graphops.datasets import path_graph
        >>> node_homophily(path_graph(4), torch.tensor([0, 0, 1, 1]))
        0.75
    """
    y = _check("node_homophily", graph, y)
    i, j = graph.edge_index
    same = _same(graph, y)
    n = graph.num_nodes
    hits = same.new_zeros(n).index_add(0, i, same).index_add(0, j, same)
    ones = torch.ones_like(same)
    deg = same.new_zeros(n).index_add(0, i, ones).index_add(0, j, ones)
    has = deg > 0
    return float((hits[has] / deg[has]).mean())


def _class_totals(graph: Graph, y: Tensor, where: str):
    """Per present class: node count, degree total, same-class degree total."""
    classes, cls = torch.unique(y, return_inverse=True)
    c = classes.numel()
    if c < 2:
        raise ValueError(
            f"{where}: needs at least 2 classes; got {c} distinct label(s) "
            f"({classes.tolist()}). The measure compares classes; with one class "
            "every edge is homophilous."
        )
    i, j = graph.edge_index
    same = _same(graph, y)
    ones = torch.ones_like(same)
    size = torch.zeros(c, dtype=torch.float64, device=y.device).index_add(
        0, cls, torch.ones(y.numel(), dtype=torch.float64, device=y.device)
    )
    deg = ones.new_zeros(c).index_add(0, cls[i], ones).index_add(0, cls[j], ones)
    hit = ones.new_zeros(c).index_add(0, cls[i], same).index_add(0, cls[j], same)
    return c, size, deg, hit


def class_insensitive_homophily(graph: Graph, y: Tensor) -> float:
    r"""Class-insensitive edge homophily of Lim et al. (2021, LINKX).

    .. math::

        \hat h = \frac{1}{C - 1} \sum_{k=1}^{C}
        \Big[h_k - \frac{|\mathcal C_k|}{N}\Big]_+, \qquad
        h_k = \frac{\sum_{v \in \mathcal C_k} |\{u \in \mathcal N(v): y_u = y_v\}|}
                   {\sum_{v \in \mathcal C_k} d_v}

    over the ``C`` classes that occur in ``y``: a class counts only by how much its
    same-class neighbour fraction exceeds its share of the nodes (what a random
    graph gives), so a few large classes cannot make a heterophilous graph look
    homophilous. ``h_k = 0`` for a class whose nodes are all isolated. In
    ``[0, 1]``; 0 for a random graph.

    Args:
        graph: The graph.
        y: Integer labels ``[N]``.

    Returns:
        ``\hat h`` as a Python float.

    Raises:
        TypeError: ``graph`` is not a Graph or ``y`` not an integer tensor.
        ValueError: ``y`` has the wrong shape, the graph has no edges, or ``y``
            has fewer than 2 classes.

    Example:
        >>> from graphops.datasets import path_graph
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> round(class_insensitive_homophily(path_graph(4), y), 4)
        0.3333
    """
    where = "class_insensitive_homophily"
    y = _check(where, graph, y)
    c, size, deg, hit = _class_totals(graph, y, where)
    h_k = torch.where(deg > 0, hit / deg.clamp_min(1.0), torch.zeros_like(deg))
    excess = (h_k - size / graph.num_nodes).clamp_min(0.0)
    return float(excess.sum() / (c - 1))


def adjusted_homophily(graph: Graph, y: Tensor) -> float:
    r"""Adjusted homophily of Platonov et al. (2023): edge homophily beyond chance.

    .. math::

        h_{adj} = \frac{h_{edge} - \sum_k \bar p_k^2}{1 - \sum_k \bar p_k^2},
        \qquad \bar p_k = \frac{D_k}{2M}, \quad D_k = \sum_{v: y_v = k} d_v

    where ``h_edge`` is :func:`edge_homophily` and ``\sum_k \bar p_k^2`` the edge
    homophily expected when the edges are rewired at random keeping the degrees
    (the configuration model). 0 means no more same-class edges than chance, 1
    perfect homophily, and negative values heterophily (a bipartite graph between
    two classes of equal degree totals gives -1). Platonov et al. recommend it over
    the edge, node and class-insensitive measures: it is the only one of the four
    that is comparable across numbers of classes and class balances.

    Args:
        graph: The graph.
        y: Integer labels ``[N]``.

    Returns:
        ``h_adj`` in ``[-1, 1]`` as a Python float.

    Raises:
        TypeError: ``graph`` is not a Graph or ``y`` not an integer tensor.
        ValueError: ``y`` has the wrong shape, the graph has no edges, or all edge
            ends lie in one class (then ``\sum_k \bar p_k^2 = 1`` and the measure is
            0/0).

    Example:
        >>> from graphops.datasets import cycle_graph
        >>> adjusted_homophily(cycle_graph(6), torch.tensor([0, 1, 0, 1, 0, 1]))
        -1.0
    """
    where = "adjusted_homophily"
    y = _check(where, graph, y)
    h = float(_same(graph, y).mean())
    i, j = graph.edge_index
    ones = torch.ones(graph.num_edges, dtype=torch.float64, device=y.device)
    classes, cls = torch.unique(y, return_inverse=True)
    c = classes.numel()
    d_k = ones.new_zeros(c).index_add(0, cls[i], ones).index_add(0, cls[j], ones)
    chance = float(((d_k / (2.0 * graph.num_edges)) ** 2).sum())
    if chance >= 1.0 - 1e-12:
        raise ValueError(
            f"{where}: every edge end has the same label, so the chance level "
            f"sum_k p_k^2 is 1 and the measure is 0/0; got one class among the "
            f"{graph.num_edges} edges' ends. Check the labels (or use "
            "edge_homophily, which is 1 here)."
        )
    return (h - chance) / (1.0 - chance)
