"""Gaussian mixtures p = Σ_k ρ_k N(μ_k, Σ_k) (paper eq. 4), with low-rank-plus-isotropic covariances.

Every covariance is stored as Σ_k = F_k F_kᵀ + s_k I with a factor F_k of shape (d, r): a
rank-r mode has s_k = 0 and r ≪ d, and a full covariance is F_k = its symmetric square root
(r = d, see ``GaussianMixture.from_covariances``). Densities and posteriors go through the
Woodbury identity, so nothing of size d×d is inverted when r is small.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dae_theory._src import checks

HIGHEST = jax.lax.Precision.HIGHEST


class GaussianMixture(NamedTuple):
  """Mixture parameters (a pytree).

  Attributes:
    means: (K, d) mode means μ_k.
    weights: (K,) mixing weights ρ_k, non-negative, summing to 1.
    factors: (K, d, r) covariance factors F_k.
    iso_var: (K,) isotropic variances s_k ≥ 0; Σ_k = F_k F_kᵀ + s_k I.
  """

  means: jax.Array
  weights: jax.Array
  factors: jax.Array
  iso_var: jax.Array

  @property
  def num_modes(self) -> int:
    return self.means.shape[0]

  @property
  def dim(self) -> int:
    return self.means.shape[1]

  @property
  def rank(self) -> int:
    return self.factors.shape[2]

  def covariances(self) -> jax.Array:
    """Dense Σ_k, (K, d, d). For checks and small d only."""
    f = self.factors
    eye = jnp.eye(self.dim, dtype=f.dtype)
    return jnp.einsum("kdr,ker->kde", f, f, precision=HIGHEST) + self.iso_var[:, None, None] * eye[None]

  def second_moments(self) -> jax.Array:
    """S_k = μ_k μ_kᵀ + Σ_k, (K, d, d): what a bias-free block learns (Cor 3.3)."""
    mu = self.means
    return jnp.einsum("kd,ke->kde", mu, mu, precision=HIGHEST) + self.covariances()

  @classmethod
  def from_covariances(cls, means, weights, covariances) -> "GaussianMixture":
    """A mixture from dense covariances (K, d, d); stores F_k = Σ_k^{1/2} (symmetric PSD root)."""
    means = checks.check_array("means", means, ndim=2)
    covariances = checks.check_array("covariances", covariances, ndim=3)
    k, d = means.shape
    if covariances.shape != (k, d, d):
      raise ValueError(f"covariances must have shape (K, d, d) = {(k, d, d)}, got {tuple(covariances.shape)}")
    cov = jnp.asarray(covariances)
    cov = 0.5 * (cov + jnp.swapaxes(cov, 1, 2))
    evals, evecs = jnp.linalg.eigh(cov)
    if checks.is_concrete(evals) and bool((evals < -1e-6 * jnp.maximum(1.0, jnp.abs(evals).max())).any()):
      raise ValueError("covariances must be positive semi-definite; one has a negative eigenvalue")
    root = jnp.einsum("kdr,kr,ker->kde", evecs, jnp.sqrt(jnp.clip(evals, 0.0)), evecs, precision=HIGHEST)
    mixture = cls(jnp.asarray(means), jnp.asarray(weights), root, jnp.zeros((k,), cov.dtype))
    check_mixture(mixture)
    return mixture


def check_mixture(mixture, name: str = "mixture") -> GaussianMixture:
  """Validates shapes and values of a ``GaussianMixture``."""
  if not isinstance(mixture, GaussianMixture):
    raise ValueError(f"{name} must be a GaussianMixture, got {type(mixture).__name__}")
  means = checks.check_array(f"{name}.means", mixture.means, ndim=2)
  k, d = means.shape
  checks.check_nonempty(f"{name}.means", means)
  w = checks.check_array(f"{name}.weights", mixture.weights, ndim=1)
  checks.check_dim(f"{name}.weights", w, 0, k, "one weight per mode")
  f = checks.check_array(f"{name}.factors", mixture.factors, ndim=3)
  if f.shape[:2] != (k, d):
    raise ValueError(f"{name}.factors must have shape (K, d, r) with (K, d) = {(k, d)}, got {tuple(f.shape)}")
  s = checks.check_array(f"{name}.iso_var", mixture.iso_var, ndim=1)
  checks.check_dim(f"{name}.iso_var", s, 0, k, "one isotropic variance per mode")
  for field in ("means", "weights", "factors", "iso_var"):
    checks.check_finite(f"{name}.{field}", getattr(mixture, field))
  if checks.is_concrete(w) and checks.is_concrete(s):
    wn, sn = np.asarray(w, np.float64), np.asarray(s, np.float64)
    if (wn < 0).any() or abs(wn.sum() - 1.0) > 1e-5:
      raise ValueError(f"{name}.weights must be >= 0 and sum to 1, got sum {wn.sum():.6g} and min {wn.min():.3g}")
    if (sn < 0).any():
      raise ValueError(f"{name}.iso_var must be >= 0, got min {sn.min():.3g}")
  return mixture


def _woodbury_cholesky(factors, iso_var, sigma2):
  """Cholesky of G_k = τ_k I_r + F_kᵀF_k and log det(F_kF_kᵀ + τ_k I_d), τ_k = s_k + σ²."""
  _, d, r = factors.shape
  tau = iso_var + sigma2
  gram = jnp.einsum("kdr,kds->krs", factors, factors, precision=HIGHEST)
  g = gram + tau[:, None, None] * jnp.eye(r, dtype=factors.dtype)[None]
  chol = jnp.linalg.cholesky(g)
  logdet = (d - r) * jnp.log(tau) + 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=1, axis2=2)), axis=1)
  return chol, logdet, tau


def _component_terms(y, mean, factor, tau, chol, logdet):
  """log N(y; μ, C) and C⁻¹(y − μ) for C = FFᵀ + τI, through Woodbury."""
  v = y - mean
  ftv = jnp.dot(v, factor, precision=HIGHEST)
  z = jax.scipy.linalg.cho_solve((chol, True), ftv)
  cinv_v = (v - jnp.dot(factor, z, precision=HIGHEST)) / tau
  quad = jnp.dot(v, cinv_v, precision=HIGHEST)
  logpdf = -0.5 * (quad + logdet + y.shape[0] * jnp.log(2.0 * jnp.pi))
  return logpdf, cinv_v


def _gmm_posterior_one(y, mixture, sigma2, chol, logdet, tau):
  logpdf, cinv_v = jax.vmap(_component_terms, in_axes=(None, 0, 0, 0, 0, 0))(
      y, mixture.means, mixture.factors, tau, chol, logdet)
  log_joint = jnp.log(mixture.weights) + logpdf
  log_evidence = jax.scipy.special.logsumexp(log_joint)
  resp = jnp.exp(log_joint - log_evidence)
  denoised = y - sigma2 * jnp.dot(resp, cinv_v, precision=HIGHEST)
  return denoised, resp, log_evidence


class MixturePosterior(NamedTuple):
  """Posterior of a noisy y = x + σε under a Gaussian mixture prior.

  Attributes:
    denoised: E[x | y], shape (d,) or (m, d).
    responsibilities: π_k(y) ∝ ρ_k N(y; μ_k, Σ_k + σ²I), shape (K,) or (m, K).
    log_evidence: log p_σ(y) = log Σ_k ρ_k N(y; μ_k, Σ_k + σ²I), shape () or (m,).
  """

  denoised: jax.Array
  responsibilities: jax.Array
  log_evidence: jax.Array


@jax.jit
def _gmm_posterior_batch(y, mixture, sigma):
  sigma2 = sigma ** 2
  chol, logdet, tau = _woodbury_cholesky(mixture.factors, mixture.iso_var, sigma2)
  return jax.vmap(_gmm_posterior_one, in_axes=(0, None, None, None, None, None))(
      y, mixture, sigma2, chol, logdet, tau)


def gmm_posterior(y, mixture: GaussianMixture, sigma) -> MixturePosterior:
  """Tweedie posterior mean and mode responsibilities under a Gaussian mixture (paper eq. 4 with Tweedie's formula).

      f_gt(y) = Σ_k π_k(y) [μ_k + Σ_k (Σ_k + σ²I)⁻¹ (y − μ_k)] = y − σ² Σ_k π_k(y) (Σ_k + σ²I)⁻¹ (y − μ_k),
      π_k(y) ∝ ρ_k N(y; μ_k, Σ_k + σ²I)   (normalised by log-sum-exp).

  Args:
    y: noisy input(s), (d,) or (m, d).
    mixture: the prior ``GaussianMixture``.
    sigma: noise level σ > 0.

  Returns:
    ``MixturePosterior`` with leading shapes matching y.
  """
  check_mixture(mixture)
  y = checks.check_array("y", y, ndim=(1, 2))
  checks.check_dim("y", y, y.ndim - 1, mixture.dim, "the mixture's dimension d")
  checks.check_finite("y", y)
  checks.check_scalar("sigma", sigma, positive=True)
  dtype = checks.float_dtype(y, mixture.means)
  mixture = GaussianMixture(*(jnp.asarray(a, dtype) for a in mixture))
  yb = jnp.asarray(y, dtype).reshape(-1, mixture.dim)
  out = _gmm_posterior_batch(yb, mixture, jnp.asarray(sigma, dtype))
  if y.ndim == 1:
    out = jax.tree.map(lambda a: a[0], out)
  return MixturePosterior(*out)


def gmm_denoiser(y, mixture: GaussianMixture, sigma) -> jax.Array:
  """Ground-truth denoiser f_gt(y) = E[x | x + σε = y] for a Gaussian mixture (paper eq. 4).

  See ``gmm_posterior`` for the formula. y: (d,) or (m, d); returns the same shape.
  """
  return gmm_posterior(y, mixture, sigma).denoised


def wiener_denoiser(y, mean, covariance, sigma) -> jax.Array:
  """Linear Gaussian (Wiener) denoiser for x ~ N(μ, Σ): μ + Σ (Σ + σ²I)⁻¹ (y − μ).

  Args:
    y: noisy input(s), (d,) or (m, d).
    mean: μ, (d,).
    covariance: Σ, (d, d), positive semi-definite.
    sigma: noise level σ > 0.

  Returns:
    The posterior mean, same shape as y.
  """
  y = checks.check_array("y", y, ndim=(1, 2))
  mean = checks.check_array("mean", mean, ndim=1)
  covariance = checks.check_array("covariance", covariance, ndim=2)
  d = mean.shape[0]
  checks.check_dim("y", y, y.ndim - 1, d, "the dimension of mean")
  if covariance.shape != (d, d):
    raise ValueError(f"covariance must have shape (d, d) = {(d, d)}, got {tuple(covariance.shape)}")
  checks.check_scalar("sigma", sigma, positive=True)
  for name, a in (("y", y), ("mean", mean), ("covariance", covariance)):
    checks.check_finite(name, a)
  dtype = checks.float_dtype(y, mean, covariance)
  y, mean, covariance = (jnp.asarray(a, dtype) for a in (y, mean, covariance))
  chol = jnp.linalg.cholesky(covariance + sigma ** 2 * jnp.eye(d, dtype=dtype))
  v = y.reshape(-1, d) - mean[None, :]
  cinv_v = jax.scipy.linalg.cho_solve((chol, True), v.T).T
  return (y.reshape(-1, d) - sigma ** 2 * cinv_v).reshape(y.shape)
