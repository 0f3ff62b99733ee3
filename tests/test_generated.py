"""Evaluation of generated samples: hand-made cases with known answers, and brute force."""

import chex
import jax
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from dae_theory._src import generated as gen
from dae_theory._src.data import gaussian_mixture, sample_mixture
from dae_theory._src.mixture import GaussianMixture


def _mixture(k=3, d=6, weights=None, seed=0):
  return gaussian_mixture(jax.random.PRNGKey(seed), num_modes=k, dim=d, mean_norm=4.0, rank=2, cov_scale=0.5,
                          weights=weights)


# ----------------------------------------------------------------------------------------------
# evaluate_samples
# ----------------------------------------------------------------------------------------------


def test_copies_are_memorized_and_index_the_first_occurrence():
  train = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [0.0, 2.0, 0.0], [1.0, 1.0, 1.0]])
  samples = train[[3, 0, 4, 2]]  # row 3 duplicates row 1
  ev = gen.evaluate_samples(samples, train)
  np.testing.assert_array_equal(ev.nearest_index, [1, 0, 4, 2], err_msg="copies must index the first occurrence")
  np.testing.assert_array_equal(ev.cosine_index, [1, 0, 4, 2], err_msg="copies must index the first occurrence")
  np.testing.assert_array_equal(ev.ratio, 0.0, err_msg="exact copies have nearest-neighbour ratio 0")
  np.testing.assert_array_equal(ev.nearest_distance, 0.0, err_msg="exact copies lie at distance 0")
  assert ev.memorized.all() and ev.memorized_scale_free.all(), (
      f"every exact copy must count as memorized, got {ev.memorized} and scale-free {ev.memorized_scale_free}")
  np.testing.assert_allclose(ev.ratio_scale_free, 0.0, atol=1e-15, err_msg="scale-free ratio of exact copies")
  np.testing.assert_allclose(ev.cosine, 1.0, rtol=1e-15, err_msg="cosine of exact copies")
  np.testing.assert_allclose(ev.norms, [2.0, 3.0, np.sqrt(3.0), 1.0], rtol=1e-15, err_msg="sample norms")
  chex.assert_type([ev.nearest_index, ev.memorized], [np.int64, np.bool_])


def test_midpoint_of_two_training_rows_has_ratio_one():
  train = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
  ev = gen.evaluate_samples(np.array([[0.5, 0.5, 0.0]]), train)
  np.testing.assert_allclose(ev.ratio, 1.0, rtol=1e-15, err_msg="a midpoint is equally far from both rows")
  np.testing.assert_allclose(ev.ratio_scale_free, 1.0, rtol=1e-15, err_msg="a midpoint is equally far from both rows")
  np.testing.assert_allclose(ev.nearest_distance, np.sqrt(0.5), rtol=1e-15, err_msg="distance from the midpoint")
  assert not ev.memorized[0] and not ev.memorized_scale_free[0], (
      f"a midpoint must not count as memorized, got {ev.memorized[0]} and scale-free {ev.memorized_scale_free[0]}")
  assert ev.nearest_index[0] in (0, 1) and ev.cosine_index[0] in (0, 1), (
      f"the nearest row must be row 0 or 1, got {ev.nearest_index[0]} and by cosine {ev.cosine_index[0]}")
  np.testing.assert_allclose(ev.cosine, np.sqrt(0.5), rtol=1e-15, err_msg="cosine of the midpoint to either row")


def test_faint_copy_is_memorized_only_scale_free():
  # x = 10 e1; the other rows sit near the origin relative to it, so 0.1 x = e1 is nearer them
  train = np.array([[0.0, 1.0, 0.0], [10.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
  ev = gen.evaluate_samples(0.1 * train[1:2], train)
  np.testing.assert_allclose(ev.ratio, 1.0, rtol=1e-15,  # √2 to three rows, 9 to x
                             err_msg="the faint copy is sqrt(2) from three rows")
  assert not ev.memorized[0] and ev.nearest_index[0] != 1, (
      f"in l2 the faint copy must not be memorized nor nearest to row 1, got memorized={ev.memorized[0]}, "
      f"nearest_index={ev.nearest_index[0]}")
  assert ev.memorized_scale_free[0] and ev.cosine_index[0] == 1, (
      f"scale-free the faint copy must be memorized from row 1, got memorized={ev.memorized_scale_free[0]}, "
      f"cosine_index={ev.cosine_index[0]}")
  np.testing.assert_allclose([ev.cosine[0], ev.norms[0]], [1.0, 1.0], rtol=1e-15, err_msg="cosine and norm")
  np.testing.assert_allclose([ev.ratio_scale_free[0], ev.nearest_distance_scale_free[0]], 0.0, atol=1e-15,
                             err_msg="scale-free ratio and distance of the faint copy")


def test_zero_rows_and_shared_directions():
  # row 0 is zero (no direction), rows 1 and 3 share a direction (counted once, first occurrence)
  train = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
  ev = gen.evaluate_samples(np.array([[4.0, 0.0], [0.0, 0.0], [0.0, 0.5]]), train)
  assert ev.cosine_index[0] == 1 and ev.memorized_scale_free[0] and ev.ratio_scale_free[0] == 0.0, (
      f"4 e1 must be a scale-free copy of row 1 (first of the shared direction) with ratio 0, got "
      f"cosine_index={ev.cosine_index[0]}, memorized={ev.memorized_scale_free[0]}, ratio={ev.ratio_scale_free[0]}")
  # a zero sample copies the zero row in ℓ2
  assert ev.nearest_index[1] == 0 and ev.memorized[1], (
      f"a zero sample must copy the zero row 0 in l2, got nearest_index={ev.nearest_index[1]}, "
      f"memorized={ev.memorized[1]}")
  assert ev.cosine_index[1] == -1 and ev.cosine[1] == 0.0 and ev.ratio_scale_free[1] == 1.0, (
      f"a zero sample has no direction: expected cosine_index -1, cosine 0, scale-free ratio 1, got "
      f"{ev.cosine_index[1]}, {ev.cosine[1]}, {ev.ratio_scale_free[1]}")
  assert ev.nearest_distance_scale_free[1] == 1.0 and not ev.memorized_scale_free[1], (
      f"a zero sample: expected scale-free distance 1 and not memorized, got "
      f"{ev.nearest_distance_scale_free[1]} and {ev.memorized_scale_free[1]}")
  # the zero row is not a candidate
  assert ev.cosine_index[2] == 2 and ev.memorized_scale_free[2], (
      f"0.5 e2 must be a scale-free copy of row 2, got cosine_index={ev.cosine_index[2]}, "
      f"memorized={ev.memorized_scale_free[2]}")
  with pytest.raises(ValueError, match="train_x must hold at least 2 distinct non-zero directions"):
    gen.evaluate_samples(np.ones((2, 2)), np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))


@pytest.mark.parametrize("offset", [0.0, 50.0])
def test_evaluate_samples_matches_brute_force(rng, monkeypatch, offset):
  monkeypatch.setattr(gen, "_QUERY_CHUNK", 64)  # several query blocks
  m, n, d = 200, 300, 16
  train = offset + rng.normal(size=(n, d))
  train[250:260] = train[:10]  # duplicates: indices must still point at rows 0..9
  samples = offset + rng.normal(size=(m, d))
  samples[:20] = train[rng.integers(0, n, 20)] + 0.01 * rng.normal(size=(20, d))  # near copies
  ev = gen.evaluate_samples(samples, train)

  keep = np.r_[0:250, 260:n]  # the distinct rows, by first occurrence
  dist = np.linalg.norm(samples[:, None] - train[None, keep], axis=-1)
  srt = np.sort(dist, axis=1)
  np.testing.assert_array_equal(ev.nearest_index, keep[np.argmin(dist, axis=1)], err_msg="nearest_index vs brute force")
  np.testing.assert_allclose(ev.nearest_distance, srt[:, 0], rtol=1e-9, err_msg="nearest_distance vs brute force")
  np.testing.assert_allclose(ev.ratio, srt[:, 0] / srt[:, 1], rtol=1e-9, err_msg="ratio vs brute force")
  np.testing.assert_array_equal(ev.memorized, srt[:, 0] / srt[:, 1] < 1 / 3, err_msg="memorized must be ratio < 1/3")
  assert ev.memorized[:20].all() and not ev.memorized[20:].any(), (
      f"exactly the 20 near copies must be memorized, got {int(ev.memorized[:20].sum())} of them and "
      f"{int(ev.memorized[20:].sum())} others")

  su = samples / np.linalg.norm(samples, axis=1, keepdims=True)
  xu = train[keep] / np.linalg.norm(train[keep], axis=1, keepdims=True)
  cos = su @ xu.T
  udist = np.sort(np.linalg.norm(su[:, None] - xu[None], axis=-1), axis=1)
  np.testing.assert_array_equal(ev.cosine_index, keep[np.argmax(cos, axis=1)], err_msg="cosine_index vs brute force")
  np.testing.assert_allclose(ev.cosine, cos.max(axis=1), rtol=1e-12, err_msg="cosine vs brute force")
  np.testing.assert_allclose(ev.nearest_distance_scale_free, udist[:, 0], rtol=1e-9, atol=1e-12,
                             err_msg="nearest_distance_scale_free vs brute force")
  np.testing.assert_allclose(ev.ratio_scale_free, udist[:, 0] / udist[:, 1], rtol=1e-9, atol=1e-12,
                             err_msg="ratio_scale_free vs brute force")
  np.testing.assert_allclose(ev.norms, np.linalg.norm(samples, axis=1), rtol=1e-15, err_msg="norms vs brute force")


def test_permuting_samples_permutes_outputs(rng):
  train = rng.normal(size=(40, 5))
  samples = np.concatenate([train[:5], rng.normal(size=(25, 5))])
  perm = rng.permutation(30)
  ev, evp = gen.evaluate_samples(samples, train), gen.evaluate_samples(samples[perm], train)
  for name, a, b in zip(ev._fields, ev, evp):
    np.testing.assert_array_equal(a[perm], b, err_msg=name)


# ----------------------------------------------------------------------------------------------
# memorized_fraction
# ----------------------------------------------------------------------------------------------


def test_bootstrap_interval():
  small = np.arange(40) % 4 == 0  # 1/4
  large = np.arange(4000) % 4 == 0
  est, big = gen.memorized_fraction(small), gen.memorized_fraction(large)
  assert est.value == 0.25 and est.count == 10 and big.count == 1000, (
      f"expected value 0.25 with counts 10 and 1000, got {est} and {big}")
  assert est.low <= est.value <= est.high and big.low <= big.value <= big.high, (
      f"each interval must contain its estimate, got {est} and {big}")
  # width ∝ 1/√m
  assert big.high - big.low < 0.2 * (est.high - est.low), (
      f"100x the flags must shrink the interval below 0.2x, got widths {big.high - big.low:.4g} and "
      f"{est.high - est.low:.4g}")
  first, again = gen.memorized_fraction(small, seed=3), gen.memorized_fraction(small, seed=3)
  assert first == again, f"the same seed must give the same estimate, got {first} and {again}"
  ones = tuple(gen.memorized_fraction(np.ones(7, bool)))
  assert ones == (1.0, 1.0, 1.0, 7), f"all flags set: expected (1, 1, 1, 7), got {ones}"
  zeros = tuple(gen.memorized_fraction(np.zeros(7, int)))
  assert zeros == (0.0, 0.0, 0.0, 0), f"no flag set: expected (0, 0, 0, 0), got {zeros}"
  # 0/1 numbers are flags too
  as_float = gen.memorized_fraction(small.astype(float))
  assert as_float == est, f"0/1 floats must give the same estimate as booleans {est}, got {as_float}"
  # the binomial shortcut is the percentile bootstrap: compare with resampling the flags
  res = np.random.default_rng(1).choice(small, size=(4000, small.size)).mean(axis=1)
  np.testing.assert_allclose([est.low, est.high], np.quantile(res, [0.025, 0.975]), atol=0.026,
                             err_msg="the interval must match the percentile bootstrap of the flags")


# ----------------------------------------------------------------------------------------------
# Mixture likelihood and mode frequencies
# ----------------------------------------------------------------------------------------------


def test_mixture_log_likelihood_matches_scipy(rng, monkeypatch):
  monkeypatch.setattr(gen, "_POSTERIOR_CHUNK", 7)  # several blocks and a padded last one
  mix = _mixture(weights=[0.5, 0.3, 0.2])
  samples = np.asarray(sample_mixture(jax.random.PRNGKey(1), mix, 30).x, np.float64)
  samples[-1] += 3.0  # one sample off every mode's subspace
  sigma = 0.1
  cov = np.asarray(mix.covariances(), np.float64) + sigma ** 2 * np.eye(mix.dim)
  ref = np.log(sum(float(w) * multivariate_normal(np.asarray(mu, np.float64), c).pdf(samples)
                   for w, mu, c in zip(np.asarray(mix.weights, np.float64), mix.means, cov)))
  out = gen.mixture_log_likelihood(samples, mix, sigma)
  chex.assert_type(out, np.float64)
  chex.assert_shape(out, (30,))
  np.testing.assert_allclose(out, ref, rtol=1e-6, err_msg="log-likelihood must match scipy's mixture density")


def test_mode_frequencies():
  mix = _mixture(weights=[0.5, 0.3, 0.2])
  means = np.asarray(mix.means, np.float64)
  exact = np.repeat(means, [50, 30, 20], axis=0)  # counts exactly m ρ
  mf = gen.mode_frequencies(exact, mix, 0.1)
  np.testing.assert_array_equal(mf.counts, [50, 30, 20], err_msg="the means must be assigned to their own modes")
  np.testing.assert_allclose(mf.frequencies, [0.5, 0.3, 0.2], err_msg="observed frequencies")
  np.testing.assert_allclose(mf.expected, [0.5, 0.3, 0.2], rtol=1e-6, err_msg="expected frequencies are the weights")
  assert mf.chi2 == pytest.approx(0.0, abs=1e-9) and mf.p_value > 1e-3, (
      f"counts exactly m rho: expected chi2 0 (within 1e-9) and p > 1e-3, got chi2={mf.chi2}, p={mf.p_value}")
  drawn = sample_mixture(jax.random.PRNGKey(2), mix, 300)  # multinomial counts from ρ
  mf = gen.mode_frequencies(drawn.x, mix, 0.1)
  np.testing.assert_array_equal(mf.counts, np.bincount(np.asarray(drawn.labels), minlength=3),
                                err_msg="drawn samples must be assigned to the modes that drew them")
  assert mf.p_value > 1e-3, f"multinomial counts from rho must not be rejected (p > 1e-3), got p={mf.p_value}"
  one = gen.mode_frequencies(np.repeat(means[1:2], 60, axis=0), mix, 0.1)
  np.testing.assert_array_equal(one.counts, [0, 60, 0], err_msg="60 copies of mean 1")
  assert one.p_value < 1e-6, f"all samples in one mode must be rejected (p < 1e-6), got p={one.p_value}"


def test_mode_frequencies_with_an_empty_mode():
  mix = _mixture(weights=[0.5, 0.5, 0.0])
  means = np.asarray(mix.means, np.float64)
  mf = gen.mode_frequencies(np.repeat(means, [10, 10, 0], axis=0), mix, 0.1)
  np.testing.assert_array_equal(mf.counts, [10, 10, 0], err_msg="counts with an empty mode")
  assert mf.chi2 == 0.0 and mf.p_value == pytest.approx(1.0), (
      f"counts exactly m rho with an empty mode: expected chi2 0 and p 1, got chi2={mf.chi2}, p={mf.p_value}")


# ----------------------------------------------------------------------------------------------
# two_model_agreement
# ----------------------------------------------------------------------------------------------


def test_two_model_agreement(rng):
  x = rng.normal(size=(6, 4))
  same = gen.two_model_agreement(x, x)
  np.testing.assert_array_equal(same.distances, 0.0, err_msg="identical samples lie at distance 0")
  assert same.mean == 0.0 and same.mean_relative == 0.0, (
      f"identical samples: expected mean 0 and mean_relative 0, got {same.mean} and {same.mean_relative}")
  np.testing.assert_allclose(same.cosine, 1.0, rtol=1e-15, err_msg="identical samples have cosine 1")
  opp = gen.two_model_agreement(x, -x)
  np.testing.assert_allclose(opp.distances, 2 * np.linalg.norm(x, axis=1), rtol=1e-15,
                             err_msg="x and -x lie 2|x| apart")
  np.testing.assert_allclose(opp.relative, 2.0, rtol=1e-15, err_msg="x and -x: relative distance 2")
  np.testing.assert_allclose(opp.cosine, -1.0, rtol=1e-15, err_msg="x and -x: cosine -1")
  assert opp.mean_relative == pytest.approx(2.0), f"x and -x: mean relative distance must be 2, got {opp.mean_relative}"
  zero = gen.two_model_agreement(np.zeros((1, 4)), np.zeros((1, 4)))
  assert zero.relative[0] == 0.0 and zero.cosine[0] == 0.0, (
      f"two zero samples: expected relative 0 and cosine 0, got {zero.relative[0]} and {zero.cosine[0]}")


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

_X = np.random.default_rng(0).normal(size=(5, 3))
_NAN = np.where(np.eye(5, 3) > 0, np.nan, _X)


@pytest.mark.parametrize("call, name", [
    (lambda: gen.evaluate_samples(_X[0], _X), "samples"),
    (lambda: gen.evaluate_samples(_X, _X[0]), "train_x"),
    (lambda: gen.evaluate_samples(_X, _X[:, :2]), "train_x"),
    (lambda: gen.evaluate_samples(_NAN, _X), "samples"),
    (lambda: gen.evaluate_samples(_X, _NAN), "train_x"),
    (lambda: gen.evaluate_samples(_X, np.ones((4, 3))), "train_x"),
    (lambda: gen.evaluate_samples(_X, _X, threshold=0.0), "threshold"),
    (lambda: gen.evaluate_samples(_X, _X, threshold=1.0), "threshold"),
    (lambda: gen.memorized_fraction(np.ones((2, 2), bool)), "flags"),
    (lambda: gen.memorized_fraction(np.zeros(0, bool)), "flags"),
    (lambda: gen.memorized_fraction(np.array([0, 1, 2])), "flags"),
    (lambda: gen.memorized_fraction(np.array([0.0, np.nan])), "flags"),
    (lambda: gen.memorized_fraction(np.array(["a"])), "flags"),
    (lambda: gen.memorized_fraction(np.ones(3, bool), num_bootstrap=0), "num_bootstrap"),
    (lambda: gen.memorized_fraction(np.ones(3, bool), level=0.0), "level"),
    (lambda: gen.memorized_fraction(np.ones(3, bool), level=1.0), "level"),
    (lambda: gen.memorized_fraction(np.ones(3, bool), seed=-1), "seed"),
    (lambda: gen.mixture_log_likelihood(_X, _mixture(d=3), 0.0), "sigma"),
    (lambda: gen.mixture_log_likelihood(_X, _mixture(d=3), -1.0), "sigma"),
    (lambda: gen.mixture_log_likelihood(_X, _mixture(d=4), 0.1), "samples"),
    (lambda: gen.mixture_log_likelihood(_X[0], _mixture(d=3), 0.1), "samples"),
    (lambda: gen.mixture_log_likelihood(_NAN, _mixture(d=3), 0.1), "samples"),
    (lambda: gen.mixture_log_likelihood(_X, "not a mixture", 0.1), "mixture"),
    (lambda: gen.mode_frequencies(_X, _mixture(d=3), 0.0), "sigma"),
    (lambda: gen.mode_frequencies(_NAN, _mixture(d=3), 0.1), "samples"),
    (lambda: gen.two_model_agreement(_X, _X[:4]), "samples_b"),
    (lambda: gen.two_model_agreement(_X[0], _X[0]), "samples_a"),
    (lambda: gen.two_model_agreement(_X, _NAN), "samples_b"),
])
def test_bad_input_names_the_argument(call, name):
  with pytest.raises(ValueError, match=rf"\b{name}\b"):
    call()
