"""Evaluation of generated samples: copies of training samples, fit to the data distribution,
and agreement of two models sampled from the same noise.

A diffusion model's sample counts as memorised when it lies much nearer its nearest training
sample than its second nearest: d₁/d₂ < 1/3 (Gu et al. 2023, "On Memorization in Diffusion
Models"; Yoon et al. 2023, "Diffusion Probabilistic Models Generalize when They Fail to
Memorize"). The bias-free ReLU diffusion model of Zhang et al. (ICLR 2026, "Generalization of
Diffusion Models Arises with a Balanced Representation Space") generates faint samples (norm 1–3.5
against ≈ 24 for the data), which are far from every training sample in ℓ2 even when they copy
one, so every label is also computed on unit-norm rows (scale-free). Host-side NumPy float64.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from dae_theory._src import checks
from dae_theory._src.mixture import GaussianMixture, check_mixture, gmm_posterior
from dae_theory._src.regimes import _nearest

_TINY = 1e-300
# Float32 Gram candidates per query, of which the float64 distances keep the nearest two: a
# near-tie in float32 between the 2nd and 3rd nearest cannot drop the true 2nd.
_CANDIDATES = 8
_QUERY_CHUNK = 512
_POSTERIOR_CHUNK = 1024


# ----------------------------------------------------------------------------------------------
# Copies of training samples: d₁/d₂ in ℓ2 and on unit-norm rows
# ----------------------------------------------------------------------------------------------


class SampleEvaluation(NamedTuple):
  """Per-sample nearest-training-sample statistics, all of shape (m,).

  Indices refer to rows of the original ``train_x``; of several identical rows, the first.

  Attributes:
    nearest_index: int64, the nearest distinct training row in ℓ2.
    nearest_distance: d₁ = ‖s − x_{nearest}‖.
    ratio: d₁/d₂ over distinct training rows, in [0, 1].
    memorized: bool, ratio < threshold.
    nearest_distance_scale_free: d₁ between s/‖s‖ and the unit training directions.
    ratio_scale_free: d₁/d₂ between s/‖s‖ and the distinct unit training directions, in [0, 1].
    memorized_scale_free: bool, ratio_scale_free < threshold.
    cosine_index: int64, the training row of largest cosine with s (−1 for a zero sample). On unit
      rows ‖u − v‖² = 2 − 2 cos(u, v), so it is also the scale-free nearest row.
    cosine: cos(s, x_{cosine_index}) (0 for a zero sample).
    norms: ‖s‖.
  """

  nearest_index: np.ndarray
  nearest_distance: np.ndarray
  ratio: np.ndarray
  memorized: np.ndarray
  nearest_distance_scale_free: np.ndarray
  ratio_scale_free: np.ndarray
  memorized_scale_free: np.ndarray
  cosine_index: np.ndarray
  cosine: np.ndarray
  norms: np.ndarray


def _two_nearest(queries: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(index of the nearest row of ``points``, d₁, d₂) per query, streamed over queries.

  Both sides are centred on the mean of ``points`` first (ℓ2 distances do not change), so that
  the float32 Gram candidates of ``_nearest`` do not lose the neighbours' differences under a
  large common offset (images with all-positive pixels); distances are float64.
  """
  centre = points.mean(axis=0)
  k = min(_CANDIDATES, points.shape[0])
  idx, dist = _nearest(queries - centre[None, :], points - centre[None, :], k, chunk=_QUERY_CHUNK)
  return idx[:, 0], dist[:, 0], dist[:, 1]


def _ratio(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
  # as nearest_neighbour_ratio: d₂ > 0 whenever the rows are distinct
  return np.where(d2 > 0, d1 / np.maximum(d2, _TINY), 0.0)


def _check_threshold(threshold) -> float:
  checks.check_scalar("threshold", threshold, positive=True)
  if not float(threshold) < 1.0:
    raise ValueError(f"threshold must be in (0, 1), got {float(threshold)}")
  return float(threshold)


def evaluate_samples(samples, train_x, *, threshold: float = 1.0 / 3.0) -> SampleEvaluation:
  """Is each generated sample a copy of a training sample? d₁/d₂ in ℓ2 and scale-free.

      ratio(s) = ‖s − x_(1)‖ / ‖s − x_(2)‖,   memorized(s) = ratio(s) < threshold,

  with x_(1), x_(2) the nearest and second-nearest DISTINCT training rows (Gu et al. 2023; Yoon
  et al. 2023; as ``nearest_neighbour_ratio``). Exact duplicate rows count once: the reference
  code of Gu et al. and of Bonnaire et al. counts every copy, so there a sample that copies a
  duplicated image has d₁ = d₂ = 0 and d₁/d₂ ≈ 1 (not memorised); here it has d₁/d₂ = 0.

  Scale-free labels repeat this on u(s) = s/‖s‖ against the distinct directions x/‖x‖ of the
  training rows (rows that are positive multiples of one another share a direction and count once,
  when their unit rows round to the same floats). A faint copy 0.1·x_i is far from x_i in ℓ2 but
  at distance 0 from it here. Zero rows have no direction:
    - a zero training row takes no part in the scale-free labels or the cosines;
    - a zero sample is kept at the origin, at distance 1 from every unit direction: its
      scale-free d₁ = d₂ = 1, ratio 1 (never memorised), cosine 0 and cosine_index −1.

  Memory: O(chunk · n) per block of 512 queries (float32 Gram candidates at HIGHEST precision,
  then float64 distances of 8 candidates per query), plus the (n, d) float64 training rows.

  Args:
    samples: (m, d) generated samples.
    train_x: (n, d) training samples, with at least two distinct rows and two distinct non-zero
      directions.
    threshold: the d₁/d₂ cut in (0, 1) (1/3 in Gu et al. and Yoon et al.).

  Returns:
    ``SampleEvaluation`` of (m,) arrays.
  """
  s = checks.as_float64("samples", samples)
  x = checks.as_float64("train_x", train_x)
  checks.check_dim("train_x", x, 1, s.shape[1], "the dimension d of samples")
  threshold = _check_threshold(threshold)
  # np.unique sorts stably when asked for indices: `first` are first occurrences.
  xs, first = np.unique(x, axis=0, return_index=True)
  if xs.shape[0] < 2:
    raise ValueError(f"train_x must hold at least 2 distinct samples, got {xs.shape[0]}")

  idx, d1, d2 = _two_nearest(s, xs)
  ratio = _ratio(d1, d2)

  # scale-free: distinct non-zero directions, each mapped to its first row in train_x
  xnorm = np.linalg.norm(xs, axis=1)
  live = xnorm > 0
  units, group = np.unique(xs[live] / xnorm[live, None], axis=0, return_inverse=True)
  if units.shape[0] < 2:
    raise ValueError(f"train_x must hold at least 2 distinct non-zero directions for the scale-free "
                     f"labels, got {units.shape[0]}")
  unit_first = np.full(units.shape[0], x.shape[0], np.int64)
  np.minimum.at(unit_first, group.ravel(), first[live])

  norms = np.linalg.norm(s, axis=1)
  zero = norms == 0
  su = s / np.where(zero, 1.0, norms)[:, None]  # a zero sample stays at the origin
  uidx, ud1, ud2 = _two_nearest(su, units)
  cosine = np.einsum("md,md->m", su, units[uidx])
  ud1, ud2, cosine = np.where(zero, 1.0, ud1), np.where(zero, 1.0, ud2), np.where(zero, 0.0, cosine)
  uratio = _ratio(ud1, ud2)
  cosine_index = np.where(zero, -1, unit_first[uidx])

  return SampleEvaluation(
      nearest_index=first[idx].astype(np.int64), nearest_distance=d1, ratio=ratio, memorized=ratio < threshold,
      nearest_distance_scale_free=ud1, ratio_scale_free=uratio, memorized_scale_free=uratio < threshold,
      cosine_index=cosine_index.astype(np.int64), cosine=np.clip(cosine, -1.0, 1.0), norms=norms)


class FractionEstimate(NamedTuple):
  """A fraction of flagged samples with a percentile bootstrap interval.

  Attributes:
    value: k/m, the share of flags that are set.
    low, high: the (1 − level)/2 and (1 + level)/2 percentiles of the bootstrap fractions.
    count: k, how many flags are set (of m = the number of flags).
  """

  value: float
  low: float
  high: float
  count: int


def memorized_fraction(flags, *, seed: int = 0, num_bootstrap: int = 2000, level: float = 0.95) -> FractionEstimate:
  """The fraction of memorised samples with a percentile bootstrap interval.

  Resampling m flags with replacement gives k* ~ Binomial(m, k/m) set flags, so the B bootstrap
  fractions are drawn as k*/m from that binomial (the same distribution as resampling the flags,
  in O(B) memory); the interval is their percentiles. It is [0, 0] or [1, 1] when no or every
  flag is set: the bootstrap cannot see beyond the observed samples (a Wilson or Clopper–Pearson
  interval can, if that matters).

  Args:
    flags: (m,) booleans (or 0/1 numbers), e.g. ``SampleEvaluation.memorized``.
    seed: seed of the NumPy Generator (deterministic), in [0, 2**32).
    num_bootstrap: B ≥ 1 resamples.
    level: coverage of the interval, in (0, 1).

  Returns:
    ``FractionEstimate``.
  """
  f = checks.as_array("flags", flags)
  if f.ndim != 1:
    raise ValueError(f"flags must have rank 1, got shape {tuple(f.shape)}")
  checks.check_nonempty("flags", f)
  f = np.asarray(f)
  if f.dtype != np.bool_:
    if not (np.issubdtype(f.dtype, np.integer) or np.issubdtype(f.dtype, np.floating)):
      raise ValueError(f"flags must be boolean or 0/1, got dtype {f.dtype}")
    if not np.isin(f, (0, 1)).all():
      raise ValueError("flags must be boolean or 0/1, got other values (or NaN)")
  seed = checks.check_seed("seed", seed)
  num_bootstrap = checks.check_int("num_bootstrap", num_bootstrap)
  checks.check_scalar("level", level, positive=True)
  if not float(level) < 1.0:
    raise ValueError(f"level must be in (0, 1), got {float(level)}")
  m = f.size
  k = int(np.count_nonzero(f))
  boot = np.random.default_rng(seed).binomial(m, k / m, size=num_bootstrap) / m
  low, high = np.quantile(boot, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
  return FractionEstimate(k / m, float(low), float(high), k)


# ----------------------------------------------------------------------------------------------
# Fit to a Gaussian-mixture data distribution
# ----------------------------------------------------------------------------------------------


def _mixture_posterior(samples, mixture, sigma) -> tuple[np.ndarray, np.ndarray]:
  """(responsibilities (m, K), log evidence (m,)) in float64, streamed over blocks of samples."""
  check_mixture(mixture)
  s = checks.as_float64("samples", samples)
  checks.check_dim("samples", s, 1, mixture.dim, "the mixture's dimension d")
  checks.check_scalar("sigma", sigma, positive=True)
  mix = GaussianMixture(*(np.asarray(a, np.float64) for a in mixture))
  m = s.shape[0]
  chunk = min(_POSTERIOR_CHUNK, m)
  resp, logp = np.empty((m, mix.num_modes)), np.empty(m)
  with jax.enable_x64(True):
    for a in range(0, m, chunk):
      block = s[a:a + chunk]
      pad = chunk - block.shape[0]  # one compiled shape: pad the last block with its first row
      block = np.concatenate([block, np.repeat(block[:1], pad, axis=0)]) if pad else block
      post = gmm_posterior(block, mix, float(sigma))
      resp[a:a + chunk] = np.asarray(post.responsibilities)[:chunk - pad]
      logp[a:a + chunk] = np.asarray(post.log_evidence)[:chunk - pad]
  return resp, logp


def mixture_log_likelihood(samples, mixture: GaussianMixture, sigma) -> np.ndarray:
  """Per-sample log-likelihood under the mixture smoothed at noise level σ:

      log p_σ(s) = log Σ_k ρ_k N(s; μ_k, Σ_k + σ²I)   (``gmm_posterior``'s log evidence).

  σ is a smoothing, not a nuisance: a low-rank Σ_k has no density in ℝ^d, so σ > 0 is needed,
  and the value depends on it (for a sample off a mode's subspace by δ, about −‖δ‖²/(2σ²)). Use
  the sampler's last noise level σ_min, or report several. Float64, streamed over samples.

  Args:
    samples: (m, d) generated samples.
    mixture: the data distribution, a ``GaussianMixture``.
    sigma: σ > 0.

  Returns:
    (m,) float64 log-likelihoods (nats).
  """
  return _mixture_posterior(samples, mixture, sigma)[1]


class ModeFrequencies(NamedTuple):
  """How often generated samples fall in each mode, against the mixing weights.

  Attributes:
    counts: (K,) int64, samples assigned to each mode.
    frequencies: (K,) counts / m.
    expected: (K,) the mixing weights ρ_k (renormalised to sum to 1).
    chi2: Pearson's χ² = Σ_k (c_k − m ρ_k)² / (m ρ_k) over the modes with ρ_k > 0.
    p_value: P(χ²_{K'−1} ≥ chi2), K' the number of modes with ρ_k > 0 (1 when K' = 1).
  """

  counts: np.ndarray
  frequencies: np.ndarray
  expected: np.ndarray
  chi2: float
  p_value: float


def mode_frequencies(samples, mixture: GaussianMixture, sigma) -> ModeFrequencies:
  """Assigns each sample to its most responsible mode at σ and tests the counts against ρ.

      mode(s) = argmax_k π_k(s),  π_k(s) ∝ ρ_k N(s; μ_k, Σ_k + σ²I)   (``gmm_posterior``),

  then Pearson's χ² goodness of fit of the counts to m ρ_k (``scipy.stats.chisquare``, K' − 1
  degrees of freedom). Modes with ρ_k = 0 are never assigned (π_k = 0) and are left out of the
  test. The weights are renormalised (``check_mixture`` lets them sum to 1 ± 1e-5, chisquare asks
  1e-8). The χ² approximation wants expected counts m ρ_k of about 5 or more. A small p-value
  says the model's samples do not weigh the modes as the data do (e.g. it drops a mode).

  Args:
    samples: (m, d) generated samples.
    mixture: the data distribution.
    sigma: σ > 0, as in ``mixture_log_likelihood``.

  Returns:
    ``ModeFrequencies``.
  """
  from scipy.stats import chisquare

  resp, _ = _mixture_posterior(samples, mixture, sigma)
  m, k = resp.shape
  counts = np.bincount(np.argmax(resp, axis=1), minlength=k).astype(np.int64)
  rho = np.asarray(mixture.weights, np.float64)
  rho = rho / rho.sum()
  live = rho > 0
  if live.sum() < 2:
    chi2, p = 0.0, 1.0
  else:
    res = chisquare(counts[live].astype(np.float64), f_exp=m * rho[live])
    chi2, p = float(res.statistic), float(res.pvalue)
  return ModeFrequencies(counts, counts / m, rho, chi2, p)


# ----------------------------------------------------------------------------------------------
# Two models trained on disjoint halves, sampled from the same noise
# ----------------------------------------------------------------------------------------------


class Agreement(NamedTuple):
  """Row-by-row agreement of two sets of samples.

  Attributes:
    distances: (m,) ‖a_i − b_i‖.
    mean: mean of ``distances``.
    relative: (m,) ‖a_i − b_i‖ / ((‖a_i‖ + ‖b_i‖)/2), in [0, 2] (0 when both rows are zero).
    mean_relative: mean of ``relative``.
    cosine: (m,) cos(a_i, b_i) (0 when either row is zero).
  """

  distances: np.ndarray
  mean: float
  relative: np.ndarray
  mean_relative: float
  cosine: np.ndarray


def two_model_agreement(samples_a, samples_b) -> Agreement:
  """How alike two models' samples are when drawn from the same noise (Kadkhodaie et al., ICLR 2024,
  "Generalization in diffusion models arises from geometry-adaptive harmonic representations").

  Train two models on disjoint halves of the data and run both samplers from the same initial
  noise with the same per-step keys. Models that generalise learn nearly the same density and
  give nearly the same samples (relative distance ≪ 1, cosine ≈ 1); models that memorise copy
  each its own half and give different images. Row i of ``samples_a`` is paired with row i of
  ``samples_b``:

      distance_i = ‖a_i − b_i‖,  relative_i = ‖a_i − b_i‖ / ((‖a_i‖ + ‖b_i‖)/2),
      cosine_i = ⟨a_i, b_i⟩ / (‖a_i‖ ‖b_i‖).

  The relative distance is scale-free (faint samples of a bias-free model), and at most 2 by the
  triangle inequality (a_i = −b_i).

  Args:
    samples_a, samples_b: (m, d) samples of the two models, row i from the same noise.

  Returns:
    ``Agreement``.
  """
  a = checks.as_float64("samples_a", samples_a)
  b = checks.as_float64("samples_b", samples_b)
  if a.shape != b.shape:
    raise ValueError(f"samples_b must have the shape of samples_a {a.shape}, got {b.shape}")
  dist = np.linalg.norm(a - b, axis=1)
  na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
  scale = 0.5 * (na + nb)
  rel = np.where(scale > 0, dist / np.maximum(scale, _TINY), 0.0)
  both = (na > 0) & (nb > 0)
  cos = np.where(both, np.einsum("md,md->m", a, b) / np.maximum(na * nb, _TINY), 0.0)
  return Agreement(dist, float(dist.mean()), rel, float(rel.mean()), np.clip(cos, -1.0, 1.0))
