"""Memorisation detection for generated samples (paper Algorithm 1, Sec. 4.1) and its baselines.

A generated sample x₀ is re-noised to a detection level σ_det, x_t = x₀ + σ_det ε, and scored
by what the denoiser does there. The paper's score is Std(h), the spread over units of the hidden
code h at x_t: a memorised sample lights one stored unit (a spiky code), a generalised one many
(a balanced code). Scores compared here, each oriented so that ``HIGHER_MEANS_MEMORIZED`` says
which tail is flagged (fixed before looking at any data, from the mechanism each score probes):

    std                    Std(h) (the paper's score; not scale-free)              higher
    normalized_std         Std(h)/‖h‖₂                                             higher
    peak_energy_fraction   max_j h_j² / ‖h‖²                                       higher
    l4_l2_ratio            ‖h‖₄/‖h‖₂                                               higher
    inverse_participation  Σh_j⁴ / (Σh_j²)²                                         higher
    denoising_error        ‖D(x_t, σ_det) − x₀‖² (a loss-based detector in the spirit of
                           Carlini et al. 2023: memorised samples are denoised well)  lower
    displacement           ‖D(x_t, σ_det) − x_t‖ (a prompt-free analogue of Wen et al. 2024's
                           noise-prediction magnitude)                              higher
    jacobian_rank          effective rank exp(H(s/Σs)) of ∂D/∂x at x_t (paper App. B.3):
                           a memorised sample's denoiser collapses onto one image   lower
    nearest_distance       ‖x₀ − x_(1)‖ to the nearest distinct training sample (an oracle:
                           it needs the training set, the others do not)            lower

Noise: each sample's draws come from ``fold_in(key, hash(sample bytes))``, so a score depends on
the sample alone, not on its position in the batch or on the other samples (identical samples
get identical noise). With ``num_draws`` > 1 each score is averaged over the draws.

Metrics: AUROC and the TPR at 1 % FPR (threshold = the 99th percentile of the negatives' scores,
as the authors), each with a percentile bootstrap interval over positives and negatives resampled
independently (``detection_metrics``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks
from dae_theory._src.analysis import SPIKINESS_SCORES, auroc, tpr_at_fpr
from dae_theory._src.diffusion import DiffusionParams, diffusion_code, time_gate
from dae_theory._src.generated import evaluate_samples

HIGHEST = jax.lax.Precision.HIGHEST
_TINY = 1e-30

CODE_SCORES = ("std", "normalized_std", "peak_energy_fraction", "l4_l2_ratio", "inverse_participation")
DETECTORS = CODE_SCORES + ("denoising_error", "displacement", "jacobian_rank", "nearest_distance")
HIGHER_MEANS_MEMORIZED = {
    "std": True, "normalized_std": True, "peak_energy_fraction": True, "l4_l2_ratio": True,
    "inverse_participation": True, "denoising_error": False, "displacement": True, "jacobian_rank": False,
    "nearest_distance": False,
}
# The paper's Algorithm 1 text uses t = 50 of 1000 DDPM steps (σ ≈ 0.17); its code uses t = 10 (σ ≈ 0.1).
DEFAULT_SIGMA_DET = 0.1

Denoiser = Callable[[jax.Array, jax.Array], jax.Array]


def _code_score(name: str, h: jax.Array) -> jax.Array:
  if name == "inverse_participation":
    sq = h * h
    total = jnp.sum(sq, axis=-1)
    return jnp.where(total > 0, jnp.sum(sq * sq, axis=-1) / jnp.maximum(total * total, _TINY), 0.0)
  return SPIKINESS_SCORES[name](h)


def code_scores(codes, score: str = "std") -> np.ndarray:
  """One spikiness score per sample from its codes, averaged over draws.

  Args:
    codes: (m, p) codes, or (m, draws, p) codes of several noise draws per sample.
    score: one of ``CODE_SCORES``.

  Returns:
    (m,) float64 scores (the mean over draws of the score of each draw's code).
  """
  if score not in CODE_SCORES:
    raise ValueError(f"score must be one of {CODE_SCORES}, got {score!r}")
  h = checks.check_array("codes", codes, ndim=(2, 3))
  checks.check_nonempty("codes", h)
  checks.check_finite("codes", h)
  h = jnp.asarray(h)
  values = _code_score(score, h)
  return np.asarray(values if values.ndim == 1 else values.mean(axis=1), np.float64)


# ----------------------------------------------------------------------------------------------
# Re-noising
# ----------------------------------------------------------------------------------------------


def _row_hash(x: jax.Array) -> jax.Array:
  """A 32-bit hash of each row's bits, (m,) uint32 (position-free: only the row's content)."""
  bits = jax.lax.bitcast_convert_type(x.astype(jnp.float32), jnp.uint32)
  mult = (jnp.arange(x.shape[-1], dtype=jnp.uint32) * jnp.uint32(2654435761)) | jnp.uint32(1)
  mixed = (bits ^ (bits >> 16)) * mult[None, :]
  return jnp.sum(mixed, axis=-1, dtype=jnp.uint32)


def detection_noise(key: jax.Array, samples, num_draws: int = 1) -> jax.Array:
  """Standard normal noise ε for re-noising, (num_draws, m, d), keyed by each sample's content.

  Row i's draws come from ``fold_in(key, hash(samples[i]))``: permuting the samples permutes
  their noise with them.
  """
  checks.check_key("key", key)
  x = checks.check_array("samples", samples, ndim=2)
  checks.check_finite("samples", x)
  num_draws = checks.check_int("num_draws", num_draws)
  x = jnp.asarray(x)
  keys = jax.vmap(lambda h: jax.random.fold_in(key, h))(_row_hash(x))
  eps = jax.vmap(lambda k: jax.random.normal(k, (num_draws, x.shape[1]), x.dtype))(keys)
  return jnp.swapaxes(eps, 0, 1)


def _check_samples(samples, dim: int | None = None) -> jax.Array:
  x = checks.check_array("samples", samples, ndim=2)
  checks.check_nonempty("samples", x)
  if dim is not None:
    checks.check_dim("samples", x, 1, dim, "the model's dimension d")
  checks.check_finite("samples", x)
  x = jnp.asarray(x)
  return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _check_sigma_det(sigma_det) -> float:
  checks.check_scalar("sigma_det", sigma_det, positive=True)
  return float(sigma_det)


def detection_codes(params: DiffusionParams, samples, key: jax.Array, *, sigma_det: float = DEFAULT_SIGMA_DET,
                    num_draws: int = 1, gated: bool = False) -> jax.Array:
  """Hidden codes of re-noised samples (paper Algorithm 1, steps 1–2), (m, num_draws, p).

      h = [W1ᵀ(x₀ + σ_det ε)]₊            (ungated, the code the authors plot), or
      h = [W1ᵀ(x₀ + σ_det ε)]₊ ⊙ exp(g(log σ_det))   (gated: what the decoder reads).

  Args:
    params: ``DiffusionParams`` of the multi-noise ReLU model.
    samples: (m, d) generated samples x₀.
    key: PRNG key of the re-noising (see ``detection_noise``).
    sigma_det: σ_det > 0.
    num_draws: noise draws per sample.
    gated: read the gated code instead of the ungated one.
  """
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  x = _check_samples(samples, params.dim)
  sigma_det = _check_sigma_det(sigma_det)
  if not isinstance(gated, bool):
    raise ValueError(f"gated must be True or False, got {gated!r}")
  eps = detection_noise(key, x, num_draws)
  y = x[None, :, :] + sigma_det * eps
  h = jax.nn.relu(jnp.einsum("kmd,dp->kmp", y, params.w1, precision=HIGHEST))
  if gated:
    h = h * time_gate(params, sigma_det)[None, None, :]
  return jnp.swapaxes(h, 0, 1)


# ----------------------------------------------------------------------------------------------
# Denoiser-based scores
# ----------------------------------------------------------------------------------------------


class DenoiserScores(NamedTuple):
  """Per-sample scores (m,) from the denoiser's output at σ_det: ‖D(x_t) − x₀‖² and ‖D(x_t) − x_t‖."""

  denoising_error: np.ndarray
  displacement: np.ndarray


def denoiser_scores(denoise: Denoiser, samples, key: jax.Array, *, sigma_det: float = DEFAULT_SIGMA_DET,
                    num_draws: int = 1) -> DenoiserScores:
  """(denoising error, displacement) of each sample at σ_det, each (m,), averaged over draws:

      denoising_error = ‖D(x_t, σ_det) − x₀‖²,   displacement = ‖D(x_t, σ_det) − x_t‖,
      x_t = x₀ + σ_det ε.

  Args:
    denoise: batched ``denoise(x (m, d), σ) -> (m, d)``, as the samplers take (e.g.
      ``diffusion_denoiser(params)``).
    samples, key, sigma_det, num_draws: as ``detection_codes``.
  """
  if not callable(denoise):
    raise ValueError(f"denoise must be a callable denoise(x, sigma), got {type(denoise).__name__}")
  x = _check_samples(samples)
  sigma_det = _check_sigma_det(sigma_det)
  eps = detection_noise(key, x, num_draws)
  errors, moves = [], []
  for k in range(eps.shape[0]):
    y = x + sigma_det * eps[k]
    out = jnp.asarray(denoise(y, jnp.asarray(sigma_det, x.dtype)))
    if out.shape != x.shape:
      raise ValueError(f"denoise must return the samples' shape {tuple(x.shape)}, got {tuple(out.shape)}")
    errors.append(jnp.sum((out - x) ** 2, axis=-1))
    moves.append(jnp.linalg.norm(out - y, axis=-1))
  return DenoiserScores(np.asarray(jnp.mean(jnp.stack(errors), axis=0), np.float64),
                        np.asarray(jnp.mean(jnp.stack(moves), axis=0), np.float64))


def effective_rank(singular_values) -> jax.Array:
  """exp(H(s/Σs)), the entropy-based effective rank of a spectrum (Roy & Vetterli 2007), over the
  last axis: k for k equal singular values, 1 for one; 0 for an all-zero spectrum."""
  s = checks.as_array("singular_values", singular_values)
  if s.ndim == 0:
    raise ValueError("singular_values must have rank >= 1 (the spectrum on the last axis), got a scalar")
  checks.check_array("singular_values", s, ndim=s.ndim)
  checks.check_finite("singular_values", s)
  if checks.is_concrete(s) and s.size and float(np.min(np.asarray(s))) < 0:
    raise ValueError(f"singular_values must be >= 0, got a minimum of {float(np.min(np.asarray(s)))}")
  s = jnp.asarray(s)
  total = jnp.sum(s, axis=-1, keepdims=True)
  q = s / jnp.maximum(total, _TINY)
  ent = -jnp.sum(jnp.where(q > 0, q * jnp.log(jnp.maximum(q, _TINY)), 0.0), axis=-1)
  return jnp.where(total[..., 0] > 0, jnp.exp(ent), 0.0)


def diffusion_jacobian_spectrum(params: DiffusionParams, y, sigma) -> jax.Array:
  """Singular values of the model's Jacobian ∂x̂₀/∂y at one input y (d,), sorted descending, (d,).

      J = W2 diag(exp(g(log σ)) ⊙ 1[W1ᵀy > 0]) W1ᵀ + s I.

  Tied weights (W2 = W1) make J symmetric: with D the diagonal above, its eigenvalues are s + μ_k
  for the eigenvalues μ_k of the p×p matrix D^{1/2} W1ᵀW1 D^{1/2} (p ≤ d), and s for the other
  d − p, so the singular values |s + μ| cost one p×p eigendecomposition. Untied weights (or p > d)
  take the full d×d SVD.
  """
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  y = checks.check_array("y", y, ndim=1)
  checks.check_dim("y", y, 0, params.dim, "the model's dimension d (vmap for batches)")
  checks.check_finite("y", y)
  y = jnp.asarray(y)
  d, p = params.w1.shape
  gate = time_gate(params, sigma)
  diag = gate * (jnp.dot(y, params.w1, precision=HIGHEST) > 0).astype(params.w1.dtype)
  skip = jnp.zeros((), params.w1.dtype) if params.skip is None else params.skip
  if params.w2 is None and p <= d:
    root = jnp.sqrt(diag)
    small = (root[:, None] * jnp.dot(params.w1.T, params.w1, precision=HIGHEST)) * root[None, :]
    mu = jnp.linalg.eigvalsh(small)
    values = jnp.abs(jnp.concatenate([skip + mu, jnp.broadcast_to(skip, (d - p,))]))
  else:
    jac = jnp.dot(params.decoder * diag[None, :], params.w1.T, precision=HIGHEST) + skip * jnp.eye(d)
    values = jnp.linalg.svd(jac, compute_uv=False)
  return jnp.sort(values)[::-1]


def _jacobian_of(denoise: Denoiser, y, sigma) -> jax.Array:
  """∂D/∂y (d, d) at one input y (d,) of a batched denoiser, by forward-mode differentiation."""
  if not callable(denoise):
    raise ValueError(f"denoise must be a callable denoise(x, sigma), got {type(denoise).__name__}")
  y = checks.check_array("y", y, ndim=1)
  checks.check_finite("y", y)
  checks.check_scalar("sigma", sigma, positive=True)
  return jax.jacfwd(lambda v: denoise(v[None, :], sigma)[0])(jnp.asarray(y))


def jacobian_spectrum_of(denoise: Denoiser, y, sigma) -> jax.Array:
  """Singular values of ∂D/∂y at one input y (d,) for any batched denoiser, by forward-mode
  differentiation and an SVD (d JVPs and O(d³)); sorted descending, (d,)."""
  return jnp.linalg.svd(_jacobian_of(denoise, y, sigma), compute_uv=False)


class JacobianSVD(NamedTuple):
  """A denoiser's Jacobian J = ∂D/∂y at one input: its singular values (d,), descending, and the
  left singular vector of the largest, u₁ (d,), unit norm with an arbitrary sign: the direction
  in which the denoiser's output moves most (paper App. B.3: a memorised sample's u₁ is its
  training image)."""

  singular_values: jax.Array
  top_direction: jax.Array


def jacobian_svd_of(denoise: Denoiser, y, sigma) -> JacobianSVD:
  """J = ∂D/∂y at one input y (d,) for any batched denoiser: its singular values and top left
  singular vector (``JacobianSVD``; d JVPs and one full SVD). vmap over inputs."""
  u, s, _ = jnp.linalg.svd(_jacobian_of(denoise, y, sigma))
  return JacobianSVD(s, u[:, 0])


def jacobian_ranks(params: DiffusionParams, samples, key: jax.Array, *, sigma_det: float = DEFAULT_SIGMA_DET,
                   num_draws: int = 1) -> np.ndarray:
  """Effective rank of the model's Jacobian at each re-noised sample x_t, (m,), mean over draws."""
  if not isinstance(params, DiffusionParams):
    raise ValueError(f"params must be a DiffusionParams, got {type(params).__name__}")
  x = _check_samples(samples, params.dim)
  sigma_det = _check_sigma_det(sigma_det)
  eps = detection_noise(key, x, num_draws)
  y = x[None, :, :] + sigma_det * eps
  spectrum = jax.jit(jax.vmap(jax.vmap(lambda v: diffusion_jacobian_spectrum(params, v, sigma_det))))
  return np.asarray(effective_rank(spectrum(y)).mean(axis=0), np.float64)


# ----------------------------------------------------------------------------------------------
# All scores of one model's samples
# ----------------------------------------------------------------------------------------------


class DetectionScores(NamedTuple):
  """Per-sample detection scores of m generated samples, each (m,) float64 (None if not asked).

  Which tail is flagged: ``HIGHER_MEANS_MEMORIZED[name]``. See the module docstring for each.
  """

  std: np.ndarray | None = None
  normalized_std: np.ndarray | None = None
  peak_energy_fraction: np.ndarray | None = None
  l4_l2_ratio: np.ndarray | None = None
  inverse_participation: np.ndarray | None = None
  denoising_error: np.ndarray | None = None
  displacement: np.ndarray | None = None
  jacobian_rank: np.ndarray | None = None
  nearest_distance: np.ndarray | None = None

  def computed(self) -> tuple[str, ...]:
    """Names of the scores that were computed."""
    return tuple(name for name in self._fields if getattr(self, name) is not None)

  def oriented(self, name: str) -> np.ndarray:
    """Score ``name`` signed so that larger means more likely memorised."""
    value = getattr(self, name)
    if value is None:
      raise ValueError(f"score {name!r} was not computed")
    return value if HIGHER_MEANS_MEMORIZED[name] else -value


def detection_scores(params: DiffusionParams, samples, key: jax.Array, *, sigma_det: float = DEFAULT_SIGMA_DET,
                     num_draws: int = 1, gated: bool = False, train_x=None,
                     detectors: tuple[str, ...] | None = None, scale_free_oracle: bool = False) -> DetectionScores:
  """Every detector of ``DETECTORS`` on the same re-noised samples (the same ε for all).

  Args:
    params: ``DiffusionParams``.
    samples: (m, d) generated samples.
    key: PRNG key of the re-noising.
    sigma_det: σ_det > 0 (default 0.1, the authors' code's t = 10).
    num_draws: noise draws per sample, scores averaged over them.
    gated: code scores on the gated code instead of the ungated one.
    train_x: (n, d) training set, needed only by ``nearest_distance`` (the oracle).
    detectors: names to compute (default: all, ``nearest_distance`` only with ``train_x``).
    scale_free_oracle: ``nearest_distance`` between unit-norm rows (for samples fainter than their
      training images, labelled on unit-norm rows) instead of in ℓ2.

  Returns:
    ``DetectionScores``.
  """
  from dae_theory._src.diffusion import diffusion_denoiser

  if detectors is None:
    detectors = DETECTORS if train_x is not None else tuple(n for n in DETECTORS if n != "nearest_distance")
  detectors = tuple(detectors)
  unknown = [n for n in detectors if n not in DETECTORS]
  if unknown:
    raise ValueError(f"detectors must be names from {DETECTORS}, got {unknown}")
  if "nearest_distance" in detectors and train_x is None:
    raise ValueError("train_x is needed for the nearest_distance detector")
  if not isinstance(scale_free_oracle, bool):
    raise ValueError(f"scale_free_oracle must be True or False, got {scale_free_oracle!r}")
  out = {}
  wanted_codes = [n for n in detectors if n in CODE_SCORES]
  if wanted_codes:
    codes = detection_codes(params, samples, key, sigma_det=sigma_det, num_draws=num_draws, gated=gated)
    for name in wanted_codes:
      out[name] = code_scores(codes, name)
  if "denoising_error" in detectors or "displacement" in detectors:
    error, move = denoiser_scores(diffusion_denoiser(params), samples, key, sigma_det=sigma_det,
                                  num_draws=num_draws)
    if "denoising_error" in detectors:
      out["denoising_error"] = error
    if "displacement" in detectors:
      out["displacement"] = move
  if "jacobian_rank" in detectors:
    out["jacobian_rank"] = jacobian_ranks(params, samples, key, sigma_det=sigma_det, num_draws=num_draws)
  if "nearest_distance" in detectors:
    ev = evaluate_samples(samples, train_x)
    out["nearest_distance"] = ev.nearest_distance_scale_free if scale_free_oracle else ev.nearest_distance
  return DetectionScores(**out)


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


class DetectionMetrics(NamedTuple):
  """How well one score separates memorised (positive) from other (negative) samples.

  Attributes:
    auroc: P(s₊ > s₋) + ½ P(s₊ = s₋).
    auroc_low, auroc_high: percentile bootstrap interval of the AUROC.
    tpr: the share of positives above the (1 − fpr) quantile of the negatives.
    tpr_low, tpr_high: its bootstrap interval.
    fpr: the false-positive rate the TPR is read at.
    num_positive, num_negative: sample counts.
  """

  auroc: float
  auroc_low: float
  auroc_high: float
  tpr: float
  tpr_low: float
  tpr_high: float
  fpr: float
  num_positive: int
  num_negative: int


def _check_scores(name: str, scores) -> np.ndarray:
  s = checks.check_array(name, scores, ndim=1)
  s = np.asarray(s, np.float64)
  if s.size < 2:
    raise ValueError(f"{name} must hold at least 2 scores, got {s.size}")
  if not np.isfinite(s).all():
    raise ValueError(f"{name} must be finite, got NaN or inf")
  return s


def detection_metrics(scores_positive, scores_negative, *, fpr: float = 0.01, num_bootstrap: int = 1000,
                      level: float = 0.95, seed: int = 0) -> DetectionMetrics:
  """AUROC and TPR at ``fpr`` (paper Table 1) with percentile bootstrap intervals.

  Scores are oriented (larger = flagged; use ``DetectionScores.oriented``). Each of the B
  bootstrap rounds resamples positives and negatives independently, with replacement.

  Args:
    scores_positive: (m₊,) scores of memorised samples, m₊ ≥ 2.
    scores_negative: (m₋,) scores of the others, m₋ ≥ 2.
    fpr: in [0, 1) (0.01: threshold = the 99th percentile of the negatives).
    num_bootstrap: B ≥ 1.
    level: interval coverage in (0, 1).
    seed: seed of the NumPy Generator (deterministic).
  """
  pos = _check_scores("scores_positive", scores_positive)
  neg = _check_scores("scores_negative", scores_negative)
  checks.check_scalar("fpr", fpr, nonnegative=True)
  if not float(fpr) < 1.0:
    raise ValueError(f"fpr must be in [0, 1), got {fpr}")
  num_bootstrap = checks.check_int("num_bootstrap", num_bootstrap)
  checks.check_scalar("level", level, positive=True)
  if not float(level) < 1.0:
    raise ValueError(f"level must be in (0, 1), got {level}")
  seed = checks.check_seed("seed", seed)
  rng = np.random.default_rng(seed)
  boot_auc, boot_tpr = np.empty(num_bootstrap), np.empty(num_bootstrap)
  for b in range(num_bootstrap):
    p = pos[rng.integers(0, pos.size, pos.size)]
    n = neg[rng.integers(0, neg.size, neg.size)]
    boot_auc[b] = auroc(p, n)
    boot_tpr[b] = tpr_at_fpr(p, n, fpr)
  q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
  a_lo, a_hi = np.quantile(boot_auc, q)
  t_lo, t_hi = np.quantile(boot_tpr, q)
  return DetectionMetrics(auroc(pos, neg), float(a_lo), float(a_hi), tpr_at_fpr(pos, neg, fpr), float(t_lo),
                          float(t_hi), float(fpr), int(pos.size), int(neg.size))


class RocCurve(NamedTuple):
  """An ROC curve: false-positive rates fpr (k,) and true-positive rates tpr (k,), from (0, 0) to (1, 1)."""

  fpr: np.ndarray
  tpr: np.ndarray


def roc_curve(scores_positive, scores_negative) -> RocCurve:
  """(false-positive rates, true-positive rates) of every threshold, from (0, 0) to (1, 1),
  for oriented scores (larger = flagged); ties move both rates at once."""
  pos = _check_scores("scores_positive", scores_positive)
  neg = _check_scores("scores_negative", scores_negative)
  values = np.concatenate([pos, neg])
  is_pos = np.concatenate([np.ones(pos.size, bool), np.zeros(neg.size, bool)])
  order = np.argsort(-values, kind="mergesort")
  values, is_pos = values[order], is_pos[order]
  last_of_tie = np.r_[values[1:] != values[:-1], True]
  tp = np.cumsum(is_pos)[last_of_tie]
  fp = np.cumsum(~is_pos)[last_of_tie]
  return RocCurve(np.r_[0.0, fp / neg.size], np.r_[0.0, tp / pos.size])
