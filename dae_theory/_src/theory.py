"""Closed-form predictions of the paper: memorisation (Cor 3.2), generalisation (Thm 3.1, Cor 3.3),
hybrid (Cor 3.4). Host-side float64 (NumPy): these are references, evaluated once per experiment.

Notation: X is (n, d) with samples as rows (the paper stacks them as columns); a cluster k holds
n_k samples, ρ_k = n_k / n; λ is the paper's weight decay (eq. 6, tied W penalised on both sides).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from dae_theory._src import checks
from dae_theory._src.mixture import GaussianMixture, check_mixture


_as_f64 = checks.as_float64


def _check_labels(labels, n: int) -> np.ndarray:
  """(n,) cluster labels, one per sample, as a host array."""
  labels = checks.check_array("labels", labels, ndim=1, floating=False)
  checks.check_dim("labels", labels, 0, n, "one label per sample")
  return np.asarray(labels)


def _check_widths(widths, k: int, what: str) -> np.ndarray:
  """Per-cluster widths p_k >= 0 (0: the cluster gets no unit): one int for all, or one per cluster."""
  w = checks.check_int_array("widths", widths, minimum=0, ndim=(0, 1))
  if w.ndim == 1:
    checks.check_dim("widths", w, 0, k, f"one width per {what}, or one int for all")
  return np.broadcast_to(w, (k,))


# ----------------------------------------------------------------------------------------------
# Memorisation, Cor 3.2
# ----------------------------------------------------------------------------------------------


# Measured limits of the one-active-unit approximation behind Cor 3.2's closed forms (experiments/finite_noise.py,
# docs/finite-noise.md): over 216 pairwise-obtuse geometries × σ, |memorization_loss / exact − 1| < 1 % wherever
# the largest expected co-active count is ≤ 0.035 (the smallest count with a 1 % error was 0.057), and the exact
# minimiser's column norms are within 1 % of r_i‖x_i‖ wherever max_i (σ/‖x_i‖)² Σ_{j≠i} P_ij ≤ 0.143 (smallest
# failing value 0.145). The limits below keep a margin: within them the errors were at most 0.27 % and 0.70 %.
COACTIVE_LIMIT = 0.03
WEIGHTED_COACTIVE_LIMIT = 0.1


class MemorizationAssumptions(NamedTuple):
  """Which of Cor 3.2's assumptions hold for (X, λ, p), and whether its closed forms are accurate at σ.

  Attributes:
    max_cosine: β₁ = max_{i≠j} cos(x_i, x_j) (−inf for n = 1); the corollary needs β₁ < 0.
    pairwise_obtuse: β₁ < 0.
    width_ok: p ≥ n.
    decay_ok: nλ < min_i ‖x_i‖² (else some r_i is not real: the sample is not stored).
    n_lam: nλ.
    min_sq_norm: min_i ‖x_i‖².
    sigma: the noise level the co-activation was evaluated at; None for the σ → 0 limit.
    coactive: (n, n) P_ij, the probability that column j ≠ i of W_mem fires on a noisy input of
      sample i (``coactivation_probabilities``); zero diagonal.
    coactive_max: max_i Σ_{j≠i} P_ij, the expected number of other units on for the worst sample.
    coactive_mean: the mean over i of Σ_{j≠i} P_ij.
    weighted_coactive_max: max_i (σ/‖x_i‖)² Σ_{j≠i} P_ij (0 in the σ → 0 limit): co-active units
      weighted by the size of their effect on the optimal scale r_i.
    own_off_max: max_i Φ(−‖x_i‖/σ), the probability that a sample's own unit is off (0 as σ → 0).
    one_unit_ok: coactive_max ≤ ``COACTIVE_LIMIT`` (0.03): ``memorization_loss`` is within 1 % of
      the exact eq. (6) at W_mem (measured limit, docs/finite-noise.md).
    scales_ok: pairwise obtuse and weighted_coactive_max ≤ ``WEIGHTED_COACTIVE_LIMIT`` (0.1): the
      exact minimiser's column norms are within 1 % of r_i‖x_i‖ (measured limit).

  ``holds`` is the corollary's own assumptions (the samples are stored as columns); the closed
  forms' accuracy at finite σ is ``one_unit_ok`` / ``scales_ok`` (both in ``closed_form_ok``).
  """

  max_cosine: float
  pairwise_obtuse: bool
  width_ok: bool
  decay_ok: bool
  n_lam: float
  min_sq_norm: float
  sigma: float | None = None
  coactive: np.ndarray | None = None
  coactive_max: float = 0.0
  coactive_mean: float = 0.0
  weighted_coactive_max: float = 0.0
  own_off_max: float = 0.0
  one_unit_ok: bool = True
  scales_ok: bool = True

  @property
  def holds(self) -> bool:
    return self.pairwise_obtuse and self.width_ok and self.decay_ok

  @property
  def closed_form_ok(self) -> bool:
    """The corollary applies and both r_i and ``memorization_loss`` are within 1 % at this σ."""
    return self.holds and self.one_unit_ok and self.scales_ok

  def failures(self) -> list[str]:
    """Human-readable list of the conditions that fail (empty when all hold), the finite-σ
    accuracy of the closed forms included."""
    out = []
    if not self.pairwise_obtuse:
      out.append(f"samples are not pairwise obtuse: max cosine {self.max_cosine:.3f} >= 0")
    if not self.width_ok:
      out.append("width p is smaller than the number of samples n")
    if not self.decay_ok:
      out.append(f"n·lam = {self.n_lam:.4g} is not below min ||x_i||^2 = {self.min_sq_norm:.4g}")
    if self.sigma is not None and not self.one_unit_ok:
      out.append(f"at sigma = {self.sigma:.4g} up to {self.coactive_max:.3g} other units fire per noisy input "
                 f"(> {COACTIVE_LIMIT}): memorization_loss is more than 1 % off; use exact=True")
    if self.sigma is not None and self.pairwise_obtuse and not self.scales_ok:
      out.append(f"at sigma = {self.sigma:.4g} the co-active units shift the optimal column norms by more than 1 % "
                 f"(weighted count {self.weighted_coactive_max:.3g} > {WEIGHTED_COACTIVE_LIMIT}); "
                 "use memorization_weights(exact=True)")
    return out


def coactivation_probabilities(x, sigma=None) -> np.ndarray:
  """P_ij = Φ(⟨x_i, x_j⟩ / (σ‖x_j‖)) for i ≠ j, 0 on the diagonal; (n, n).

  At W_mem (Cor 3.2) column j is r_j x_j, so on a noisy input of sample i its pre-activation is
  u_j = r_j⟨x_j, x_i + σε⟩ = r_j(⟨x_j, x_i⟩ + σ‖x_j‖ z) with z ~ N(0, 1): unit j fires with
  probability P_ij. Σ_{j≠i} P_ij is the expected number of units besides its own that a noisy
  x_i turns on; Cor 3.2's r_i and ``memorization_loss`` assume it is 0. ``sigma=None`` is the
  σ → 0 limit 1[⟨x_i, x_j⟩ > 0] (½ for orthogonal pairs).

  Args:
    x: (n, d) samples, none zero.
    sigma: noise level σ > 0, or None.

  Returns:
    (n, n) float64 matrix of probabilities.
  """
  x = _as_f64("x", x)
  sq = np.sum(x * x, axis=1)
  if (sq == 0).any():
    raise ValueError("x has a zero sample: its direction (and cosine) is undefined")
  gram = x @ x.T
  if sigma is None:
    p = np.where(gram > 0, 1.0, np.where(gram < 0, 0.0, 0.5))
  else:
    checks.check_scalar("sigma", sigma, positive=True)
    from scipy.special import ndtr
    p = ndtr(gram / (float(sigma) * np.sqrt(sq)[None, :]))
  np.fill_diagonal(p, 0.0)
  return p


def memorization_assumptions(x, sigma, lam, width: int) -> MemorizationAssumptions:
  """Checks Cor 3.2's assumptions (pairwise-negative cosines, p ≥ n, nλ < min ‖x_i‖²) and, at noise
  level σ, whether its one-active-unit closed forms are accurate.

  With ``sigma`` the co-activation of W_mem is evaluated (``coactivation_probabilities``):
  ``one_unit_ok`` says ``memorization_loss`` is within 1 % of the exact loss at W_mem
  (max_i Σ_{j≠i} P_ij ≤ 0.03), ``scales_ok`` says the exact minimiser's column norms are within
  1 % of r_i‖x_i‖ (max_i (σ/‖x_i‖)² Σ_{j≠i} P_ij ≤ 0.1); both limits measured over 216
  geometries × σ (docs/finite-noise.md). ``sigma=None`` is the σ → 0 limit (P_ij = 1[⟨x_i, x_j⟩ > 0]):
  both hold exactly when the samples are pairwise obtuse.

  Args:
    x: (n, d) samples.
    sigma: noise level σ > 0, or None (σ → 0).
    lam: weight decay λ ≥ 0.
    width: p.

  Returns:
    ``MemorizationAssumptions``.
  """
  x = _as_f64("x", x)
  checks.check_scalar("lam", lam, nonnegative=True)
  width = checks.check_int("width", width)
  n = x.shape[0]
  sq = np.sum(x * x, axis=1)
  if (sq == 0).any():
    raise ValueError("x has a zero sample: its direction (and cosine) is undefined")
  unit = x / np.sqrt(sq)[:, None]
  cos = unit @ unit.T
  off = cos[~np.eye(n, dtype=bool)]
  beta = float(off.max()) if off.size else -np.inf
  p = coactivation_probabilities(x, sigma)
  count = p.sum(axis=1)
  if sigma is None:
    weighted, own_off = 0.0, 0.0
  else:
    from scipy.special import ndtr
    weighted = float(np.max(sigma ** 2 / sq * count))
    own_off = float(np.max(ndtr(-np.sqrt(sq) / sigma)))
  one_unit = bool(count.max() <= COACTIVE_LIMIT)
  scales = bool(beta < 0 and weighted <= WEIGHTED_COACTIVE_LIMIT)
  return MemorizationAssumptions(beta, beta < 0, width >= n, n * lam < sq.min(), float(n * lam), float(sq.min()),
                                 None if sigma is None else float(sigma), p, float(count.max()),
                                 float(count.mean()), weighted, own_off, one_unit, scales)


def memorization_scales(x, sigma, lam) -> np.ndarray:
  """r_i = √((‖x_i‖² − nλ) / (‖x_i‖⁴ + σ²‖x_i‖²)) of Cor 3.2 (eq. 9); (n,).

  A stored column is r_i x_i, of norm √((‖x_i‖² − nλ)/(‖x_i‖² + σ²)).
  """
  x = _as_f64("x", x)
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  n = x.shape[0]
  sq = np.sum(x * x, axis=1)
  if not (n * lam < sq).all():
    raise ValueError(f"lam too large: n·lam = {n * lam:.4g} must be below min ||x_i||^2 = {sq.min():.4g} "
                     "for every sample to be stored (Cor 3.2)")
  return np.sqrt((sq - n * lam) / (sq ** 2 + sigma ** 2 * sq))


def memorization_weights(x, sigma, lam, width: int, *, exact: bool = False, gtol: float = 1e-9,
                         max_iter: int = 1000) -> np.ndarray:
  """W_mem = (r_1 x_1, …, r_n x_n, 0, …, 0) ∈ ℝ^{d×p}, the Cor 3.2 local minimiser (W2 = W1).

  Cor 3.2 assumes that only the own unit of each noisy input fires. With ``exact=True`` that
  assumption is dropped: W_mem is the starting point of L-BFGS (``optax.lbfgs``, zoom line
  search) on the exact population loss of eq. (6) (``population_loss``: the expectation over ε
  in closed form, every ReLU event included), run in float64 (``jax.enable_x64``; float32 where
  JAX lacks it), over the tied W. It stops when the gradient norm ‖∇L‖₂ ≤ ``gtol`` and warns
  (``RuntimeWarning``) if ``max_iter`` iterations did not get there. The zero columns stay zero
  and the stored columns keep their order. Where other units fire (moderate σ relative to the
  margins), the exact minimiser's columns still point at their samples (cosine > 0.999) but are
  shorter than r_i‖x_i‖: by 4.5–11.4 % for 8 regular-simplex points of norms 1.9–3.5 in d = 40 at
  σ = 1, λ = 1e-3, p = 12 (tests/test_population.py asserts 3–20 % there and on a second geometry).

  Args:
    x: (n, d) training samples (pairwise obtuse for the corollary to apply; see
      ``memorization_assumptions``).
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0 with nλ < min ‖x_i‖².
    width: p ≥ n.
    exact: refine to a minimiser of the exact population loss (default: the closed form).
    gtol, max_iter: stopping rule of the refinement (only with ``exact``).

  Returns:
    (d, p) float64 weights; columns n..p−1 are zero.
  """
  x = _as_f64("x", x)
  width = checks.check_int("width", width)
  n, d = x.shape
  if width < n:
    raise ValueError(f"width must be at least the number of samples n = {n} to store each one, got {width}")
  w = np.zeros((d, width))
  w[:, :n] = (memorization_scales(x, sigma, lam)[:, None] * x).T
  if not exact:
    return w
  import jax
  import jax.numpy as jnp

  from dae_theory._src.model import DAEParams
  from dae_theory._src.population import minimize_population_loss, _x64_context

  with _x64_context():
    dtype = jax.dtypes.canonicalize_dtype(jnp.float64)  # float32 where x64 could not be enabled
    result = minimize_population_loss(DAEParams(jnp.asarray(w, dtype)), jnp.asarray(x, dtype), sigma, lam,
                                      gtol=gtol, max_iter=max_iter)
    return np.asarray(result.params.w1, np.float64)


def memorization_loss(x, sigma, lam, *, exact: bool = False) -> float:
  """Eq. (6) at W_mem: Cor 3.2's one-active-unit closed form, or (``exact=True``) the exact value.

  Closed form (exactly the own unit of each noisy input fires):

      (1/n) Σ_i [‖x_i‖² (s_i‖x_i‖² − 1)² + s_i² σ² ‖x_i‖⁴] + 2λ Σ_i s_i ‖x_i‖²,   s_i = r_i².

  It neglects ReLU events (the own unit off, another on), whose probability is exponentially small
  in (margin/σ)² but not negligible at moderate margins, and it is always below the exact value
  where they occur. ``memorization_assumptions(x, σ, lam, p).one_unit_ok`` says when it is
  within 1 % (expected co-active units per sample ≤ 0.03, measured in docs/finite-noise.md). For
  6 simplex points of norm 2–4 (cos −0.2) at σ = 0.2 another unit fires with probability up to
  ≈ 2 % and the exact loss is 1.3 % above the closed form (tests/test_theory.py); for 8
  regular-simplex points of norms 1.9–3.5 at σ = 0.3 up to 1.28 other units fire per noisy input
  and the closed form is 0.1045 against the exact 0.1352, 23 % low (tests/test_finite_noise.py).

  ``exact=True`` returns ``population_loss`` (the expectation over ε in closed form, every ReLU
  event included) at W_mem (width n: zero columns do not change it), in float64. It is the loss
  at W_mem, not at the exact minimiser (see ``memorization_weights(exact=True)`` and
  ``closed_form_gap``). As λ → 0 the closed form is ``memorization_loss_limit``.

  Args:
    x: (n, d) samples; sigma: σ > 0; lam: λ ≥ 0 with nλ < min ‖x_i‖².
    exact: return the exact eq. (6) value at W_mem instead of the closed form.

  Returns:
    The loss as a Python float.
  """
  x = _as_f64("x", x)
  if not isinstance(exact, (bool, np.bool_)):
    raise ValueError(f"exact must be True or False, got {exact!r}")
  s = memorization_scales(x, sigma, lam) ** 2
  if exact:
    import jax.numpy as jnp

    from dae_theory._src.model import DAEParams
    from dae_theory._src.population import _x64_context, population_loss

    w = (np.sqrt(s)[:, None] * x).T
    with _x64_context():
      return float(population_loss(DAEParams(jnp.asarray(w)), jnp.asarray(x), float(sigma), float(lam)))
  sq = np.sum(x * x, axis=1)
  data = np.mean(sq * (s * sq - 1.0) ** 2 + s ** 2 * sigma ** 2 * sq ** 2)
  return float(data + 2.0 * lam * np.sum(s * sq))


def memorization_loss_limit(x, sigma) -> float:
  """The λ → 0 loss of Cor 3.2: (1/n) Σ_i σ²‖x_i‖² / (σ² + ‖x_i‖²) (< σ², independent of d)."""
  x = _as_f64("x", x)
  checks.check_scalar("sigma", sigma, positive=True)
  sq = np.sum(x * x, axis=1)
  return float(np.mean(sigma ** 2 * sq / (sigma ** 2 + sq)))


# ----------------------------------------------------------------------------------------------
# Generalisation, Thm 3.1 / Cor 3.3
# ----------------------------------------------------------------------------------------------


def allocate_width(width: int, counts: Sequence[int], ranks: Sequence[int] | None = None, *,
                   rule: str = "equal") -> np.ndarray:
  """Splits p hidden units over clusters: p = Σ_k p_k (the theorems leave the split open).

  Rules (our decision, documented since the paper is silent):
    "equal": p // K each, the remainder to the largest clusters.
    "proportional": p_k ∝ n_k (largest remainders).
  Each p_k is capped at ``ranks[k]`` (a cluster cannot use more units than its Gram rank); the
  units freed go to clusters with room, largest first.

  Returns:
    (K,) int array of widths p_k.
  """
  width = checks.check_int("width", width)
  counts = checks.check_int_array("counts", counts, minimum=1)
  checks.check_nonempty("counts", counts)
  k = counts.size
  if ranks is not None:
    ranks = checks.check_int_array("ranks", ranks, minimum=0)
    checks.check_dim("ranks", ranks, 0, k, "one rank per cluster")
  if rule == "equal":
    share = np.full(k, width / k)
  elif rule == "proportional":
    share = width * counts / counts.sum()
  else:
    raise ValueError(f"rule must be 'equal' or 'proportional', got {rule!r}")
  widths = np.floor(share).astype(np.int64)
  order = np.lexsort((-counts, -(share - widths)))
  widths[order[: width - widths.sum()]] += 1
  if ranks is not None:
    cap = np.asarray(ranks, np.int64)
    spare = int(np.sum(np.maximum(widths - cap, 0)))
    widths = np.minimum(widths, cap)
    while spare > 0 and (widths < cap).any():  # one unit at a time to the narrowest cluster with room
      room = np.flatnonzero(widths < cap)
      i = room[np.lexsort((-counts[room], widths[room]))[0]]
      widths[i] += 1
      spare -= 1
  return widths


class ClusterSolution(NamedTuple):
  """The Thm 3.1 block solution for one cluster.

  Attributes:
    eigvecs: (d, p_k) top eigenvectors U_k of X_kᵀX_k (the paper's X_kX_kᵀ).
    eigvals: (p_k,) their eigenvalues Λ_k (unnormalised: n_k × the second moment's).
    shrink: (p_k,) (Λ − nλ)/(Λ + n_kσ²), the eigenvalues of W_{X_k}W_{X_k}ᵀ.
    weights: (d, p_k) W_{X_k} = U (I + n_kσ²Λ⁻¹)^{-1/2} (I − nλΛ⁻¹)^{1/2} O_kᵀ, with O_k the
      Householder rotation that sends every column to the cluster's side (all its ReLUs on).

  The theorem leaves O_k free. Our choice puts the columns symmetrically around the cluster mean,
  which turns the block on for its own cluster but does not keep it off elsewhere: on a 3-mode
  mixture in d = 10 (cos −1/2 between means, rank-2 modes of scale 0.4, ‖μ‖ = 2) gating was
  exact (own block all on, all others off) for 19 % of the training inputs. W_{X_k}W_{X_k}ᵀ and
  the map M_k do not depend on O_k; compare functions through them.
  """

  eigvecs: np.ndarray
  eigvals: np.ndarray
  shrink: np.ndarray
  weights: np.ndarray


def _positive_rotation(a: np.ndarray, mean: np.ndarray) -> np.ndarray:
  """Orthogonal O (p×p) with every column of a Oᵀ having a positive inner product with ``mean``."""
  p = a.shape[1]
  v = a.T @ mean
  if p == 1:
    return np.full((1, 1), 1.0 if v[0] >= 0 else -1.0)
  v = v / np.linalg.norm(v)
  target = np.full(p, 1.0 / np.sqrt(p))
  u = v - target
  if np.linalg.norm(u) < 1e-12:
    return np.eye(p)
  u /= np.linalg.norm(u)
  return np.eye(p) - 2.0 * np.outer(u, u)  # symmetric, maps v ↔ target


def cluster_solution(x_k, n_total: int, sigma, lam, width: int) -> ClusterSolution:
  """Thm 3.1's block W_{X_k} for one cluster's samples x_k (n_k, d), with n = ``n_total``.

  Only eigen-directions with Λ > nλ survive (the others have no real shrinkage); fewer than
  ``width`` columns are returned when the cluster has fewer such directions.
  """
  x_k = _as_f64("x_k", x_k)
  n_total = checks.check_int("n_total", n_total)
  if n_total < x_k.shape[0]:
    raise ValueError(f"n_total must be at least the cluster's n_k = {x_k.shape[0]} samples, got {n_total}")
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  width = checks.check_int("width", width, minimum=0)
  n_k = x_k.shape[0]
  evals, evecs = np.linalg.eigh(x_k.T @ x_k)
  order = np.argsort(evals)[::-1]
  evals, evecs = evals[order], evecs[:, order]
  keep = min(width, int(np.sum(evals > n_total * lam + 1e-12 * max(evals[0], 1.0))))
  evals, evecs = evals[:keep], evecs[:, :keep]
  shrink = (evals - n_total * lam) / (evals + n_k * sigma ** 2)
  a = evecs * np.sqrt(shrink)[None, :]
  o = _positive_rotation(a, x_k.mean(axis=0)) if keep else np.zeros((0, 0))
  return ClusterSolution(evecs, evals, shrink, a @ o.T)


class ClosedFormWeights(NamedTuple):
  """Weights of a closed-form solution and what each column serves.

  Attributes:
    w: (d, p) the columns (tied W = W1 = W2).
    column_labels: (p,) int: the cluster (or, for ``hybrid_weights``' stored columns, the label of the
      duplicated sample) each column belongs to; −1 for zero columns.
  """

  w: np.ndarray
  column_labels: np.ndarray


def generalization_weights(x, labels, sigma, lam, width: int, *, rule: str = "equal") -> ClosedFormWeights:
  """W_gen = (W_{X_1} … W_{X_K}) of Thm 3.1 / Cor 3.3, padded with zero columns to width p.

  Args:
    x: (n, d) samples; labels: (n,) cluster of each.
    sigma, lam: noise level and weight decay (condition nλ < the kept eigenvalues).
    width: p; split over clusters by ``allocate_width(rule)`` capped at each Gram rank.
    rule: "equal" or "proportional".

  Returns:
    ``ClosedFormWeights``: w (d, p) and column_labels (p,) (the cluster of each column, −1 for zero
    columns).
  """
  x = _as_f64("x", x)
  labels = _check_labels(labels, x.shape[0])
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  width = checks.check_int("width", width)
  ids, counts = np.unique(labels, return_counts=True)
  ranks = [np.linalg.matrix_rank(x[labels == i]) for i in ids]
  widths = allocate_width(width, counts, ranks, rule=rule)
  cols, owner = [], []
  for i, w in zip(ids, widths):
    sol = cluster_solution(x[labels == i], x.shape[0], sigma, lam, int(w))
    cols.append(sol.weights)
    owner += [int(i)] * sol.weights.shape[1]
  w = np.concatenate(cols, axis=1) if cols else np.zeros((x.shape[1], 0))
  pad = width - w.shape[1]
  return ClosedFormWeights(np.concatenate([w, np.zeros((x.shape[1], pad))], axis=1), np.asarray(owner + [-1] * pad))


def shrunk_linear_map(second_moment, sigma, lam_over_rho, rank: int) -> np.ndarray:
  """[(S − λ/ρ · I)(S + σ²I)⁻¹]_{rank}: eigenvalues (s − λ/ρ)/(s + σ²) of the top ``rank``
  eigen-directions of S with s > λ/ρ; zero elsewhere (Cor 3.3). S symmetric (d, d)."""
  s = _as_f64("second_moment", second_moment)
  if s.shape[0] != s.shape[1]:
    raise ValueError(f"second_moment must be a square (d, d) matrix, got shape {s.shape}")
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam_over_rho", lam_over_rho, nonnegative=True)
  rank = checks.check_int("rank", rank, minimum=0)
  evals, evecs = np.linalg.eigh(0.5 * (s + s.T))
  order = np.argsort(evals)[::-1][:rank]
  evals, evecs = evals[order], evecs[:, order]
  keep = evals > lam_over_rho
  m = (evals[keep] - lam_over_rho) / (evals[keep] + sigma ** 2)
  return (evecs[:, keep] * m[None, :]) @ evecs[:, keep].T


def cluster_linear_maps(x, labels, sigma, lam, widths: Sequence[int]) -> np.ndarray:
  """Empirical M_k = [(Ŝ_k − λ/ρ_k)(Ŝ_k + σ²)⁻¹]_{rank p_k} with Ŝ_k = X_kᵀX_k / n_k; (K, d, d).

  What the bias-free network computes on cluster k's region (Cor 3.3; equals W_{X_k}W_{X_k}ᵀ).
  Clusters in the order of ``np.unique(labels)``; labels (n,), one per sample; widths p_k are
  integers ≥ 0 (0: the cluster gets no unit, M_k = 0), one int for all or one per cluster.
  """
  x = _as_f64("x", x)
  labels = _check_labels(labels, x.shape[0])
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  ids = np.unique(labels)
  widths = _check_widths(widths, ids.size, "cluster (in the order of np.unique(labels))")
  n = x.shape[0]
  maps = []
  for i, p_k in zip(ids, widths):
    xk = x[labels == i]
    maps.append(shrunk_linear_map(xk.T @ xk / xk.shape[0], sigma, lam * n / xk.shape[0], int(p_k)))
  return np.stack(maps)


def mixture_linear_maps(mixture: GaussianMixture, sigma, lam, widths: Sequence[int]) -> np.ndarray:
  """Population M_k = [(S_k − λ/ρ_k)(S_k + σ²)⁻¹]_{rank p_k}, S_k = μ_kμ_kᵀ + Σ_k; (K, d, d).

  widths: p_k, integers ≥ 0, one int for all modes or one per mode (K,).
  """
  check_mixture(mixture)
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  s = _second_moments(mixture)
  rho = np.asarray(mixture.weights, np.float64)
  widths = _check_widths(widths, rho.size, "mode")
  return np.stack([shrunk_linear_map(s[k], sigma, lam / rho[k], int(widths[k])) for k in range(rho.size)])


def _second_moments(mixture: GaussianMixture) -> np.ndarray:
  """S_k = μ_kμ_kᵀ + F_kF_kᵀ + s_k I in float64 NumPy, (K, d, d)."""
  mu = np.asarray(mixture.means, np.float64)
  f = np.asarray(mixture.factors, np.float64)
  iso = np.asarray(mixture.iso_var, np.float64)
  eye = np.eye(mu.shape[1])
  return np.einsum("kd,ke->kde", mu, mu) + np.einsum("kdr,ker->kde", f, f) + iso[:, None, None] * eye[None]


def _per_mode_loss(mixture: GaussianMixture, widths: Sequence[int], kept_cost) -> float:
  """Σ_k ρ_k [Σ_{j ≤ p_k} kept_cost(e_j) + Σ_{j > p_k} e_j] over the eigenvalues e_j of S_k."""
  check_mixture(mixture)
  s = _second_moments(mixture)
  rho = np.asarray(mixture.weights, np.float64)
  widths = _check_widths(widths, rho.size, "mode")
  total = 0.0
  for k in range(rho.size):
    e = np.clip(np.sort(np.linalg.eigvalsh(s[k]))[::-1], 0.0, None)
    p_k = int(widths[k])
    total += rho[k] * (np.sum(kept_cost(e[:p_k])) + np.sum(e[p_k:]))
  return float(total)


def block_linear_loss(mixture: GaussianMixture, sigma, widths: Sequence[int]) -> float:
  """Exact population loss (λ → 0) of the per-mode maps M_k applied on their own mode:

      Σ_k ρ_k [ Σ_{j ≤ p_k} e_j σ² / (e_j + σ²) + Σ_{j > p_k} e_j ],   e_j = eig_j(S_k).

  (A direction kept with gain m = e/(e+σ²) costs (1−m)² e + m² σ² = e σ²/(e+σ²).)
  Assumes every input is gated to its own block.
  """
  checks.check_scalar("sigma", sigma, positive=True)
  return _per_mode_loss(mixture, widths, lambda e: e * sigma ** 2 / (e + sigma ** 2))


def cor33_bound_as_printed(mixture: GaussianMixture, sigma, widths: Sequence[int]) -> float:
  """Cor 3.3's λ → 0 expression as printed in the paper, without the C_k p_k/(σ² n_k) term:

      Σ_k ρ_k [ Σ_{j ≤ p_k} e_j σ⁴ / (e_j + σ²)² + Σ_{j > p_k} e_j ].

  Finding: each kept direction's term lacks the variance part e_j² σ²/(e_j + σ²)², so this is
  below the exact loss ``block_linear_loss`` of the very solution it describes; it cannot be an
  upper bound as n_k → ∞. Kept for comparison; use ``block_linear_loss`` as the prediction.
  """
  checks.check_scalar("sigma", sigma, positive=True)
  return _per_mode_loss(mixture, widths, lambda e: e * sigma ** 4 / (e + sigma ** 2) ** 2)


# ----------------------------------------------------------------------------------------------
# Hybrid, Cor 3.4
# ----------------------------------------------------------------------------------------------


def hybrid_weights(x, labels, is_duplicate, sigma, lam, width: int, *, rule: str = "equal") -> ClosedFormWeights:
  """Cor 3.4: a memorising column r_ℓ x_ℓ per duplicated sample plus Thm 3.1 blocks for the rest.

  A duplicated cluster (c copies of x_ℓ) is rank one: its block is the single column with
  shrinkage (c‖x‖² − nλ)/(c‖x‖² + cσ²) along x_ℓ/‖x_ℓ‖, i.e. the Cor 3.2 scale with the total n.

  Args:
    x: (n, d) samples (duplicates included); labels: (n,) clusters, each duplicated sample with
      its copies forming its own cluster (as ``duplicate_samples`` returns them).
    is_duplicate: (n,) bool.
    sigma, lam, width: as ``generalization_weights``; p ≥ (number of duplicated samples).

  Returns:
    (weights (d, p), column_cluster (p,)).
  """
  x = _as_f64("x", x)
  labels = _check_labels(labels, x.shape[0])
  dup = checks.check_array("is_duplicate", is_duplicate, ndim=1, floating=False)
  checks.check_dim("is_duplicate", dup, 0, x.shape[0], "one flag per sample")
  dup = np.asarray(dup, bool)
  checks.check_scalar("sigma", sigma, positive=True)
  checks.check_scalar("lam", lam, nonnegative=True)
  width = checks.check_int("width", width)
  dup_ids = np.unique(labels[dup])
  if width < dup_ids.size:
    raise ValueError(f"width must be at least the number of duplicated samples ({dup_ids.size}), got {width}")
  n = x.shape[0]
  cols, owner = [], []
  for i in dup_ids:
    sol = cluster_solution(x[labels == i], n, sigma, lam, 1)
    cols.append(sol.weights)
    owner += [int(i)] * sol.weights.shape[1]
  rest = ~np.isin(labels, dup_ids)
  w_rest, own_rest = generalization_weights(x[rest], labels[rest], sigma, lam * n / max(rest.sum(), 1),
                                            width - sum(c.shape[1] for c in cols), rule=rule)
  w = np.concatenate(cols + [w_rest], axis=1)
  return ClosedFormWeights(w, np.concatenate([np.asarray(owner, int), own_rest]))
