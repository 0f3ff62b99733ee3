"""Regimes: which one the corollaries predict for (X, p, λ), which one a trained denoiser shows,
and how often the two agree over a sweep.

Prediction (`predicted_regime`) reads only the data and the configuration; observation
(`memorization_report` → `classify_regime`) reads only the denoiser's outputs on held-out inputs.
Neither looks at the other, so their agreement is a test of the theory. Host-side NumPy float64.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.model import HIGHEST
from dae_theory._src.theory import allocate_width, memorization_assumptions

REGIMES = ("memorization", "generalization", "hybrid")
BOUNDARY = "boundary"
# Relative eigen-gap (e_{p_k} − e_{p_k+1}) / e_{p_k} of a cluster's second moment at the cut p_k above which
# training reached Cor 3.3's per-mode blocks (experiments/finite_noise.py, docs/finite-noise.md).
EIGEN_GAP_LIMIT = 0.575


_as_f64 = checks.as_float64


# ----------------------------------------------------------------------------------------------
# Observation: does a denoiser reproduce training samples?
# ----------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=3)
def _nearest_indices(queries, points, sq_norms, k: int):
  d2 = sq_norms[None, :] - 2.0 * jnp.matmul(queries, points.T, precision=HIGHEST)
  return jax.lax.top_k(-d2, k)[1]


def _nearest(queries: np.ndarray, points: np.ndarray, k: int, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
  """The k nearest rows of ``points`` for each query: (indices (m, k), distances (m, k)), nearest
  first. Candidates come from float32 Gram distances at HIGHEST precision; the k distances are
  recomputed in float64 and sorted."""
  pts = jnp.asarray(points, jnp.float32)
  sq = jnp.sum(pts * pts, axis=1)
  idx_out = np.empty((queries.shape[0], k), np.int64)
  dist_out = np.empty((queries.shape[0], k))
  for s in range(0, queries.shape[0], chunk):
    q = queries[s:s + chunk]
    idx = np.asarray(_nearest_indices(jnp.asarray(q, jnp.float32), pts, sq, k))
    dist = np.linalg.norm(q[:, None, :] - points[idx], axis=-1)
    order = np.argsort(dist, axis=1)
    idx_out[s:s + chunk] = np.take_along_axis(idx, order, axis=1)
    dist_out[s:s + chunk] = np.take_along_axis(dist, order, axis=1)
  return idx_out, dist_out


def _outputs_and_distinct_samples(outputs, train_x, minimum: int) -> tuple[np.ndarray, np.ndarray]:
  """Checked float64 outputs (m, d) and the distinct training rows (at least ``minimum``)."""
  out = _as_f64("outputs", outputs)
  xs = np.unique(_as_f64("train_x", train_x), axis=0)
  checks.check_dim("train_x", xs, 1, out.shape[1], "the dimension of outputs")
  if xs.shape[0] < minimum:
    raise ValueError(f"train_x must hold at least {minimum} distinct samples, got {xs.shape[0]}")
  return out, xs


def nearest_neighbour_ratio(outputs, train_x) -> np.ndarray:
  """d₁/d₂ for each output: its distance to the nearest distinct training sample over the distance
  to the second nearest (Yoon et al. 2023; Gu et al. 2023). A value below 1/3 means the output
  reproduces one training sample. Exact duplicates in ``train_x`` count once.

  Args:
    outputs: (m, d) denoised (or generated) samples.
    train_x: (n, d) training samples with at least two distinct rows.

  Returns:
    (m,) float64 ratios in [0, 1].
  """
  out, xs = _outputs_and_distinct_samples(outputs, train_x, 2)
  _, d = _nearest(out, xs, 2)
  return np.where(d[:, 1] > 0, d[:, 0] / np.maximum(d[:, 1], 1e-300), 0.0)


def blend_residual(outputs, train_x, num_samples: int = 3) -> np.ndarray:
  """‖o − P o‖ / ‖o‖ for each output o, with P the projection onto the span of its
  ``num_samples`` nearest distinct training samples: ≈ 0 when the output is a blend of a few
  training samples.

  A memorising ReLU-DAE (Cor 3.2) computes f(y) = Σ_i r_i² x_i (x_iᵀy)₊ over its stored samples;
  when several fire, the output blends them and d₁/d₂ misses it (Fashion-MNIST; docs/findings.md).
  Compare with the residual of the clean inputs (chance). A zero output scores 1.

  Args:
    outputs: (m, d); train_x: (n, d) with at least ``num_samples`` distinct rows.

  Returns:
    (m,) float64 residuals in [0, 1].
  """
  k = checks.check_int("num_samples", num_samples)
  out, xs = _outputs_and_distinct_samples(outputs, train_x, k)
  idx, _ = _nearest(out, xs, k)
  basis = np.linalg.qr(np.transpose(xs[idx], (0, 2, 1)))[0]  # (m, d, k) orthonormal spans
  proj = np.einsum("mdk,mk->md", basis, np.einsum("mdk,md->mk", basis, out))
  norm = np.linalg.norm(out, axis=1)
  return np.where(norm > 0, np.linalg.norm(out - proj, axis=1) / np.maximum(norm, 1e-300), 1.0)


class MemorizationReport(NamedTuple):
  """How often a denoiser's outputs reproduce training samples, against chance.

  Attributes:
    ratio: (m,) d₁/d₂ of the outputs (``nearest_neighbour_ratio``).
    fraction: share of outputs with d₁/d₂ < ``threshold``.
    chance: the same share for the clean inputs behind the outputs: what an identity (a perfect
      generaliser) would score, because a test sample can lie near a training sample by chance
      (e.g. one training sample per well-separated mode). NaN when no clean inputs were given.
    excess: (fraction − chance) / (1 − chance), the memorisation beyond chance, in (−∞, 1];
      equals ``fraction`` when chance is unknown, NaN when chance = 1 (the criterion has no power).
    threshold: the ratio below which an output counts as memorised (1/3).
  """

  ratio: np.ndarray
  fraction: float
  chance: float
  excess: float
  threshold: float


def memorization_report(outputs, train_x, clean=None, *, threshold: float = 1.0 / 3.0) -> MemorizationReport:
  """Memorised fraction of denoised held-out inputs: outputs with d₁/d₂ < 1/3, and the same share
  for their clean inputs as the chance level.

  Args:
    outputs: (m, d) f(x + σε) for held-out clean x (not in the training set).
    train_x: (n, d) the model's training samples.
    clean: (m, d) the held-out clean x, or None.
    threshold: the d₁/d₂ cut (1/3 in Yoon et al. and Gu et al.).
  """
  checks.check_scalar("threshold", threshold, positive=True)
  ratio = nearest_neighbour_ratio(outputs, train_x)
  fraction = float(np.mean(ratio < threshold))
  if clean is None:
    return MemorizationReport(ratio, fraction, float("nan"), fraction, float(threshold))
  clean = _as_f64("clean", clean)
  if clean.shape != np.shape(outputs):
    raise ValueError(f"clean must have the shape of outputs {np.shape(outputs)}, got {clean.shape}")
  chance = float(np.mean(nearest_neighbour_ratio(clean, train_x) < threshold))
  excess = (fraction - chance) / (1.0 - chance) if chance < 1.0 else float("nan")
  return MemorizationReport(ratio, fraction, chance, float(excess), float(threshold))


MEMORIZATION_ABOVE = 2.0 / 3.0
GENERALIZATION_BELOW = 0.1


def classify_regime(memorization, *, memorization_above: float = MEMORIZATION_ABOVE,
                    generalization_below: float = GENERALIZATION_BELOW) -> str:
  """The observed regime from the memorisation beyond chance of held-out denoised inputs.

  Rule (our decision; the paper gives none): with e = ``MemorizationReport.excess`` (or a float),
    memorization    if e ≥ 2/3  (most outputs reproduce a training sample),
    generalization  if e ≤ 0.1  (outputs are not copies beyond what chance gives),
    hybrid          otherwise   (some inputs are copied, others are not: Cor 3.4's duplicates, or
                                 a model on the way from one regime to the other).
  Returns "boundary" when e is NaN (every clean input already lies next to one training sample,
  so copying cannot be told from denoising).

  Why outputs and not weights: weight diagnostics (a column with cosine ≈ 1 to a sample) fail
  for tight clusters, where a mode's leading eigenvector is itself within a few degrees of every
  sample; and f − f_emp distances fail at large n, where f_emp ≈ f_gt (see ``function_distances``).

  Limit (measured on Fashion-MNIST, docs/findings.md): a memoriser whose test inputs fire several
  stored samples outputs a blend of them, not a copy, and is called "generalization" here
  (Fashion-MNIST with 7 stored images: copy share 0.03–0.15). There, compare the stored columns
  (``column_report``), the train against test denoising error, and ``blend_residual`` (outputs in
  the span of a few training samples).
  """
  if isinstance(memorization, MemorizationReport):
    e = memorization.excess
  else:
    bad = ValueError(f"memorization must be a MemorizationReport or a real number, got {memorization!r}")
    if isinstance(memorization, (str, bytes, bool, np.bool_)) or np.ndim(memorization) != 0:
      raise bad
    try:
      e = float(memorization)  # NaN is allowed: it means "boundary"
    except (TypeError, ValueError) as err:
      raise bad from err
  checks.check_scalar("memorization_above", memorization_above, positive=True)
  checks.check_scalar("generalization_below", generalization_below, nonnegative=True)
  if generalization_below >= memorization_above:
    raise ValueError(f"generalization_below ({generalization_below}) must be below memorization_above "
                     f"({memorization_above})")
  if np.isnan(e):
    return BOUNDARY
  if e >= memorization_above:
    return "memorization"
  if e <= generalization_below:
    return "generalization"
  return "hybrid"


class FunctionDistances(NamedTuple):
  """Mean squared distances between denoisers on the same held-out noisy inputs.

  Attributes:
    to_empirical: E‖f − f_emp‖² / E‖f_emp − f_ref‖².
    to_reference: E‖f − f_ref‖² / E‖f_emp − f_ref‖².
    reference_gap: E‖f_emp − f_ref‖² (the scale; → 0 as n grows, when f_emp → f_gt).
    error: E‖f − x‖², E‖f_emp − x‖², E‖f_ref − x‖² (denoising errors on held-out x).
  """

  to_empirical: float
  to_reference: float
  reference_gap: float
  error: tuple[float, float, float]


def function_distances(f_out, emp_out, ref_out, clean) -> FunctionDistances:
  """Distances of f to f_emp and to a reference denoiser, relative to ‖f_emp − f_ref‖.

  The reference is f_gt, the bias-free optimum of Cor 3.3 (the per-cluster maps M_k), or for real
  images f_emp of a large disjoint sample. All arrays (m, d) on the same inputs. A bias-free
  network cannot reach f_gt (it keeps the noise along each mean, an excess error of about σ²),
  and at large n f_emp ≈ f_gt, so these ratios alone do not decide a regime.
  """
  f, e, r, x = (_as_f64(n, a) for n, a in (("f_out", f_out), ("emp_out", emp_out), ("ref_out", ref_out),
                                           ("clean", clean)))
  for name, a in (("emp_out", e), ("ref_out", r), ("clean", x)):
    if a.shape != f.shape:
      raise ValueError(f"{name} must have the shape of f_out {f.shape}, got {a.shape}")
  msd = lambda a, b: float(np.mean(np.sum((a - b) ** 2, axis=1)))
  gap = msd(e, r)
  scale = max(gap, 1e-300)
  return FunctionDistances(msd(f, e) / scale, msd(f, r) / scale, gap, (msd(f, x), msd(e, x), msd(r, x)))


# ----------------------------------------------------------------------------------------------
# Prediction from the data and the configuration (Cor 3.2, Thm 3.1 / Cor 3.3, Cor 3.4)
# ----------------------------------------------------------------------------------------------


class RegimePrediction(NamedTuple):
  """The regime the corollaries predict, and why.

  Attributes:
    regime: "memorization", "generalization", "hybrid", or "boundary" (no corollary applies).
    reasons: human-readable conditions that decided it (for "boundary": those that failed).
    widths: (K',) columns per cluster used by the prediction (duplicated groups first, one each).
    counts: (K',) distinct samples per cluster, in the same order.
    sigma: the noise level the closed forms were checked at (None: the σ → 0 limit).
    coactive_max: memorization only (else NaN): the expected number of other units a noisy
      sample turns on at W_mem, worst sample (``MemorizationAssumptions.coactive_max``).
    one_unit_ok: memorization only (else None): ``memorization_loss`` is within 1 % at σ.
    scales_ok: memorization only (else None): the optimal column norms are within 1 % of r_i‖x_i‖.
    eigen_gap: (K',) generalization/hybrid only (else empty): per cluster, the relative gap
      (e_c − e_{c+1}) / e_c of the Gram eigenvalues of X_kᵀX_k at the cut c = the cluster's live
      columns (1 when nothing is cut: c ≥ the cluster's rank, and for duplicated samples).
    blocks_expected: generalization/hybrid only (else None): every eigen_gap ≥ ``EIGEN_GAP_LIMIT``,
      where training reached the per-mode blocks of Cor 3.3 in the measurements of
      docs/finite-noise.md; below it, training found other (gated, lower-loss) solutions.
    samples_obtuse: Cor 3.2: the distinct samples are pairwise obtuse.
    width_covers_samples: Cor 3.2: p ≥ the number of distinct samples.
    decay_below_norms: Cor 3.2: nλ < min ‖x_i‖².
    num_duplicated: samples that occur more than once (each a rank-one cluster); 0 without labels.
    means_obtuse: with labels: the cluster means are pairwise obtuse (β < 0); else None.
    beta: with labels: the largest cosine between cluster means (Definition 3.1's β); else NaN.
    overfull_clusters: labels of the clusters with n_k ≤ p_k (a block can hold its samples).
    dead_clusters: labels of the clusters whose top Gram eigenvalue is ≤ nλ (the block is zero).
    zero_columns: (K',) columns per cluster predicted zero (Gram eigenvalues ≤ nλ, or beyond the
      cluster's rank); empty where the clusters were not checked.
    flat_clusters: labels of the clusters whose eigen_gap is below ``EIGEN_GAP_LIMIT``.
  """

  regime: str
  reasons: tuple[str, ...]
  widths: np.ndarray
  counts: np.ndarray
  sigma: float | None = None
  coactive_max: float = float("nan")
  one_unit_ok: bool | None = None
  scales_ok: bool | None = None
  eigen_gap: np.ndarray = np.zeros(0)
  blocks_expected: bool | None = None
  samples_obtuse: bool = False
  width_covers_samples: bool = False
  decay_below_norms: bool = False
  num_duplicated: int = 0
  means_obtuse: bool | None = None
  beta: float = float("nan")
  overfull_clusters: tuple = ()
  dead_clusters: tuple = ()
  zero_columns: np.ndarray = np.zeros(0, np.int64)
  flat_clusters: tuple = ()


def predicted_regime(x, labels, sigma, lam: float, width: int, *, rule: str = "equal") -> RegimePrediction:
  """The regime Cor 3.2–3.4 predict for training data X, width p and weight decay λ.

  Decision rules (the paper states conditions, not a procedure; ours, in this order):
    1. memorization (Cor 3.2): the distinct samples are pairwise obtuse, p ≥ their number n',
       and nλ < min ‖x_i‖² (n counts duplicates: it is the loss's 1/n).
    2. With ``labels`` (clusters): exact duplicates form rank-one clusters of their own (one
       column each, Cor 3.4); every other label is a cluster of distinct samples, given
       p_k = ``allocate_width``(p − m, n_k) columns. The cluster means (duplicates included) must be
       pairwise obtuse (Definition 3.1, β < 0), each cluster must have more distinct samples than
       columns, n_k > p_k (Cor 3.3's p_k ≪ n_k at its weakest: a block of p_k columns cannot hold
       its samples, so it must average them), and nλ must stay below the top eigenvalue of the
       cluster's Gram matrix X_kᵀX_k. Thm 3.1 asks nλ below all top-p_k eigenvalues; we read the
       surplus columns (eigenvalue ≤ nλ, or beyond the cluster's rank) as predicted zero, as Lemma
       D.1's clipped shrinkage and ``hybrid_weights`` do, and list them in the reasons. Then:
       generalization without duplicates, hybrid with them.
    3. Otherwise "boundary": e.g. 1 < n_k ≤ p_k, where a block can hold the span of its few
       samples and neither corollary describes the result.
  The α-part of Definition 3.1 (small spread) is not thresholded: the margin γ needs constants
  the paper's main text does not define (Def 3.1, App. D.2); report ``separability`` alongside.

  The closed forms' accuracy is reported in fields, without changing the regime: for
  memorization, ``one_unit_ok`` / ``scales_ok`` at noise level ``sigma`` (``memorization_assumptions``;
  with sigma=None the σ → 0 limit, where both hold); for generalization and hybrid,
  ``eigen_gap`` and ``blocks_expected`` (a cut p_k through a flat part of a cluster's spectrum
  lets training find gated solutions of lower loss than the blocks; docs/finite-noise.md).

  Args:
    x: (n, d) training samples (duplicates allowed).
    labels: (n,) cluster labels, or None (then only rule 1 can apply). Checked first, whatever
      the regime.
    sigma: noise level σ > 0 for the memorization closed forms' accuracy, or None (σ → 0).
    lam: λ (eq. 6).
    width: p.
    rule: ``allocate_width`` rule for p_k.
  """
  x = _as_f64("x", x)
  width = checks.check_int("width", width)
  checks.check_scalar("lam", lam, nonnegative=True)
  if sigma is not None:
    checks.check_scalar("sigma", sigma, positive=True)
    sigma = float(sigma)
  if rule not in ("equal", "proportional"):
    raise ValueError(f"rule must be 'equal' or 'proportional', got {rule!r}")
  n = x.shape[0]
  if labels is not None:
    labels = checks.check_array("labels", labels, ndim=1, floating=False)
    checks.check_dim("labels", labels, 0, n, "one label per sample")
    labels = np.asarray(labels)
  uniq, inverse, mult = np.unique(x, axis=0, return_inverse=True, return_counts=True)
  inverse = inverse.ravel()
  sq = np.sum(uniq * uniq, axis=1)
  if (sq == 0).any():
    raise ValueError("x has a zero sample: its direction is undefined")
  mem = memorization_assumptions(uniq, sigma, lam, width)
  decay_ok = bool(n * lam < sq.min())
  cor32 = dict(samples_obtuse=bool(mem.pairwise_obtuse), width_covers_samples=bool(mem.width_ok),
               decay_below_norms=decay_ok)
  if mem.pairwise_obtuse and mem.width_ok and decay_ok:
    reasons = [f"{uniq.shape[0]} distinct samples are pairwise obtuse (max cosine {mem.max_cosine:.3f})",
               f"p = {width} >= {uniq.shape[0]}", f"n·lam = {n * lam:.3g} < min ||x||^2 = {sq.min():.3g}"]
    if sigma is not None:
      reasons.append(f"at sigma = {sigma:.3g} up to {mem.coactive_max:.3g} other units fire per noisy input: "
                     + ("the one-unit closed forms hold" if mem.one_unit_ok else "memorization_loss is > 1 % low")
                     + ("" if mem.scales_ok else " and the column norms r_i||x_i|| are > 1 % off"))
    if width - uniq.shape[0] < 2:
      reasons.append(f"p - n = {width - uniq.shape[0]}: Adam from random init left a sample unstored in up to 4 of 6 "
                     "seeds at p = n, 2 of 6 at p = n + 1, none at p >= n + 2 (docs/finite-noise.md)")
    return RegimePrediction("memorization", tuple(reasons), np.ones(uniq.shape[0], np.int64),
                            np.ones(uniq.shape[0], np.int64), sigma, mem.coactive_max, mem.one_unit_ok, mem.scales_ok,
                            **cor32)
  if labels is None:
    fails = [f"samples not pairwise obtuse (max cosine {mem.max_cosine:.3f})"] if not mem.pairwise_obtuse else []
    fails += [f"p = {width} < {uniq.shape[0]} distinct samples"] if not mem.width_ok else []
    fails += [f"n·lam = {n * lam:.3g} >= min ||x||^2"] if not decay_ok else []
    return RegimePrediction(BOUNDARY, tuple(fails + ["no cluster labels: Cor 3.3 cannot be checked"]),
                            np.zeros(0, np.int64), np.zeros(0, np.int64), sigma, **cor32)

  dup_rows = np.flatnonzero(mult > 1)  # indices into uniq
  m = dup_rows.size
  is_dup_row = np.isin(inverse, dup_rows)
  groups = [uniq[i][None, :] for i in dup_rows]
  cluster_ids = [i for i in np.unique(labels) if np.any((labels == i) & ~is_dup_row)]
  clusters = [np.unique(x[(labels == i) & ~is_dup_row], axis=0) for i in cluster_ids]
  counts = np.array([1] * m + [c.shape[0] for c in clusters], np.int64)
  reasons, fails = [], []
  if width - m < len(clusters):
    fails.append(f"p = {width} leaves fewer columns than clusters after {m} duplicated samples")
    return RegimePrediction(BOUNDARY, tuple(fails), np.zeros(0, np.int64), counts, sigma, num_duplicated=m, **cor32)
  p_k = allocate_width(width - m, counts[m:], rule=rule) if clusters else np.zeros(0, np.int64)
  widths = np.concatenate([np.ones(m, np.int64), p_k])
  means = np.stack([g.mean(axis=0) for g in groups + clusters])
  unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-300)
  cos = unit @ unit.T
  beta = cos[~np.eye(len(means), dtype=bool)].max() if len(means) > 1 else -np.inf
  (reasons if beta < 0 else fails).append(f"cluster means pairwise obtuse: beta = {beta:.3f}"
                                          + ("" if beta < 0 else " >= 0"))
  gaps = np.ones(len(means))  # duplicated samples: rank one, nothing cut
  zero_columns = np.zeros(len(means), np.int64)
  overfull, dead = [], []
  for k, (xk, pk) in enumerate(zip(clusters, p_k)):
    if xk.shape[0] <= pk:
      overfull.append(_label(cluster_ids[k]))
      fails.append(f"cluster {cluster_ids[k]} has n_k = {xk.shape[0]} <= p_k = {pk}: its block can hold its samples")
      continue
    spectrum = np.sort(np.linalg.eigvalsh(xk.T @ xk))[::-1]
    eig = spectrum[:pk]
    live = int(np.sum(eig > n * lam))
    gaps[m + k] = _eigen_gap(spectrum, live)
    zero_columns[m + k] = pk - live
    if live == 0:
      dead.append(_label(cluster_ids[k]))
      fails.append(f"cluster {cluster_ids[k]}: n·lam = {n * lam:.3g} >= its top Gram eigenvalue {eig[0]:.3g}: the block is dead")
    elif live < pk:
      reasons.append(f"cluster {cluster_ids[k]}: {pk - live} of its {pk} columns are predicted zero "
                     f"(Gram eigenvalues <= n·lam = {n * lam:.3g})")
  checked = dict(num_duplicated=m, means_obtuse=bool(beta < 0), beta=float(beta), overfull_clusters=tuple(overfull),
                 dead_clusters=tuple(dead), zero_columns=zero_columns, **cor32)
  if clusters and not overfull:
    reasons.append(f"every cluster has n_k > p_k (min n_k/p_k = {min(c.shape[0] / p for c, p in zip(clusters, p_k)):.1f})")
  if fails:
    return RegimePrediction(BOUNDARY, tuple(fails), widths, counts, sigma, **checked)
  blocks = bool(np.all(gaps >= EIGEN_GAP_LIMIT))
  flat = tuple(_label(cluster_ids[k - m]) for k in np.flatnonzero(gaps < EIGEN_GAP_LIMIT))
  if not blocks:
    reasons.append(f"clusters {', '.join(map(str, flat))}: p_k cuts the spectrum where it is flat (relative eigen-gap "
                   f"{gaps.min():.3g} < {EIGEN_GAP_LIMIT}): training may find gated solutions below the blocks' loss")
  if m:
    reasons.insert(0, f"{m} duplicated samples, each a rank-one cluster with its own column")
    return RegimePrediction("hybrid", tuple(reasons), widths, counts, sigma, eigen_gap=gaps, blocks_expected=blocks,
                            flat_clusters=flat, **checked)
  return RegimePrediction("generalization", tuple(reasons), widths, counts, sigma, eigen_gap=gaps,
                          blocks_expected=blocks, flat_clusters=flat, **checked)


def _label(value):
  """A cluster label as a plain Python int (or the value itself when it is not integral)."""
  return int(value) if np.issubdtype(np.asarray(value).dtype, np.integer) else value


def _eigen_gap(spectrum: np.ndarray, cut: int) -> float:
  """(e_c − e_{c+1}) / e_c for eigenvalues sorted in decreasing order, c = ``cut``; 1 where nothing
  is cut (c at or beyond the numerical rank) and 0 for c = 0."""
  if cut == 0:
    return 0.0
  if cut >= spectrum.size:
    return 1.0
  top = spectrum[cut - 1]
  rest = max(spectrum[cut], 0.0)
  if rest <= 1e-12 * max(spectrum[0], 1e-300):
    return 1.0
  return float((top - rest) / top)


# ----------------------------------------------------------------------------------------------
# Correspondence over a sweep
# ----------------------------------------------------------------------------------------------


class Correspondence(NamedTuple):
  """Predicted against observed regimes over a sweep.

  Attributes:
    agreement: share of models with a non-boundary prediction whose observed regime matches
      (NaN when every prediction is "boundary").
    decided: how many models had a non-boundary prediction.
    table: {(predicted, observed): count} over all models.
    disagreements: (index, predicted, observed) for each decided model that disagrees.
  """

  agreement: float
  decided: int
  table: dict
  disagreements: tuple[tuple[int, str, str], ...]

  def summary(self) -> str:
    lines = [f"agreement {self.agreement:.1%} on {self.decided} models away from the boundary"]
    for (p, o), c in sorted(self.table.items()):
      lines.append(f"  predicted {p:14s} observed {o:14s} {c:4d}")
    lines += [f"  model {i}: predicted {p}, observed {o}" for i, p, o in self.disagreements]
    return "\n".join(lines)


def correspondence(predicted: Sequence[str], observed: Sequence[str]) -> Correspondence:
  """Agreement of ``predicted_regime`` with ``classify_regime`` over models, boundary excluded."""
  predicted, observed = list(predicted), list(observed)
  if len(predicted) != len(observed):
    raise ValueError(f"predicted and observed must have the same length, got {len(predicted)} and {len(observed)}")
  allowed = set(REGIMES) | {BOUNDARY}
  for name, seq in (("predicted", predicted), ("observed", observed)):
    bad = sorted(set(seq) - allowed)
    if bad:
      raise ValueError(f"{name} holds unknown regimes {bad}; expected some of {sorted(allowed)}")
  table: dict = {}
  for p, o in zip(predicted, observed):
    table[(p, o)] = table.get((p, o), 0) + 1
  decided = [i for i, p in enumerate(predicted) if p != BOUNDARY]
  dis = tuple((i, predicted[i], observed[i]) for i in decided if predicted[i] != observed[i])
  agreement = 1.0 - len(dis) / len(decided) if decided else float("nan")
  return Correspondence(agreement, len(decided), table, dis)
