"""Analysis of trained ReLU-DAEs: weight and representation diagnostics, detection metrics.

Representation measures act on ONE code h of shape (p,) (vmap for batches); weight diagnostics
take the whole (d, p) matrix. Metrics are the canonical formulas, each with a hand-computed test.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.model import DAEParams, HIGHEST, _check_params_and_input, dae_apply

_TINY = 1e-30


def _code(h, name: str = "h"):
  """A code (…, p) as an array: rank >= 1 (units on the last axis), real, finite when concrete."""
  h = checks.as_array(name, h)
  if h.ndim == 0:
    raise ValueError(f"{name} must have rank >= 1 (hidden units on the last axis), got a scalar")
  checks.check_array(name, h, ndim=h.ndim)
  checks.check_finite(name, h)
  return h


def _check_batch(params, y, name: str = "y"):
  """(params, a batch y (m, d) of finite inputs) checked; returns y as an array."""
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  checks.check_array("params.w1", params.w1, ndim=2)
  y = checks.check_array(name, y, ndim=2)
  checks.check_dim(name, y, 1, params.w1.shape[0], "the input dimension d of params.w1")
  checks.check_finite(name, y)
  return y


# ----------------------------------------------------------------------------------------------
# Representation measures (the paper's Std(h) score, Fig 4, and scale-free companions), per code h ∈ ℝ^p
# ----------------------------------------------------------------------------------------------


def representation_std(h: jax.Array) -> jax.Array:
  """The paper's spikiness score: population std over units, √((1/p) Σ_j (h_j − h̄)²).

  Works on any leading shape: the std is over the last axis. For a one-hot h with value a,
  Std = a √(1/p − 1/p²).
  """
  return jnp.std(_code(h), axis=-1)


def normalized_std(h: jax.Array) -> jax.Array:
  """Std(h) / ‖h‖₂: scale-free; 0 for a uniform code, √((1 − 1/p)/p) for one-hot (0 for h = 0)."""
  h = _code(h)
  norm = jnp.linalg.norm(h, axis=-1)
  return jnp.where(norm > 0, jnp.std(h, axis=-1) / jnp.maximum(norm, _TINY), 0.0)


def peak_energy_fraction(h: jax.Array) -> jax.Array:
  """max_j h_j² / ‖h‖₂²: 1 for one-hot, 1/k for k equal active units (0 for h = 0)."""
  h = jnp.asarray(_code(h))
  sq = h * h
  total = jnp.sum(sq, axis=-1)
  return jnp.where(total > 0, jnp.max(sq, axis=-1) / jnp.maximum(total, _TINY), 0.0)


def l4_l2_ratio(h: jax.Array) -> jax.Array:
  """‖h‖₄ / ‖h‖₂ (the authors' sparsity ratio): 1 for one-hot, k^{−1/4} for k equal units."""
  h = jnp.asarray(_code(h))
  l2 = jnp.linalg.norm(h, axis=-1)
  l4 = jnp.sum(h ** 4, axis=-1) ** 0.25
  return jnp.where(l2 > 0, l4 / jnp.maximum(l2, _TINY), 0.0)


def active_units(h: jax.Array, threshold: float = 0.0) -> jax.Array:
  """Number of units with h_j > threshold."""
  h = jnp.asarray(_code(h))
  checks.check_scalar("threshold", threshold)
  return jnp.sum(h > threshold, axis=-1)


def participation_ratio(h: jax.Array) -> jax.Array:
  """(Σ h_j²)² / Σ h_j⁴: the effective number of active units (1 for one-hot, k for k equal)."""
  h = jnp.asarray(_code(h))
  sq = h * h
  den = jnp.sum(sq * sq, axis=-1)
  return jnp.where(den > 0, jnp.sum(sq, axis=-1) ** 2 / jnp.maximum(den, _TINY), 0.0)


SPIKINESS_SCORES = {
    "std": representation_std,
    "normalized_std": normalized_std,
    "peak_energy_fraction": peak_energy_fraction,
    "l4_l2_ratio": l4_l2_ratio,
    # larger = spikier for every score: negate the participation ratio
    "inverse_participation": lambda h: 1.0 / jnp.maximum(participation_ratio(h), 1.0),
}


# ----------------------------------------------------------------------------------------------
# Detection metrics
# ----------------------------------------------------------------------------------------------


def _scores(name: str, scores, metric: str) -> np.ndarray:
  """Finite, non-empty scores (any shape) as a flat float64 array."""
  try:
    s = np.asarray(scores, np.float64).ravel()
  except (TypeError, ValueError) as err:
    raise ValueError(f"{name} must hold real numbers, got {type(scores).__name__}") from err
  if s.size == 0:
    raise ValueError(f"{name} must not be empty: {metric} needs at least one positive and one negative score")
  if not np.isfinite(s).all():
    raise ValueError(f"{name} must be finite, but it holds NaN or inf")
  return s


def auroc(scores_positive, scores_negative) -> float:
  """Area under the ROC curve = P(s₊ > s₋) + ½ P(s₊ = s₋) (Mann–Whitney U / (n₊ n₋)).

  Positives are the memorised inputs (high score = flagged), as in the paper's Table 1.
  """
  pos = _scores("scores_positive", scores_positive, "auroc")
  neg = _scores("scores_negative", scores_negative, "auroc")
  allv = np.concatenate([pos, neg])
  order = np.argsort(allv, kind="mergesort")
  ranks = np.empty(allv.size)
  sorted_v = allv[order]
  # average ranks over ties
  _, first, counts = np.unique(sorted_v, return_index=True, return_counts=True)
  avg = first + (counts - 1) / 2.0 + 1.0
  ranks[order] = np.repeat(avg, counts)
  u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
  return float(u / (pos.size * neg.size))


def tpr_at_fpr(scores_positive, scores_negative, fpr: float = 0.01) -> float:
  """True-positive rate at the threshold t = the (1 − fpr) quantile of the negative scores:
  the fraction of positives with score > t (the authors' TPR@1%FPR, paper Table 1)."""
  checks.check_scalar("fpr", fpr, nonnegative=True)
  if fpr > 1:
    raise ValueError(f"fpr must be in [0, 1], got {fpr}")
  pos = _scores("scores_positive", scores_positive, "tpr_at_fpr")
  neg = _scores("scores_negative", scores_negative, "tpr_at_fpr")
  threshold = np.quantile(neg, 1.0 - fpr)
  return float(np.mean(pos > threshold))


# ----------------------------------------------------------------------------------------------
# Weight diagnostics
# ----------------------------------------------------------------------------------------------


class ColumnReport(NamedTuple):
  """Per-column diagnostics of W (d, p).

  Attributes:
    norms: (p,) column norms.
    max_cosine: (p,) each column's largest cosine with the training samples (≈ 1: a stored sample).
    nearest_sample: (p,) index of that sample.
    antipodal_pairs: (q, 2) pairs (i, j) with cos(w_i, w_j) < −0.9 among columns of norm above
      ``min_norm`` (each realises a linear rank-one map, w[wᵀy]₊ − w[−wᵀy]₊ = wwᵀy).
  """

  norms: np.ndarray
  max_cosine: np.ndarray
  nearest_sample: np.ndarray
  antipodal_pairs: np.ndarray


def column_report(w, x, *, min_norm: float = 0.1, antipodal_cosine: float = -0.9) -> ColumnReport:
  """Column norms, max cosine with the samples x (n, d), and antipodal pairs of W (d, p)."""
  w = checks.as_float64("w", w)
  x = checks.as_float64("x", x)
  checks.check_dim("x", x, 1, w.shape[0], "the input dimension of w")
  checks.check_scalar("min_norm", min_norm, nonnegative=True)
  checks.check_scalar("antipodal_cosine", antipodal_cosine)
  if not -1.0 <= antipodal_cosine <= 1.0:
    raise ValueError(f"antipodal_cosine must be a cosine in [-1, 1], got {antipodal_cosine}")
  norms = np.linalg.norm(w, axis=0)
  wu = w / np.maximum(norms, _TINY)[None, :]
  xu = x / np.maximum(np.linalg.norm(x, axis=1), _TINY)[:, None]
  cos = xu @ wu  # (n, p)
  big = np.flatnonzero(norms > min_norm)
  cc = wu[:, big].T @ wu[:, big]
  i, j = np.nonzero(np.triu(cc < antipodal_cosine, k=1))
  pairs = np.stack([big[i], big[j]], axis=1) if i.size else np.zeros((0, 2), int)
  return ColumnReport(norms, cos.max(axis=0), cos.argmax(axis=0), pairs)


class ColumnMatch(NamedTuple):
  """Optimal one-to-one matching of learned columns to predicted columns (Hungarian).

  Attributes:
    learned: (k,) learned column index matched to each predicted column.
    cosine: (k,) cosine of each matched pair.
    norm_ratio: (k,) ‖learned‖ / ‖predicted‖.
    relative_error: (k,) ‖learned − predicted‖ / ‖predicted‖.
    unmatched_learned: (p − k,) int64, sorted indices of the learned columns left out of the
      matching (w_learned has more columns than there are non-zero predicted ones); empty when
      every learned column is matched.
    unmatched_predicted: int64, sorted indices into w_predicted of its columns left out of the
      matching: its zero columns (a predicted dead unit has no direction to match); empty when
      every predicted column is non-zero.

  The k pairs follow the order of the non-zero columns of w_predicted.
  """

  learned: np.ndarray
  cosine: np.ndarray
  norm_ratio: np.ndarray
  relative_error: np.ndarray
  unmatched_learned: np.ndarray
  unmatched_predicted: np.ndarray


def match_columns(w_learned, w_predicted) -> ColumnMatch:
  """Matches each non-zero predicted column to a distinct learned column (Hungarian assignment,
  ``scipy.optimize.linear_sum_assignment``) maximising Σ_i cos(p_i, l_j) · min(‖l_j‖ / ‖p_i‖, 1):
  the share of p_i that l_j carries, capped at 1 so that a longer column does not win by length.
  On cosine alone a column that weight decay has shrunk to ~0 but that still points at a sample
  can win over the column that stores it (seen on Fashion-MNIST: cosine 0.906 at norm 0.02
  against 0.896 at norm 0.93)."""
  from scipy.optimize import linear_sum_assignment

  wl = checks.as_float64("w_learned", w_learned)
  wp_all = checks.as_float64("w_predicted", w_predicted)
  live = np.flatnonzero(np.linalg.norm(wp_all, axis=0) > 0)
  wp = wp_all[:, live]
  if wl.shape[0] != wp.shape[0]:
    raise ValueError(f"w_learned and w_predicted must have the same d, got {wl.shape[0]} and {wp.shape[0]}")
  if wp.shape[1] > wl.shape[1]:
    raise ValueError(f"w_learned has {wl.shape[1]} columns, fewer than the {wp.shape[1]} non-zero predicted ones")
  nl, npred = np.linalg.norm(wl, axis=0), np.linalg.norm(wp, axis=0)
  cos = (wp / npred).T @ (wl / np.maximum(nl, _TINY))  # (k, p)
  carried = cos * np.minimum(nl[None, :] / npred[:, None], 1.0)
  rows, cols = linear_sum_assignment(-carried)
  learned = cols[np.argsort(rows)].astype(np.int64)
  return ColumnMatch(learned, cos[np.arange(wp.shape[1]), learned], nl[learned] / npred,
                     np.linalg.norm(wl[:, learned] - wp, axis=0) / npred,
                     np.setdiff1d(np.arange(wl.shape[1]), learned).astype(np.int64),
                     np.setdiff1d(np.arange(wp_all.shape[1]), live).astype(np.int64))


def gram_error(w_learned, w_predicted) -> float:
  """‖W Wᵀ − W* W*ᵀ‖_F / ‖W* W*ᵀ‖_F: a split- and rotation-invariant comparison of weights."""
  wl = checks.as_float64("w_learned", w_learned)
  wp = checks.as_float64("w_predicted", w_predicted)
  checks.check_dim("w_predicted", wp, 0, wl.shape[0], "the input dimension d of w_learned")
  a, b = wl @ wl.T, wp @ wp.T
  scale = np.linalg.norm(b)
  if scale == 0:
    raise ValueError("w_predicted must not be all zero: the error is relative to its Gram matrix")
  return float(np.linalg.norm(a - b) / scale)


def one_hot_fraction(h, share: float = 0.95) -> float:
  """Fraction of codes (rows of h, (m, p)) in which one unit carries more than ``share`` of ‖h‖²."""
  h = checks.check_array("h", h, ndim=2)
  checks.check_nonempty("h", h)
  checks.check_scalar("share", share, positive=True)
  if share > 1:
    raise ValueError(f"share must be in (0, 1], got {share}")
  return float(np.mean(np.asarray(peak_energy_fraction(jnp.asarray(h))) > share))


def representations(params: DAEParams, y) -> jax.Array:
  """Hidden codes of a batch y (m, d): (m, p)."""
  y = _check_batch(params, y)
  return jax.nn.relu(jnp.matmul(jnp.asarray(y), params.w1, precision=HIGHEST))


def apply_batch(params: DAEParams, y) -> jax.Array:
  """f(y) for a batch y (m, d)."""
  y = _check_batch(params, y)
  return jax.vmap(dae_apply, in_axes=(None, 0))(params, jnp.asarray(y))


class JacobianSpectrum(NamedTuple):
  """Singular values s (d,) of a denoiser's Jacobian and its effective rank exp(H(s/Σs))."""

  singular_values: jax.Array
  effective_rank: jax.Array


def jacobian_spectrum(params: DAEParams, y) -> JacobianSpectrum:
  """Singular values of the denoiser's Jacobian ∂f/∂y at y (d,) (paper App. B.3), and its effective
  rank exp(H(s/Σs)) (entropy of the normalised singular values).

  For the ReLU-DAE the Jacobian is W2 diag(1[W1ᵀy > 0]) W1ᵀ: a memorised training point gives a
  rank-one Jacobian along its stored sample, a generalised one a spread over the mode's directions.
  """
  y = checks.as_array("y", y)
  _check_params_and_input(params, y)
  checks.check_finite("y", y)
  jac = jax.jacfwd(lambda v: dae_apply(params, v))(jnp.asarray(y))
  s = jnp.linalg.svd(jac, compute_uv=False)
  p = s / jnp.maximum(jnp.sum(s), _TINY)
  ent = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.maximum(p, _TINY)), 0.0))
  return JacobianSpectrum(s, jnp.exp(ent))


def gating_overlap(h_a, h_b) -> jax.Array:
  """Jaccard overlap of the active-unit sets of two codes: |A ∩ B| / |A ∪ B| (1 if both empty)."""
  h_a, h_b = _code(h_a, "h_a"), _code(h_b, "h_b")
  if tuple(h_b.shape) != tuple(h_a.shape):
    raise ValueError(f"h_b must have the shape of h_a {tuple(h_a.shape)}, got {tuple(h_b.shape)}")
  a, b = jnp.asarray(h_a) > 0, jnp.asarray(h_b) > 0
  inter = jnp.sum(a & b, axis=-1)
  union = jnp.sum(a | b, axis=-1)
  return jnp.where(union > 0, inter / jnp.maximum(union, 1), 1.0)


class GatingGeometry(NamedTuple):
  """Active-unit overlap of input pairs against the inputs' similarity (the paper's closing claim
  that ReLU gating gives similar inputs similar activation patterns).

  Attributes:
    overlap: (q,) Jaccard overlap |A_i ∩ A_j| / |A_i ∪ A_j| of the pairs' active-unit sets.
    similarity: (q,) cosine similarity of the pairs' reference inputs.
    spearman: rank correlation of overlap and similarity.
    pearson: linear correlation of overlap and similarity.
  """

  overlap: np.ndarray
  similarity: np.ndarray
  spearman: float
  pearson: float


def gating_geometry(params: DAEParams, y, pairs, reference=None) -> GatingGeometry:
  """Overlap of the active units of h(y_i), h(y_j) against cos(reference_i, reference_j).

  Args:
    params: the model.
    y: (m, d) inputs fed to the encoder (e.g. noisy images).
    pairs: (q, 2) int indices into y.
    reference: (m, d) what "similar" is measured on (e.g. the clean images); default y.

  Returns:
    ``GatingGeometry`` (correlations NaN when either side is constant).
  """
  from scipy.stats import spearmanr

  y = _check_batch(params, y)
  pairs = np.asarray(pairs)
  if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
    raise ValueError(f"pairs must be a (q, 2) integer array, got shape {pairs.shape} and dtype {pairs.dtype}")
  if pairs.size and (pairs.min() < 0 or pairs.max() >= y.shape[0]):
    raise ValueError(f"pairs must index the {y.shape[0]} rows of y")
  ref = np.asarray(y if reference is None else checks.check_array("reference", reference, ndim=2), np.float64)
  if ref.shape[0] != y.shape[0]:
    raise ValueError(f"reference must have the {y.shape[0]} rows of y, got {ref.shape[0]}")
  h = np.asarray(representations(params, jnp.asarray(y, params.w1.dtype)))
  overlap = np.asarray(gating_overlap(h[pairs[:, 0]], h[pairs[:, 1]]), np.float64)
  unit = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), _TINY)
  sim = np.einsum("qd,qd->q", unit[pairs[:, 0]], unit[pairs[:, 1]])
  constant = np.ptp(overlap) == 0 or np.ptp(sim) == 0
  spearman = float("nan") if constant else float(spearmanr(overlap, sim).statistic)
  pearson = float("nan") if constant else float(np.corrcoef(overlap, sim)[0, 1])
  return GatingGeometry(overlap, sim, spearman, pearson)


def mean_squared_distance(a, b) -> float:
  """E_i ‖a_i − b_i‖², in float64, of two batches a, b (m, d): e.g. a denoiser's error against the
  clean inputs, or the distance between two denoisers on the same inputs."""
  a = checks.check_array("a", a, ndim=2)
  b = checks.check_array("b", b, ndim=2)
  if a.shape != b.shape:
    raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
  checks.check_finite("a", a)
  checks.check_finite("b", b)
  diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  return float(np.mean(np.sum(diff * diff, axis=1)))


def apply_mode_maps(maps, labels, y) -> np.ndarray:
  """M_{k_i} y_i for each input: the per-mode linear maps of Cor 3.3 (``cluster_linear_maps``,
  ``mixture_linear_maps``) applied to inputs of known mode, in float64.

  Args:
    maps: (K, d, d) one linear map per mode.
    labels: (m,) mode of each input, in [0, K).
    y: (m, d) inputs.

  Returns:
    (m, d) outputs.
  """
  maps = checks.check_array("maps", maps, ndim=3)
  y = checks.check_array("y", y, ndim=2)
  labels = checks.check_int_array("labels", labels)
  checks.check_dim("labels", labels, 0, y.shape[0], "one label per input")
  checks.check_dim("maps", maps, 1, y.shape[1], "the inputs' dimension")
  checks.check_dim("maps", maps, 2, y.shape[1], "square maps")
  if labels.size and labels.max() >= maps.shape[0]:
    raise ValueError(f"labels must be below the number of maps K = {maps.shape[0]}, got {labels.max()}")
  return np.einsum("nde,ne->nd", np.asarray(maps, np.float64)[labels], np.asarray(y, np.float64))


def per_mode_relative_error(outputs, reference, labels) -> np.ndarray:
  """Per mode k, the mean over its inputs of ‖f(y_i) − r_i‖ / ‖r_i‖: how far a denoiser's outputs
  are from a reference (e.g. ``apply_mode_maps``' Cor 3.3 maps), mode by mode.

  Args:
    outputs, reference: (m, d).
    labels: (m,) integer modes; the result has one entry per distinct label, in increasing order.

  Returns:
    (K,) relative errors.
  """
  outputs = checks.check_array("outputs", outputs, ndim=2)
  reference = checks.check_array("reference", reference, ndim=2)
  if outputs.shape != reference.shape:
    raise ValueError(f"outputs and reference must have the same shape, got {tuple(outputs.shape)} and "
                     f"{tuple(reference.shape)}")
  labels = checks.check_int_array("labels", labels, minimum=None)
  checks.check_dim("labels", labels, 0, outputs.shape[0], "one label per output")
  checks.check_finite("outputs", outputs)
  out, ref = np.asarray(outputs, np.float64), np.asarray(reference, np.float64)
  ratio = np.linalg.norm(out - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-300)
  return np.array([ratio[labels == k].mean() for k in np.unique(labels)])
