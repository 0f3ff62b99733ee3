import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from dae_theory._src.noise import standard_normal


def _ks_statistic(z):
  z = np.sort(np.asarray(z, np.float64))
  with jax.enable_x64(True):
    cdf = np.asarray(norm.cdf(jnp.asarray(z)))
  n = z.size
  return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def test_standard_normal_moments_and_ks():
  z = np.asarray(standard_normal(jax.random.key(0), (400, 785)), np.float64).ravel()  # odd width
  n = z.size
  assert abs(z.mean()) < 5 / np.sqrt(n)
  assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
  assert abs(np.mean(z ** 3)) < 5 * np.sqrt(15 / n)
  assert abs(np.mean(z ** 4) - 3) < 5 * np.sqrt(96 / n)
  # Kolmogorov–Smirnov against Φ: the 0.1 % critical value is 1.95/√n.
  assert _ks_statistic(z) < 1.95 / np.sqrt(n)
  # A wrong law fails the same test (a t-distribution with 10 dof, scaled to unit variance).
  t = np.random.default_rng(0).standard_t(10, size=n) / np.sqrt(10 / 8)
  assert _ks_statistic(t) > 1.95 / np.sqrt(n)


def test_words_of_one_hash_and_neighbours_are_uncorrelated():
  z = np.asarray(standard_normal(jax.random.key(1), (20_000, 64)), np.float64)
  n = z.shape[0]
  even, odd = z[:, 0::2].ravel(), z[:, 1::2].ravel()  # the two words of the same Threefry call
  assert abs(np.corrcoef(even, odd)[0, 1]) < 5 / np.sqrt(even.size)
  assert abs(np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]) < 5 / np.sqrt(z.size)
  assert abs(np.corrcoef(even ** 2, odd ** 2)[0, 1]) < 5 / np.sqrt(even.size)
  # Different keys give independent streams.
  w = np.asarray(standard_normal(jax.random.key(2), (20_000, 64)), np.float64)
  assert abs(np.corrcoef(z.ravel(), w.ravel())[0, 1]) < 5 / np.sqrt(z.size)
  assert n == 20_000


def test_row_prefix_property_and_determinism():
  key = jax.random.key(3)
  big = standard_normal(key, (50, 9))
  np.testing.assert_array_equal(standard_normal(key, (7, 9)), big[:7])
  np.testing.assert_array_equal(standard_normal(key, (50, 9)), big)
  assert standard_normal(key, (2, 3, 5)).shape == (2, 3, 5)
  assert standard_normal(jax.random.fold_in(key, 1), (7, 9)).dtype == jnp.float32
  assert not np.allclose(standard_normal(jax.random.fold_in(key, 1), (7, 9)), big[:7])
