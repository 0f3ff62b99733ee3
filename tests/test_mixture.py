import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt


def dense_reference(y, means, weights, covs, sigma):
  """NumPy float64 f_gt from explicit d×d inverses and log-determinants."""
  y = np.atleast_2d(y)
  k, d = means.shape
  logj, post = [], []
  for j in range(k):
    c = covs[j] + sigma ** 2 * np.eye(d)
    ci = np.linalg.inv(c)
    v = y - means[j]
    quad = np.einsum("md,de,me->m", v, ci, v)
    logdet = np.linalg.slogdet(c)[1]
    logj.append(np.log(weights[j]) - 0.5 * (quad + logdet + d * np.log(2 * np.pi)))
    post.append(means[j] + v @ (covs[j] @ ci).T)
  logj = np.stack(logj, 1)
  lse = logj.max(1, keepdims=True) + np.log(np.exp(logj - logj.max(1, keepdims=True)).sum(1, keepdims=True))
  resp = np.exp(logj - lse)
  return np.einsum("mk,kmd->md", resp, np.stack(post)), resp, lse[:, 0]


def _mixture(key, d=6, k=3, rank=2, iso=0.05, weights=(0.5, 0.3, 0.2)):
  dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
  return dt.gaussian_mixture(key, k, d, mean_norm=2.0, rank=rank, cov_scale=0.7, iso_var=iso, weights=weights,
                             dtype=dtype)


def test_matches_dense_float64_reference(x64, rng):
  for iso in (0.0, 0.05):
    mix = _mixture(jax.random.PRNGKey(1), iso=iso)
    covs = np.asarray(mix.covariances())
    y = rng.normal(size=(25, 6)) * 1.5
    for sigma in (0.05, 0.3, 2.0):
      ref, resp, lse = dense_reference(y, np.asarray(mix.means), np.asarray(mix.weights), covs, sigma)
      post = dt.gmm_posterior(y, mix, sigma)
      where = f"iso_var={iso}, sigma={sigma}"
      np.testing.assert_allclose(post.denoised, ref, rtol=1e-10, atol=1e-12,
                                 err_msg=f"f_gt must match the dense float64 reference ({where})")
      np.testing.assert_allclose(post.responsibilities, resp, rtol=1e-9, atol=1e-14,
                                 err_msg=f"responsibilities must match the dense float64 reference ({where})")
      np.testing.assert_allclose(post.log_evidence, lse, rtol=1e-10,
                                 err_msg=f"log evidence must match the dense float64 reference ({where})")


def test_full_covariance_constructor_agrees_with_low_rank(x64, rng):
  mix = _mixture(jax.random.PRNGKey(2))
  full = dt.GaussianMixture.from_covariances(mix.means, mix.weights, mix.covariances())
  assert full.rank == 6, f"a full-covariance mixture in d = 6 must have rank 6, got {full.rank}"
  y = rng.normal(size=(10, 6))
  np.testing.assert_allclose(dt.gmm_denoiser(y, full, 0.4), dt.gmm_denoiser(y, mix, 0.4), rtol=1e-9, atol=1e-12,
                             err_msg="full-covariance and low-rank forms of one mixture must denoise alike")


def test_one_mode_is_the_wiener_filter(x64, rng):
  a = rng.normal(size=(5, 5))
  cov = a @ a.T
  mean = rng.normal(size=5)
  y = rng.normal(size=(7, 5))
  mix = dt.GaussianMixture.from_covariances(mean[None], np.ones(1), cov[None])
  wiener = dt.wiener_denoiser(y, mean, cov, 0.5)
  np.testing.assert_allclose(dt.gmm_denoiser(y, mix, 0.5), wiener, rtol=1e-10,
                             err_msg="a one-mode mixture must denoise as the Wiener filter")
  explicit = mean + (y - mean) @ (cov @ np.linalg.inv(cov + 0.25 * np.eye(5))).T
  np.testing.assert_allclose(wiener, explicit, rtol=1e-10,
                             err_msg="Wiener filter must be mu + C (C + sigma^2 I)^-1 (y - mu)")
  chex.assert_shape(dt.wiener_denoiser(y[0], mean, cov, 0.5), (5,))


def test_matches_quadrature_in_two_dimensions(x64):
  """E[x|y] by numerical integration over a fine 2-D grid (independent of any Gaussian algebra)."""
  means = np.array([[1.5, 0.0], [-0.75, 1.3]])
  covs = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.15, -0.05], [-0.05, 0.25]]])
  weights = np.array([0.6, 0.4])
  mix = dt.GaussianMixture.from_covariances(means, weights, covs)
  g = np.linspace(-5, 5, 1001)
  gx, gy = np.meshgrid(g, g, indexing="ij")
  pts = np.stack([gx.ravel(), gy.ravel()], 1)
  prior = np.zeros(pts.shape[0])
  for m, c, w in zip(means, covs, weights):
    v = pts - m
    prior += w * np.exp(-0.5 * np.einsum("nd,de,ne->n", v, np.linalg.inv(c), v)) / (2 * np.pi * np.sqrt(np.linalg.det(c)))
  sigma = 0.4
  ys = np.array([[0.3, 0.2], [1.0, -0.5], [-1.0, 1.5], [0.2, 0.9]])
  for y in ys:
    lik = prior * np.exp(-((pts - y) ** 2).sum(1) / (2 * sigma ** 2))
    expected = (pts * lik[:, None]).sum(0) / lik.sum()
    np.testing.assert_allclose(dt.gmm_denoiser(y, mix, sigma), expected, atol=1e-7,
                               err_msg=f"f_gt({y}) must match E[x|y] by 2-D quadrature")


def test_agrees_with_empirical_denoiser_on_a_large_sample(rng):
  """Monte Carlo: f_emp on n = 4·10⁵ draws from the mixture estimates E[x|y]; 5 standard errors."""
  mix = _mixture(jax.random.PRNGKey(3), d=3, rank=2, iso=0.02)
  data = dt.sample_mixture(jax.random.PRNGKey(4), mix, 400_000)
  x = np.asarray(data.x, np.float64)
  sigma = 0.5
  y = x[:12] + sigma * rng.normal(size=(12, 3))
  got = np.asarray(dt.gmm_denoiser(y, mix, sigma))
  d2 = ((y[:, None] - x[None]) ** 2).sum(-1)
  logits = -d2 / (2 * sigma ** 2)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  est = p @ x
  # Standard error of a self-normalised importance estimate: sqrt(Σ p_i² ‖x_i − est‖²) per coordinate.
  se = np.sqrt(np.einsum("mn,mnd->md", p ** 2, (x[None] - est[:, None]) ** 2))
  z = np.abs(est - got) / se
  assert z.max() < 5, f"f_gt must lie within 5 standard errors of the Monte Carlo E[x|y], got z = {z.max():.3g}"
  np.testing.assert_allclose(dt.empirical_denoiser(y, x.astype(np.float32), sigma), est, atol=1e-4,
                             err_msg="float32 f_emp must match the NumPy importance estimate")


def test_posterior_mean_residual_is_orthogonal_to_functions_of_y(rng):
  """Monte Carlo over the joint law: E[(x − f_gt(y)) g(y)] = 0 for any g (defines E[x|y])."""
  mix = _mixture(jax.random.PRNGKey(5), d=4, rank=2, iso=0.01)
  n, sigma = 200_000, 0.6
  data = dt.sample_mixture(jax.random.PRNGKey(6), mix, n)
  x = np.asarray(data.x, np.float64)
  y = x + sigma * rng.normal(size=x.shape)
  post = dt.gmm_posterior(y.astype(np.float32), mix, sigma)
  r = x - np.asarray(post.denoised, np.float64)
  tests = np.concatenate([np.ones((n, 1)), y, y ** 2, np.asarray(post.responsibilities, np.float64)], 1)
  prod = r[:, :, None] * tests[:, None, :]  # (n, d, g)
  z = prod.mean(0) / (prod.std(0) / np.sqrt(n))
  assert np.abs(z).max() < 5, (
      f"x - f_gt(y) must be orthogonal to functions of y within 5 standard errors, got |z| = {np.abs(z).max():.3g}")
  # A wrong denoiser (the Wiener filter of the moment-matched single Gaussian) fails this test.
  mean = x.mean(0)
  lin = np.asarray(dt.wiener_denoiser(y, mean, np.cov(x.T), sigma), np.float64)
  prod_bad = (x - lin)[:, :, None] * tests[:, None, :]
  z_bad = prod_bad.mean(0) / (prod_bad.std(0) / np.sqrt(n))
  assert np.abs(z_bad).max() > 20, (
      f"the moment-matched Wiener filter must fail the orthogonality test (|z| > 20), got {np.abs(z_bad).max():.3g}")


def test_sample_moments_match_parameters():
  mix = _mixture(jax.random.PRNGKey(7), d=5, weights=(0.7, 0.2, 0.1))
  data = dt.sample_mixture(jax.random.PRNGKey(8), mix, 100_000)
  x, lab = np.asarray(data.x, np.float64), np.asarray(data.labels)
  np.testing.assert_allclose(np.bincount(lab) / lab.size, [0.7, 0.2, 0.1], atol=0.01,
                             err_msg="label frequencies must match the mixture weights")
  covs = np.asarray(mix.covariances())
  for k in range(3):
    xk = x[lab == k]
    np.testing.assert_allclose(xk.mean(0), mix.means[k], atol=0.03, err_msg=f"sample mean of mode {k}")
    np.testing.assert_allclose(np.cov(xk.T), covs[k], atol=0.03, err_msg=f"sample covariance of mode {k}")
  exact = dt.sample_mixture(jax.random.PRNGKey(9), mix, 1000, exact_counts=True)
  np.testing.assert_array_equal(np.bincount(np.asarray(exact.labels)), [700, 200, 100],
                                err_msg="exact_counts must give n * weights samples per mode")


def test_second_moments():
  mix = _mixture(jax.random.PRNGKey(10))
  s = np.asarray(mix.second_moments())
  mu = np.asarray(mix.means)
  np.testing.assert_allclose(s[1], np.outer(mu[1], mu[1]) + np.asarray(mix.covariances())[1], rtol=1e-5,
                             err_msg="second moment must be mu mu^T + Sigma")


def test_bad_input():
  mix = _mixture(jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="sigma must be > 0"):
    dt.gmm_denoiser(np.zeros(6), mix, 0.0)
  with pytest.raises(ValueError, match="y must have 6 entries"):
    dt.gmm_denoiser(np.zeros(5), mix, 0.2)
  with pytest.raises(ValueError, match="weights must be >= 0 and sum to 1"):
    dt.gmm_denoiser(np.zeros(6), mix._replace(weights=jnp.array([0.5, 0.5, 0.5])), 0.2)
  with pytest.raises(ValueError, match="mixture.factors must have shape"):
    dt.gmm_denoiser(np.zeros(6), mix._replace(factors=jnp.zeros((3, 5, 2))), 0.2)
  with pytest.raises(ValueError, match="mixture.iso_var must be >= 0"):
    dt.gmm_denoiser(np.zeros(6), mix._replace(iso_var=-jnp.ones(3)), 0.2)
  with pytest.raises(ValueError, match="mixture must be a GaussianMixture"):
    dt.gmm_denoiser(np.zeros(6), (1, 2), 0.2)
  with pytest.raises(ValueError, match="y must be finite"):
    dt.gmm_denoiser(np.full(6, np.nan), mix, 0.2)
  with pytest.raises(ValueError, match="covariance must have shape"):
    dt.wiener_denoiser(np.zeros(3), np.zeros(3), np.eye(4), 0.2)
  with pytest.raises(ValueError, match="positive semi-definite"):
    dt.GaussianMixture.from_covariances(np.zeros((1, 2)), np.ones(1), -np.eye(2)[None])
