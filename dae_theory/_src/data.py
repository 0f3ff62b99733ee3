"""Synthetic data for the theorems: obtuse directions, Gaussian mixtures, duplicates, separability."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.mixture import GaussianMixture, check_mixture

HIGHEST = jax.lax.Precision.HIGHEST


def _random_orthonormal(key, dim: int, cols: int, dtype=jnp.float32) -> jax.Array:
  """A Haar-random (dim, cols) matrix with orthonormal columns (QR with sign fix)."""
  q, r = jnp.linalg.qr(jax.random.normal(key, (dim, cols), dtype))
  return q * jnp.sign(jnp.diagonal(r))[None, :]


def equiangular_directions(key: jax.Array, num: int, dim: int, *, cosine: float | None = None,
                           dtype=jnp.float32) -> jax.Array:
  """``num`` unit vectors in ℝ^dim with every pairwise cosine equal to ``cosine``, randomly rotated.

  The default cosine −1/(num−1) gives the vertices of a regular simplex: the most obtuse set
  possible, which needs num ≤ dim + 1. Any cosine in (−1/(num−1), 1) needs num ≤ dim.
  Construction: the Gram matrix G = (1−c) I + c 11ᵀ has a PSD square root whose rows realise it;
  they are mapped into ℝ^dim by a random orthonormal frame.

  Returns:
    (num, dim) array of unit rows.
  """
  checks.check_key("key", key)
  num = checks.check_int("num", num)
  dim = checks.check_int("dim", dim)
  simplex = -1.0 / (num - 1) if num > 1 else 0.0
  c = simplex if cosine is None else float(checks.check_scalar("cosine", cosine))
  if num > 1 and not simplex - 1e-12 <= c < 1.0:
    raise ValueError(f"cosine must lie in [-1/(num-1), 1) = [{simplex:.4g}, 1), got {c}")
  gram = (1.0 - c) * np.eye(num) + c * np.ones((num, num))
  evals, evecs = np.linalg.eigh(gram)
  keep = evals > 1e-10
  coords = evecs[:, keep] * np.sqrt(evals[keep])  # (num, rank), rows realise the Gram matrix
  rank = coords.shape[1]
  if rank > dim:
    raise ValueError(f"dim must be at least {rank} to hold {num} directions with cosine {c:.4g}, got {dim}")
  frame = _random_orthonormal(key, dim, rank, jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
  out = jnp.matmul(jnp.asarray(coords, frame.dtype), frame.T, precision=HIGHEST)
  return out.astype(dtype)


def obtuse_point_set(key: jax.Array, num: int, dim: int, *, norm_range: tuple[float, float] = (2.0, 4.0),
                     cosine: float | None = None, dtype=jnp.float32) -> jax.Array:
  """Pairwise-obtuse points with varied norms: the setting of the memorisation corollary (Cor 3.2).

  Directions from ``equiangular_directions`` (default: a regular simplex, cos = −1/(num−1));
  norms i.i.d. uniform on ``norm_range``.

  Returns:
    (num, dim) points x_i with cos(x_i, x_j) = cosine < 0 for i ≠ j.
  """
  checks.check_key("key", key)
  if not (isinstance(norm_range, (tuple, list)) and len(norm_range) == 2):
    raise ValueError(f"norm_range must be a pair (low, high) of norms, got {norm_range!r}")
  lo, hi = norm_range
  checks.check_scalar("norm_range[0]", lo, positive=True)
  checks.check_scalar("norm_range[1]", hi, positive=True)
  if hi < lo:
    raise ValueError(f"norm_range must be (low, high) with low <= high, got {norm_range}")
  if cosine is not None and cosine >= 0:
    raise ValueError(f"cosine must be < 0 for a pairwise-obtuse set, got {cosine}")
  k_dir, k_norm = jax.random.split(key)
  directions = equiangular_directions(k_dir, num, dim, cosine=cosine, dtype=dtype)
  norms = jax.random.uniform(k_norm, (num, 1), dtype, lo, hi)
  return directions * norms


def greedy_obtuse_subset(x, order=None) -> np.ndarray:
  """Greedily grown mutually obtuse subset: scans rows of x (n, d) in ``order`` (default 0..n−1)
  and keeps each row whose cosine with every kept row is negative (Cor 3.2's assumption).

  Host-side NumPy; a search heuristic, not the largest such subset (at most d + 1 rows).

  Returns:
    (k,) int indices into x, in the order they were kept.
  """
  x = checks.as_float64("x", x)
  norms = np.linalg.norm(x, axis=1)
  if (norms == 0).any():
    raise ValueError("x has a zero row: its direction is undefined")
  unit = x / norms[:, None]
  if order is None:
    order = np.arange(x.shape[0])
  else:
    order = checks.check_int_array("order", order)
    if order.size and order.max() >= x.shape[0]:
      raise ValueError(f"order must hold row indices of x in [0, {x.shape[0]}), got {order.max()}")
  kept: list[int] = []
  for i in order:
    if not kept or (unit[kept] @ unit[i] < 0).all():
      kept.append(int(i))
  return np.asarray(kept, np.int64)


def gaussian_mixture(key: jax.Array, num_modes: int, dim: int, *, mean_norm: float = 1.0, rank: int = 2,
                     cov_scale: float = 0.5, iso_var: float = 0.0, weights: Sequence[float] | None = None,
                     cosine: float | None = None, orthogonal_to_means: bool = False,
                     dtype=jnp.float32) -> GaussianMixture:
  """A mixture with pairwise-obtuse means and low-rank covariances (the theorems' setting).

  Means μ_k = mean_norm · u_k with u_k from ``equiangular_directions`` (default: a regular simplex,
  cos(μ_k, μ_l) = −1/(K−1) < 0 as Definition 3.1 needs). Covariances
  Σ_k = cov_scale² U_k U_kᵀ + iso_var · I with U_k a random (d, rank) orthonormal basis, so
  ‖Σ_k^{1/2}‖_F / ‖μ_k‖ = cov_scale·√rank / mean_norm (the α of Cor 3.3, for iso_var = 0).

  Args:
    key: PRNG key.
    num_modes: K.
    dim: d.
    mean_norm: ‖μ_k‖.
    rank: r, rank of each low-rank part (0 for isotropic or point masses).
    cov_scale: standard deviation along each of the r directions.
    iso_var: isotropic variance added to every mode.
    weights: mixing weights ρ_k (default uniform); e.g. (0.9, 0.05, 0.05) for strong imbalance.
    cosine: pairwise cosine of the means (default −1/(K−1)).
    orthogonal_to_means: draw every U_k inside the orthogonal complement of the means' span (needs
      d ≥ K + rank). Then no mode spreads toward another mode's mean, and the blocks of Thm 3.1
      gate cleanly; with random U_k a mode's spread has components along the other means.

  Returns:
    ``GaussianMixture``.
  """
  checks.check_key("key", key)
  num_modes = checks.check_int("num_modes", num_modes)
  dim = checks.check_int("dim", dim)
  rank = checks.check_int("rank", rank, minimum=0)
  if rank > dim:
    raise ValueError(f"rank must be at most dim = {dim}, got {rank}")
  checks.check_scalar("mean_norm", mean_norm, positive=True)
  checks.check_scalar("cov_scale", cov_scale, nonnegative=True)
  checks.check_scalar("iso_var", iso_var, nonnegative=True)
  if weights is None:
    w = np.full(num_modes, 1.0 / num_modes)
  else:
    w = np.asarray(weights, np.float64)
    if w.shape != (num_modes,):
      raise ValueError(f"weights must have one entry per mode ({num_modes}), got shape {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
      raise ValueError(f"weights must be finite, >= 0 and not all zero, got {weights}")
    w = w / w.sum()
  k_mean, k_cov = jax.random.split(key)
  means = mean_norm * equiangular_directions(k_mean, num_modes, dim, cosine=cosine, dtype=dtype)
  if orthogonal_to_means:
    span = np.linalg.matrix_rank(np.asarray(means, np.float64))
    if dim < span + rank:
      raise ValueError(f"dim must be at least {span + rank} (means' span + rank) for orthogonal_to_means, got {dim}")
    q, _ = jnp.linalg.qr(means.T.astype(jnp.float32), mode="complete")  # (d, d), first columns span the means
    complement = q[:, span:].astype(dtype)
    bases = jax.vmap(lambda k: complement @ _random_orthonormal(k, dim - span, rank, dtype))(
        jax.random.split(k_cov, num_modes))
  else:
    bases = jax.vmap(lambda k: _random_orthonormal(k, dim, rank, dtype))(jax.random.split(k_cov, num_modes))
  return GaussianMixture(means=means, weights=jnp.asarray(w, dtype), factors=cov_scale * bases,
                         iso_var=jnp.full((num_modes,), iso_var, dtype))


class LabelledSamples(NamedTuple):
  """Samples with their mode labels.

  Attributes:
    x: (n, d) samples.
    labels: (n,) int32 mode (or cluster) index of each sample.
  """

  x: jax.Array
  labels: jax.Array


def sample_mixture(key: jax.Array, mixture: GaussianMixture, num: int, *, exact_counts: bool = False) -> LabelledSamples:
  """n i.i.d. samples x ~ Σ_k ρ_k N(μ_k, Σ_k), with labels.

  Args:
    key: PRNG key.
    mixture: the mixture.
    num: n.
    exact_counts: if True, n_k = round(ρ_k n) (largest remainders) instead of multinomial counts;
      samples stay sorted by mode.

  Returns:
    ``LabelledSamples`` (x (n, d), labels (n,)).
  """
  checks.check_key("key", key)
  check_mixture(mixture)
  num = checks.check_int("num", num)
  k_lab, k_z, k_iso = jax.random.split(key, 3)
  k_modes, d, r = mixture.factors.shape
  if exact_counts:
    w = np.asarray(mixture.weights, np.float64)
    raw = w * num
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts))[: num - counts.sum()]] += 1
    labels = jnp.asarray(np.repeat(np.arange(k_modes), counts), jnp.int32)
  else:
    labels = jax.random.categorical(k_lab, jnp.log(mixture.weights), shape=(num,)).astype(jnp.int32)
  dtype = mixture.means.dtype
  z = jax.random.normal(k_z, (num, r), dtype)
  iso = jax.random.normal(k_iso, (num, d), dtype)
  x = (mixture.means[labels] + jnp.einsum("ndr,nr->nd", mixture.factors[labels], z, precision=HIGHEST)
       + jnp.sqrt(mixture.iso_var[labels])[:, None] * iso)
  return LabelledSamples(x, labels)


class DuplicatedSamples(NamedTuple):
  """A data set with exact duplicates appended.

  Attributes:
    x: (n + extra, d) samples; the copies follow the originals.
    labels: (n + extra,) labels; every duplicated sample and its copies get a new label of its own
      (max label + 1, + 2, …): each is a rank-one cluster, as in Cor 3.4.
    is_duplicate: (n + extra,) bool, True for each duplicated sample and all its copies.
  """

  x: jax.Array
  labels: jax.Array
  is_duplicate: jax.Array


def duplicate_samples(x, labels, indices: Sequence[int], copies: int | Sequence[int]) -> DuplicatedSamples:
  """Appends exact copies of chosen samples (the hybrid regime of Cor 3.4).

  Args:
    x: (n, d) samples.
    labels: (n,) integer labels.
    indices: which samples to duplicate.
    copies: extra copies of each (one int for all, or one per index); a sample with c extra
      copies appears c + 1 times.

  Returns:
    ``DuplicatedSamples``.
  """
  x = checks.check_array("x", x, ndim=2)
  checks.check_finite("x", x)
  labels = checks.check_array("labels", labels, ndim=1)
  checks.check_dim("labels", labels, 0, x.shape[0], "one label per sample")
  idx = np.asarray(indices).reshape(-1)
  if idx.size and not np.issubdtype(idx.dtype, np.integer):
    raise ValueError(f"indices must be integer row indices, got {indices!r}")
  idx = idx.astype(np.int64)
  if idx.size and (idx.min() < 0 or idx.max() >= x.shape[0]):
    raise ValueError(f"indices must lie in [0, {x.shape[0]}), got {list(idx)}")
  if len(set(idx.tolist())) != idx.size:
    raise ValueError(f"indices must not repeat, got {list(idx)}")
  reps = checks.check_int_array("copies", copies, minimum=None, ndim=(0, 1))
  if reps.ndim == 1:
    checks.check_dim("copies", reps, 0, idx.size, "one count per index (or one int for all)")
  reps = np.broadcast_to(reps, idx.shape)
  if (reps < 1).any():
    raise ValueError(f"copies must be >= 1, got {copies}")
  lab = np.asarray(labels).astype(np.int32)
  new_label = lab.max() + 1 + np.arange(idx.size, dtype=np.int32)
  lab[idx] = new_label
  extra = np.repeat(idx, reps)
  x_out = jnp.concatenate([jnp.asarray(x), jnp.asarray(x)[extra]], axis=0)
  lab_out = np.concatenate([lab, np.repeat(new_label, reps)])
  is_dup = np.zeros(lab_out.shape[0], bool)
  is_dup[idx] = True
  is_dup[x.shape[0]:] = True
  return DuplicatedSamples(x_out, jnp.asarray(lab_out), jnp.asarray(is_dup))


class Separability(NamedTuple):
  """(α, β)-separability of a labelled data set (Definition 3.1).

  Attributes:
    alpha: max_k max_j ‖x_kj − x̄_k‖ / ‖x̄_k‖ (within-cluster spread relative to the mean's norm).
    beta: max_{k≠l} cos(x̄_k, x̄_l); −inf for a single cluster.
    alpha_per_cluster: (M,) the max over each cluster.
    mean_cosines: (M, M) cosines between cluster means (diagonal 1).
    cluster_labels: (M,) the label of each cluster, in the order above.

  The theorems need beta < 0 (pairwise-obtuse cluster means) and a small alpha.
  """

  alpha: float
  beta: float
  alpha_per_cluster: np.ndarray
  mean_cosines: np.ndarray
  cluster_labels: np.ndarray

  @property
  def obtuse(self) -> bool:
    """True when β < 0 (the theorems' assumption)."""
    return self.beta < 0


def separability(x, labels) -> Separability:
  """Computes Definition 3.1's (α, β) for data X partitioned by ``labels`` (float64, on the host).

  α = max_{k,j} ‖x_{k,j} − x̄_k‖₂ / ‖x̄_k‖₂ and β = max_{k≠ℓ} ⟨x̄_k, x̄_ℓ⟩ / (‖x̄_k‖ ‖x̄_ℓ‖).
  With one sample per cluster (labels = arange(n)) α = 0 and β is the largest pairwise cosine of
  the samples: the assumption of Cor 3.2.

  Args:
    x: (n, d) samples.
    labels: (n,) integer cluster labels.

  Returns:
    ``Separability``.
  """
  x = checks.check_array("x", x, ndim=2)
  checks.check_nonempty("x", x)
  labels = checks.check_array("labels", labels, ndim=1)
  checks.check_dim("labels", labels, 0, x.shape[0], "one label per sample")
  checks.check_finite("x", x)
  xn = np.asarray(x, np.float64)
  lab = np.asarray(labels)
  uniq, inv = np.unique(lab, return_inverse=True)
  m = uniq.size
  counts = np.bincount(inv, minlength=m).astype(np.float64)
  means = np.zeros((m, xn.shape[1]))
  np.add.at(means, inv, xn)
  means /= counts[:, None]
  mean_norms = np.linalg.norm(means, axis=1)
  if (mean_norms == 0).any():
    raise ValueError("x has a cluster whose mean is the zero vector: α and β are undefined for it")
  spread = np.linalg.norm(xn - means[inv], axis=1) / mean_norms[inv]
  alpha_k = np.zeros(m)
  np.maximum.at(alpha_k, inv, spread)
  unit = means / mean_norms[:, None]
  cos = unit @ unit.T
  off = cos[~np.eye(m, dtype=bool)]
  beta = float(off.max()) if off.size else -np.inf
  return Separability(float(alpha_k.max()), beta, alpha_k, cos, uniq)


def interleave_by_label(x, labels) -> LabelledSamples:
  """Rows reordered round-robin over the labels, so that every prefix of K·m rows holds m samples of
  each of the K labels (a sweep over n = K·m then trains on nested, balanced training sets).

  Within a label the rows keep their order; labels go in increasing order. Every label must occur
  equally often.

  Args:
    x: (n, d) samples.
    labels: (n,) integer labels, K distinct values each occurring n / K times.

  Returns:
    ``LabelledSamples`` with x (n, d) and labels (n,) as NumPy arrays, reordered.
  """
  x = checks.check_array("x", x, ndim=2)
  labels = checks.check_int_array("labels", labels, minimum=None)
  checks.check_dim("labels", labels, 0, x.shape[0], "one label per sample")
  ids, counts = np.unique(labels, return_counts=True)
  if counts.size and (counts != counts[0]).any():
    counts_by_label = dict(zip(ids.tolist(), counts.tolist()))
    raise ValueError(f"labels must occur equally often to interleave, got counts {counts_by_label}")
  order = np.stack([np.flatnonzero(labels == k) for k in ids], axis=1).ravel()
  return LabelledSamples(np.asarray(x)[order], labels[order])
