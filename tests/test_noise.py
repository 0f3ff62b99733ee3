import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import norm

from jax.extend.random import threefry2x32_p

from dae_theory._src.noise import standard_normal, standard_normal_box_muller, threefry2x32

SAMPLERS = [standard_normal, standard_normal_box_muller]


def _ks_statistic(z):
  z = np.sort(np.asarray(z, np.float64))
  with jax.enable_x64(True):
    cdf = np.asarray(norm.cdf(jnp.asarray(z)))
  n = z.size
  return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_standard_normal_moments_and_ks(sampler):
  z = np.asarray(sampler(jax.random.key(0), (400, 785)), np.float64).ravel()  # odd width
  n = z.size
  for name, got, want, bound in (("mean", z.mean(), 0.0, 5 / np.sqrt(n)), ("variance", z.var(), 1.0, 5 * np.sqrt(2 / n)),
                                  ("third moment", np.mean(z ** 3), 0.0, 5 * np.sqrt(15 / n)),
                                  ("fourth moment", np.mean(z ** 4), 3.0, 5 * np.sqrt(96 / n))):
    assert abs(got - want) < bound, f"{name} must be {want} within 5 SE = {bound:.3g}, got {got:.6g}"
  # Kolmogorov–Smirnov against Φ: the 0.1 % critical value is 1.95/√n.
  ks, crit = _ks_statistic(z), 1.95 / np.sqrt(n)
  assert ks < crit, f"KS statistic against Phi must be below the 0.1 % critical value {crit:.3g}, got {ks:.3g}"
  # A wrong law fails the same test (a t-distribution with 10 dof, scaled to unit variance).
  t = np.random.default_rng(0).standard_t(10, size=n) / np.sqrt(10 / 8)
  ks_t = _ks_statistic(t)
  assert ks_t > crit, f"a t(10) sample must fail the KS test (> {crit:.3g}), got {ks_t:.3g}"


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_words_of_one_hash_and_neighbours_are_uncorrelated(sampler):
  z = np.asarray(sampler(jax.random.key(1), (20_000, 64)), np.float64)
  if sampler is standard_normal:  # the two values made from the same Threefry call
    even, odd = z[:, 0::2].ravel(), z[:, 1::2].ravel()
  else:  # Box–Muller's r cos θ and r sin θ
    even, odd = z[:, :32].ravel(), z[:, 32:].ravel()
  r = np.corrcoef(even, odd)[0, 1]
  assert abs(r) < 5 / np.sqrt(even.size), f"paired values must be uncorrelated (|r| < {5 / np.sqrt(even.size):.3g}), got {r:.3g}"
  r = np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]
  assert abs(r) < 5 / np.sqrt(z.size), f"neighbouring rows must be uncorrelated (|r| < {5 / np.sqrt(z.size):.3g}), got {r:.3g}"
  r = np.corrcoef(even ** 2, odd ** 2)[0, 1]
  assert abs(r) < 5 / np.sqrt(even.size), (
      f"squares of paired values must be uncorrelated (|r| < {5 / np.sqrt(even.size):.3g}), got {r:.3g}")
  # Different keys give independent streams.
  w = np.asarray(sampler(jax.random.key(2), (20_000, 64)), np.float64)
  r = np.corrcoef(z.ravel(), w.ravel())[0, 1]
  assert abs(r) < 5 / np.sqrt(z.size), f"streams of different keys must be uncorrelated (|r| < {5 / np.sqrt(z.size):.3g}), got {r:.3g}"


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_row_prefix_property_and_determinism(sampler):
  key = jax.random.key(3)
  draw = jax.jit(sampler, static_argnums=1)
  big = draw(key, (50, 9))
  np.testing.assert_array_equal(draw(key, (7, 9)), big[:7], err_msg="the first 7 rows must not depend on the row count")
  np.testing.assert_array_equal(draw(key, (50, 9)), big, err_msg="the same key must give the same draws")
  # Op by op, XLA may round Box–Muller's float32 arithmetic differently: within 1 ulp.
  np.testing.assert_allclose(sampler(key, (50, 9)), big, rtol=2.4e-7, atol=1.2e-7,
                             err_msg="op-by-op and jitted draws must agree within 1 ulp")
  chex.assert_shape(sampler(key, (2, 3, 5)), (2, 3, 5))
  chex.assert_type(sampler(jax.random.fold_in(key, 1), (7, 9)), jnp.float32)
  assert not np.allclose(sampler(jax.random.fold_in(key, 1), (7, 9)), big[:7]), "another key must give other draws"


def test_unrolled_threefry_matches_random123_answers_and_jax_primitive_bit_for_bit():
  # Known-answer vectors of Threefry-2x32-20 (Random123's kat_vectors).
  kat = [((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
         ((0xFFFFFFFF,) * 2, (0xFFFFFFFF,) * 2, (0x1CB996FC, 0xBB002BE7)),
         ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0))]
  for key, count, expected in kat:
    words = threefry2x32(*(jnp.uint32(v) for v in key + count))
    got = tuple(int(w) for w in words)
    assert got == expected, (
        f"Threefry-2x32-20 of key {key}, counter {count}: expected {tuple(map(hex, expected))}, got {tuple(map(hex, got))}")
  rng = np.random.default_rng(0)
  k1, k2 = (jnp.uint32(v) for v in rng.integers(0, 2 ** 32, 2))
  c1, c2 = (jnp.asarray(rng.integers(0, 2 ** 32, (300, 7)), jnp.uint32) for _ in range(2))
  ours = jax.jit(threefry2x32)(k1, k2, c1, c2)
  theirs = jax.jit(threefry2x32_p.bind)(k1, k2, c1, c2)
  for a, b in zip(ours, theirs):
    np.testing.assert_array_equal(a, b, err_msg="the unrolled Threefry must match JAX's primitive bit for bit")


def test_box_muller_matches_a_float64_reference_from_the_same_words():
  key = jax.random.key(4)
  rows, cols = 3000, 101
  z = np.asarray(standard_normal_box_muller(key, (rows, cols)), np.float64)
  pairs = (cols + 1) // 2
  data = np.asarray(jax.random.key_data(key))
  row, col = np.meshgrid(np.arange(rows, dtype=np.uint32), np.arange(pairs, dtype=np.uint32), indexing="ij")
  w1, w2 = (np.asarray(w, np.uint64) for w in threefry2x32_p.bind(*(jnp.uint32(v) for v in data), row, col))
  u = 1.0 - (w1 >> 9).astype(np.float64) / 2 ** 23
  quadrant = (w2 >> 30).astype(np.float64)
  t = ((w2 << 2) % 2 ** 32 >> 9).astype(np.float64) / 2 ** 23
  theta = quadrant * np.pi / 2 + (t - 0.5) * np.pi / 2
  radius = np.sqrt(-2.0 * np.log(u))
  reference = np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1)[:, :cols]
  # float32 log, sqrt and the sin/cos polynomials: a few ulp of |z| (≤ 5.65).
  np.testing.assert_allclose(z, reference, rtol=0, atol=2e-6, err_msg="Box-Muller must match the float64 reference")
  top, bound = np.max(np.abs(z)), np.sqrt(46 * np.log(2)) + 1e-5
  assert top <= bound, f"|z| must stay within sqrt(-2 log 2^-23) = {bound:.6f}, got {top:.6f}"


def test_standard_normal_is_erfinv_of_the_words_of_counter_row_and_column_pair():
  # Column 2j holds word 1 and column 2j + 1 word 2 of Threefry(key, (row, j)), mapped as JAX maps
  # bits to normals (uniform on (−1, 1) from the top 23 bits, then √2·erfinv); odd width.
  key = jax.random.key(6)
  rows, cols = 40, 9
  z = np.asarray(standard_normal(key, (rows, cols)))
  data = np.asarray(jax.random.key_data(key))
  row, pair = np.meshgrid(np.arange(rows, dtype=np.uint32), np.arange((cols + 1) // 2, dtype=np.uint32),
                          indexing="ij")
  w1, w2 = (np.asarray(w) for w in threefry2x32_p.bind(*(jnp.uint32(v) for v in data), row, pair))
  bits = np.stack([w1, w2], axis=-1).reshape(rows, -1)[:, :cols]
  lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
  unit = ((bits >> 9) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1.0)
  u = np.maximum(lo, unit * (np.float32(1.0) - lo) + lo)
  reference = np.sqrt(2.0) * np.asarray(jax.lax.erf_inv(jnp.asarray(u)))
  np.testing.assert_allclose(z, reference, rtol=4e-7, atol=1e-7,
                             err_msg="standard_normal must be sqrt(2) erfinv of the Threefry words")
