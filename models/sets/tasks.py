r"""Set tasks, generated on the fly: synthetic functions, point clouds, digits.

Every task yields :class:`SetBatch` objects: padded sets ``x [B, L, d]``, their
``lengths [B]`` and targets ``y`` (``[B]`` floats for regression, ``[B]`` class
indices for classification).

Synthetic (:data:`SYNTHETIC`), each set's length drawn uniformly from a range:

* ``sum`` - :math:`\sum_i x_i`, :math:`x_i \sim U(-1, 1)`;
* ``parity`` - :math:`\sum_i x_i \bmod 2` of bits :math:`x_i \sim B(1/2)`
  (two classes);
* ``range`` - :math:`\max_i x_i - \min_i x_i`, :math:`x_i \sim U(0, 1)`;
* ``variance`` - the population variance :math:`\frac1n\sum_i (x_i-\bar x)^2` of
  :math:`x_i = \mu + s z_i`, :math:`z_i \sim N(0,1)`, per set
  :math:`\mu \sim U(-1, 1)`, :math:`s \sim U(0.2, 1.5)`;
* ``half-range`` - the *semi*-invariant :math:`\max_{i < \lfloor n/2 \rfloor} x_i
  - \min_{i \ge \lfloor n/2 \rfloor} x_i`, :math:`x_i \sim U(0, 1)`, lengths >= 2:
  invariant to permutations within each half only.

Real tasks with no download:

* ``pointcloud`` - :func:`sample_point_clouds`: points on the surfaces of five
  parametric shapes (:data:`SHAPES`), randomly scaled, rotated and jittered; the
  label is the shape;
* ``digits`` - scikit-learn's bundled 8x8 digits (``pip install
  'graphpde[sets]'``) read as a 64-pixel sequence, with random swaps of
  neighbouring pixels (:func:`perturb_locally`), as in the SIRE paper's locally
  perturbed MNIST.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "SHAPES",
    "SYNTHETIC",
    "TASKS",
    "SetBatch",
    "SetTask",
    "load_digits",
    "make_task",
    "perturb_locally",
    "random_rotations",
    "sample_point_clouds",
    "sample_surface",
]

#: The synthetic tasks.
SYNTHETIC: tuple[str, ...] = ("sum", "parity", "range", "variance", "half-range")
#: Every task name of :func:`make_task`.
TASKS: tuple[str, ...] = (*SYNTHETIC, "pointcloud", "digits")
#: The point-cloud shapes (class index = position here).
SHAPES: tuple[str, ...] = ("sphere", "cube", "cylinder", "cone", "torus")
#: Torus radii (tube centre, tube).
TORUS_R, TORUS_r = 1.0, 0.4


@dataclass
class SetBatch:
    """A padded batch of sets with targets.

    Attributes:
        x: ``[B, L, d]`` padded elements (zeros after ``lengths[b]``).
        lengths: ``[B]`` long set sizes.
        y: ``[B]`` targets (float for regression, long class for classification).
    """

    x: Tensor
    lengths: Tensor
    y: Tensor

    def to(self, device: torch.device | str) -> SetBatch:
        """The batch on ``device``."""
        return SetBatch(self.x.to(device), self.lengths.to(device), self.y.to(device))

    def __len__(self) -> int:
        """Number of sets."""
        return int(self.lengths.shape[0])

    def subset(self, index: Tensor | slice) -> SetBatch:
        """The sets ``index``, padding trimmed to their longest."""
        lengths = self.lengths[index]
        n = int(lengths.max()) if lengths.numel() else 0
        return SetBatch(self.x[index][:, :n], lengths, self.y[index])


@dataclass(frozen=True)
class SetTask:
    """A task: how to draw sets, and what kind of output it asks for.

    Attributes:
        name: One of :data:`TASKS`.
        kind: ``"regression"`` or ``"classification"``.
        in_dim: Element feature size.
        out_dim: Model output size (1, or the number of classes).
        min_length: Smallest set size the task is defined for.
        fixed_length: The set size of a fixed-length task (digits), else None.
        noise: Point-cloud jitter (standard deviation, before scaling).
        swaps: Digits: neighbour swaps per image.
    """

    name: str
    kind: str
    in_dim: int
    out_dim: int
    min_length: int = 1
    fixed_length: int | None = None
    noise: float = 0.02
    swaps: int = 8

    def sample(
        self,
        num: int,
        lengths: tuple[int, int],
        generator: torch.Generator,
        *,
        split: str = "train",
        dtype: torch.dtype | None = None,
    ) -> SetBatch:
        """Draw ``num`` sets with sizes uniform in ``lengths`` (inclusive).

        Args:
            num: Number of sets.
            lengths: ``(lo, hi)`` size range; ignored by fixed-length tasks.
            generator: Random source (CPU).
            split: Digits only: ``"train"``, ``"val"`` or ``"test"`` images (a
                fixed 60/20/20 split); the other tasks draw fresh sets.
            dtype: Floating dtype of ``x`` (and of regression targets); default
                ``torch.get_default_dtype()``.

        Returns:
            The batch.

        Raises:
            ValueError: bad ``num`` or ``lengths``.
        """
        lo, hi = _check_lengths(lengths, self.min_length, f"SetTask({self.name})")
        dtype = dtype or torch.get_default_dtype()
        if not isinstance(num, int) or num < 1:
            raise ValueError(
                f"SetTask({self.name}).sample: `num` must be an integer >= 1; got "
                f"{num!r}."
            )
        if self.name == "digits":
            return _digits_batch(num, split, self.swaps, generator, dtype)
        n = torch.randint(lo, hi + 1, (num,), generator=generator)
        if self.name == "pointcloud":
            pts, labels, _ = sample_point_clouds(
                num, hi, generator=generator, noise=self.noise, dtype=dtype
            )
            x = pts * (torch.arange(hi)[None, :, None] < n[:, None, None])
            return SetBatch(x, n, labels)
        return _synthetic(self.name, n, generator, dtype)


def _check_lengths(lengths: tuple[int, int], min_length: int, where: str) -> tuple:
    try:
        lo, hi = (int(v) for v in lengths)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: `lengths` must be a pair (lo, hi) of integers; got "
            f"{lengths!r}."
        ) from None
    if not min_length <= lo <= hi:
        raise ValueError(
            f"{where}: `lengths` must satisfy {min_length} <= lo <= hi; got "
            f"({lo}, {hi})."
        )
    return lo, hi


def make_task(name: str, *, noise: float = 0.02, swaps: int = 8) -> SetTask:
    """The task ``name`` (one of :data:`TASKS`).

    Args:
        name: Task name.
        noise: Point clouds: jitter standard deviation.
        swaps: Digits: neighbour swaps per image.

    Returns:
        The :class:`SetTask`.

    Raises:
        ValueError: unknown name, negative ``noise`` or ``swaps``.

    Example:
        >>> t = make_task("parity")
        >>> b = t.sample(4, (2, 6), torch.Generator().manual_seed(0))
        >>> bool((b.y == b.x.sum(dim=(1, 2)).long() % 2).all())
        True
    """
    if noise < 0 or swaps < 0:
        raise ValueError(
            f"make_task: `noise` and `swaps` must be >= 0; got {noise}, {swaps}."
        )
    specs = {
        "sum": ("regression", 1, 1, 1),
        "parity": ("classification", 1, 2, 1),
        "range": ("regression", 1, 1, 1),
        "variance": ("regression", 1, 1, 1),
        "half-range": ("regression", 1, 1, 2),
        "pointcloud": ("classification", 3, len(SHAPES), 1),
        "digits": ("classification", 1, 10, 1),
    }
    if name not in specs:
        raise ValueError(
            f"make_task: `name` must be one of {', '.join(TASKS)}; got {name!r}."
        )
    kind, d, out, lo = specs[name]
    fixed = 64 if name == "digits" else None
    return SetTask(name, kind, d, out, lo, fixed, float(noise), int(swaps))


def _synthetic(
    name: str, n: Tensor, g: torch.Generator, dtype: torch.dtype
) -> SetBatch:
    b, hi = n.shape[0], int(n.max())
    mask = torch.arange(hi)[None, :] < n[:, None]
    u = torch.rand(b, hi, generator=g, dtype=torch.float64)
    if name == "sum":
        x = 2 * u - 1
    elif name == "parity":
        x = (u < 0.5).to(torch.float64)
    elif name == "variance":
        z = torch.randn(b, hi, generator=g, dtype=torch.float64)
        mu = 2 * torch.rand(b, 1, generator=g, dtype=torch.float64) - 1
        s = 0.2 + 1.3 * torch.rand(b, 1, generator=g, dtype=torch.float64)
        x = mu + s * z
    else:
        x = u
    x = torch.where(mask, x, 0.0)
    nf = n.to(torch.float64)
    if name in ("sum", "parity"):
        y = x.sum(dim=1)
        if name == "parity":
            y = y.round().long() % 2
    elif name == "range":
        y = x.masked_fill(~mask, -math.inf).amax(1) - x.masked_fill(
            ~mask, math.inf
        ).amin(1)
    elif name == "variance":
        mean = x.sum(dim=1) / nf
        y = (((x - mean[:, None]) ** 2) * mask).sum(dim=1) / nf
    else:  # half-range
        pos = torch.arange(hi)[None, :]
        first = mask & (pos < (n // 2)[:, None])
        second = mask & ~first
        y = x.masked_fill(~first, -math.inf).amax(1) - x.masked_fill(
            ~second, math.inf
        ).amin(1)
    if y.dtype.is_floating_point:
        y = y.to(dtype)
    return SetBatch(x.unsqueeze(-1).to(dtype), n, y)


# -- point clouds -------------------------------------------------------------------
def random_rotations(num: int, generator: torch.Generator) -> Tensor:
    """``num`` rotation matrices ``[num, 3, 3]``, uniform (Haar) on SO(3).

    QR of a Gaussian matrix with the signs of R's diagonal moved into Q, and one
    column flipped where the determinant is -1.
    """
    a = torch.randn(num, 3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    det = torch.linalg.det(q)
    q[:, :, 0] = q[:, :, 0] * det.sign().unsqueeze(-1)
    return q


def sample_surface(shape: str, num: int, generator: torch.Generator) -> Tensor:
    """``num`` points uniform (by area) on the surface of a canonical shape.

    Canonical shapes: unit ``sphere``; ``cube`` ``[-1, 1]^3``; ``cylinder`` of
    radius 1 for ``z`` in ``[-1, 1]``, with its two caps; ``cone`` with apex
    ``(0, 0, 1)`` and base the unit disc at ``z = -1`` (included); ``torus`` of
    radii ``TORUS_R = 1``, ``TORUS_r = 0.4`` around the z axis.

    Args:
        shape: One of :data:`SHAPES`.
        num: Number of points.
        generator: Random source.

    Returns:
        ``[num, 3]`` float64 points.

    Raises:
        ValueError: unknown shape.
    """
    g = generator
    f64 = torch.float64

    def rand(*s: int) -> Tensor:
        return torch.rand(*s, generator=g, dtype=f64)

    def disc(k: int, z: float) -> Tensor:
        rad, th = rand(k).sqrt(), 2 * math.pi * rand(k)
        return torch.stack([rad * th.cos(), rad * th.sin(), torch.full((k,), z)], 1)

    def pick(parts: list[Tensor], weights: list[float]) -> Tensor:
        w = torch.tensor(weights, dtype=f64)
        which = torch.multinomial(w / w.sum(), num, replacement=True, generator=g)
        out = torch.empty(num, 3, dtype=f64)
        for k, part in enumerate(parts):
            sel = which == k
            out[sel] = part[: int(sel.sum())]
        return out

    if shape == "sphere":
        p = torch.randn(num, 3, generator=g, dtype=f64)
        return p / p.norm(dim=1, keepdim=True)
    if shape == "cube":
        face = torch.randint(0, 6, (num,), generator=g)
        p = 2 * rand(num, 3) - 1
        axis, sign = face // 2, (face % 2) * 2 - 1
        p[torch.arange(num), axis] = sign.to(f64)
        return p
    if shape == "cylinder":
        th, z = 2 * math.pi * rand(num), 2 * rand(num) - 1
        side = torch.stack([th.cos(), th.sin(), z], 1)
        # areas: side 2*pi*r*h = 4*pi, each cap pi
        return pick([side, disc(num, 1.0), disc(num, -1.0)], [4.0, 1.0, 1.0])
    if shape == "cone":
        t = rand(num).sqrt()  # distance from the apex / slant length, area ~ t
        th = 2 * math.pi * rand(num)
        side = torch.stack([t * th.cos(), t * th.sin(), 1 - 2 * t], 1)
        # areas: lateral pi*r*l = pi*sqrt(5), base pi
        return pick([side, disc(num, -1.0)], [math.sqrt(5.0), 1.0])
    if shape == "torus":
        # tube angle v has density ~ (R + r cos v): rejection sampling
        vs: list[Tensor] = []
        have = 0
        while have < num:
            v = 2 * math.pi * rand(2 * num)
            keep = rand(2 * num) * (TORUS_R + TORUS_r) < TORUS_R + TORUS_r * v.cos()
            vs.append(v[keep])
            have += int(keep.sum())
        v = torch.cat(vs)[:num]
        u = 2 * math.pi * rand(num)
        ring = TORUS_R + TORUS_r * v.cos()
        return torch.stack([ring * u.cos(), ring * u.sin(), TORUS_r * v.sin()], 1)
    raise ValueError(
        f"sample_surface: `shape` must be one of {', '.join(SHAPES)}; got {shape!r}."
    )


def sample_point_clouds(
    num: int,
    points: int,
    *,
    generator: torch.Generator,
    noise: float = 0.02,
    scale: tuple[float, float] = (0.7, 1.3),
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Labelled point clouds: ``R (s p) + noise``, ``p`` on a canonical surface.

    Each cloud picks a shape uniformly, samples ``points`` points on its canonical
    surface (:func:`sample_surface`), scales them by ``s ~ U(scale)``, rotates
    them by a Haar-random rotation ``R`` and adds Gaussian noise of standard
    deviation ``noise * s``.

    Args:
        num: Number of clouds.
        points: Points per cloud.
        generator: Random source.
        noise: Jitter, relative to the scale.
        scale: Range of the random scale.
        dtype: Output dtype (default ``torch.get_default_dtype()``).

    Returns:
        ``(x [num, points, 3], labels [num], transform)``; ``transform`` holds
        ``"scale" [num]`` and ``"rotation" [num, 3, 3]`` (float64), so that
        ``x[b] @ R[b] / s[b]`` is back on the canonical surface within the noise.
    """
    labels = torch.randint(0, len(SHAPES), (num,), generator=generator)
    pts = torch.empty(num, points, 3, dtype=torch.float64)
    for b in range(num):
        pts[b] = sample_surface(SHAPES[int(labels[b])], points, generator)
    s = scale[0] + (scale[1] - scale[0]) * torch.rand(
        num, generator=generator, dtype=torch.float64
    )
    rot = random_rotations(num, generator)
    jitter = noise * torch.randn(
        num, points, 3, generator=generator, dtype=torch.float64
    )
    x = (s[:, None, None] * (pts + jitter)) @ rot.transpose(1, 2)
    x = x.to(dtype or torch.get_default_dtype())
    return x, labels, {"scale": s, "rotation": rot}


# -- digits -------------------------------------------------------------------------
def load_digits() -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled 8x8 digits as ``(pixels [1797, 64] in [0, 1], labels)``.

    Raises:
        ImportError: scikit-learn is not installed (with the install hint).
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as exc:
        raise ImportError(
            "load_digits: scikit-learn is needed for the digits task; got it "
            "missing. Install it with pip install 'graphpde[sets]'."
        ) from exc
    d = _load()
    return (
        torch.as_tensor(d.data, dtype=torch.float64) / 16.0,
        torch.as_tensor(d.target, dtype=torch.long),
    )


def perturb_locally(x: Tensor, swaps: int, generator: torch.Generator) -> Tensor:
    """Swap ``swaps`` random pairs of neighbouring positions of each sequence.

    Each swap picks ``i`` uniformly in ``0..L-2`` and exchanges positions ``i``
    and ``i + 1`` (one after the other, so swaps may compose).

    Args:
        x: ``[B, L, ...]`` sequences.
        swaps: Number of swaps per sequence (>= 0).
        generator: Random source.

    Returns:
        The perturbed copy.
    """
    out = x.clone()
    b, n = x.shape[:2]
    rows = torch.arange(b)
    for _ in range(swaps):
        i = torch.randint(0, n - 1, (b,), generator=generator)
        a, c = out[rows, i].clone(), out[rows, i + 1].clone()
        out[rows, i], out[rows, i + 1] = c, a
    return out


_DIGIT_SPLITS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}


def _digits_batch(
    num: int, split: str, swaps: int, g: torch.Generator, dtype: torch.dtype
) -> SetBatch:
    if split not in _DIGIT_SPLITS:
        raise ValueError(
            f"SetTask(digits).sample: `split` must be one of train, val, test; got "
            f"{split!r}."
        )
    pixels, labels = load_digits()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    lo, hi = (int(f * len(labels)) for f in _DIGIT_SPLITS[split])
    pool = order[lo:hi]
    # every image of the split once (random order) before any repeats
    shuffled = torch.randperm(len(pool), generator=g)
    pick = pool[shuffled[torch.arange(num) % len(pool)]]
    x = perturb_locally(pixels[pick].unsqueeze(-1), swaps, g)
    n = torch.full((num,), 64, dtype=torch.long)
    return SetBatch(x.to(dtype), n, labels[pick])
