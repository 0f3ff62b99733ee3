"""Regime prediction, observation and their correspondence: hand-computed cases."""

import jax
import numpy as np
import pytest

import dae_theory as dt


def test_nearest_neighbour_ratio_by_hand():
  train = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [0.0, 0.0]])  # a duplicate counts once
  out = np.array([[0.1, 0.0], [0.5, 0.0], [10.0, 3.0]])
  ratio = dt.nearest_neighbour_ratio(out, train)
  np.testing.assert_allclose(ratio, [0.1 / 0.9, 1.0, 3.0 / np.hypot(9.0, 3.0)], rtol=1e-12,
                             err_msg="ratio of the distances to the nearest and second-nearest distinct sample")
  with pytest.raises(ValueError, match="at least 2 distinct"):
    dt.nearest_neighbour_ratio(out, np.ones((3, 2)))
  with pytest.raises(ValueError, match="train_x"):
    dt.nearest_neighbour_ratio(out, np.ones((3, 5)))


def test_nearest_neighbour_ratio_matches_brute_force(rng):
  train = rng.normal(size=(700, 30))
  out = rng.normal(size=(1100, 30))  # more than one chunk of 512 queries
  d = np.sort(np.linalg.norm(out[:, None] - train[None], axis=-1), axis=1)
  np.testing.assert_allclose(dt.nearest_neighbour_ratio(out, train), d[:, 0] / d[:, 1], rtol=1e-9,
                             err_msg="chunked nearest-neighbour ratio must match brute force")


def test_blend_residual_by_hand():
  train = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [5.0, 5.0, 5.0]])
  out = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
  # spans of the 2 nearest: {e1, e2} for the first (in it), {e3, e2} for the second (in it)
  np.testing.assert_allclose(dt.blend_residual(out, train, 2), [0.0, 0.0, 1.0], atol=1e-12,
                             err_msg="relative residual outside the span of the 2 nearest samples")
  # one sample: the residual is the sine of the angle to the nearest sample
  np.testing.assert_allclose(dt.blend_residual(out[:1], train, 1), [1 / np.sqrt(5)], rtol=1e-12,
                             err_msg="one sample: the residual must be the sine of the angle to it")
  with pytest.raises(ValueError, match="at least 3 distinct"):
    dt.blend_residual(out, train[:2], 3)


def test_memorization_report_chance_and_excess():
  train = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
  clean = np.array([[2.0, 0.2], [0.1, 0.0], [2.0, 2.0], [1.9, 3.8]])  # one clean input sits on a sample
  copied = np.array([[0.0, 0.0], [0.0, 0.0], [4.0, 4.0], [0.0, 4.0]])  # every output is a sample
  rep = dt.memorization_report(copied, train, clean)
  assert rep.fraction == 1.0 and rep.chance == 0.25 and rep.excess == 1.0, (
      f"all outputs copied, 1 of 4 clean inputs on a sample: expected fraction 1, chance 0.25, excess 1, got {rep}")
  half = copied.copy()
  half[2:] = clean[2:]
  rep = dt.memorization_report(half, train, clean)
  assert rep.fraction == 0.5 and rep.excess == pytest.approx((0.5 - 0.25) / 0.75), (
      f"half the outputs copied: expected fraction 0.5 and excess (0.5 - 0.25)/0.75 = 1/3, got {rep}")
  chance = dt.memorization_report(copied, train).chance
  assert np.isnan(chance), f"without clean inputs the chance level must be NaN, got {chance}"
  with pytest.raises(ValueError, match="clean must have the shape"):
    dt.memorization_report(copied, train, clean[:2])


@pytest.mark.parametrize("excess, regime", [(1.0, "memorization"), (2 / 3, "memorization"), (0.5, "hybrid"),
                                            (0.1, "generalization"), (-0.2, "generalization"),
                                            (float("nan"), "boundary")])
def test_classify_regime_thresholds(excess, regime):
  got = dt.classify_regime(excess)
  assert got == regime, f"excess {excess} must classify as {regime!r}, got {got!r}"


def test_classify_regime_rejects_crossed_thresholds():
  with pytest.raises(ValueError, match="generalization_below"):
    dt.classify_regime(0.5, memorization_above=0.2, generalization_below=0.3)


def _mixture_samples(per_mode, seed=0):
  mix = dt.gaussian_mixture(jax.random.PRNGKey(seed), 3, 20, mean_norm=3.0, rank=4, cov_scale=0.5)
  s = dt.sample_mixture(jax.random.PRNGKey(seed + 1), mix, 3 * per_mode, exact_counts=True)
  return np.asarray(s.x, np.float64), np.asarray(s.labels)


def test_predicted_regime_memorization_and_its_failures():
  x = np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(0), 6, 30), np.float64)
  full = dt.predicted_regime(x, None, None, 1e-3, 10)
  assert full.regime == "memorization", f"6 obtuse samples, width 10: expected memorization, got {full}"
  narrow = dt.predicted_regime(x, None, None, 1e-3, 5)
  assert narrow.regime == "boundary" and not narrow.width_covers_samples, (
      f"width 5 < 6 samples: expected boundary with width_covers_samples False, got {narrow}")
  assert narrow.samples_obtuse and narrow.decay_below_norms, (
      f"width 5: the other conditions must still hold (samples_obtuse, decay_below_norms), got {narrow}")
  decayed = dt.predicted_regime(x, None, None, 10.0, 10)  # nλ = 60 > min ‖x‖² = 4
  assert decayed.regime == "boundary" and not decayed.decay_below_norms and decayed.width_covers_samples, (
      f"n lam = 60 > min |x|^2: expected boundary failing decay_below_norms only, got {decayed}")


def test_predicted_regime_over_samples_per_mode():
  x, lab = _mixture_samples(1)
  one = dt.predicted_regime(x, lab, None, 1e-4, 9)
  assert one.regime == "memorization", f"one sample per obtuse mode: expected memorization, got {one}"
  x, lab = _mixture_samples(3)
  pred = dt.predicted_regime(x, lab, None, 1e-4, 9)
  assert pred.regime == "boundary" and pred.overfull_clusters == (0, 1, 2), (
      f"3 samples per mode, 3 units each: expected boundary with every cluster overfull, got {pred}")
  x, lab = _mixture_samples(50)
  pred = dt.predicted_regime(x, lab, None, 1e-4, 9)
  assert pred.regime == "generalization", f"50 samples per mode: expected generalization, got {pred.reasons}"
  assert pred.means_obtuse and pred.beta < 0 and pred.overfull_clusters == () and pred.num_duplicated == 0, (
      f"expected obtuse means, beta < 0, no overfull cluster and no duplicates, got {pred}")
  np.testing.assert_array_equal(pred.widths, [3, 3, 3], err_msg="width 9 must be shared 3/3/3")
  np.testing.assert_array_equal(pred.counts, [50, 50, 50], err_msg="samples per mode")
  # nλ = 150 between a cluster's top Gram eigenvalue (≈ 9·50, the mean) and the next (≈ 0.25·50):
  # two of each block's three columns are predicted zero, the block lives
  some = dt.predicted_regime(x, lab, None, 1.0, 9)
  assert some.regime == "generalization", f"n lam between the top two eigenvalues: expected generalization, got {some.reasons}"
  np.testing.assert_array_equal(some.zero_columns, [2, 2, 2], err_msg="2 of each block's 3 columns predicted zero")
  # nλ above the top eigenvalue too: the blocks are dead
  dead = dt.predicted_regime(x, lab, None, 10.0, 9)
  assert dead.regime == "boundary" and dead.dead_clusters == (0, 1, 2), (
      f"n lam above every top eigenvalue: expected boundary with all clusters dead, got {dead}")


def test_predicted_regime_hybrid_with_obtuse_duplicates():
  # 5 directions at pairwise cos −1/4: 3 are mode means, 2 are duplicated samples (Cor 3.4)
  u = np.asarray(dt.equiangular_directions(jax.random.PRNGKey(0), 5, 20), np.float64)
  rng = np.random.default_rng(0)
  modes = [3.0 * u[k] + 0.1 * rng.normal(size=(40, 20)) for k in range(3)]
  dups = [np.repeat(3.0 * u[3 + j][None], 30, axis=0) for j in range(2)]
  x = np.concatenate(modes + dups)
  labels = np.repeat(np.arange(5), [40, 40, 40, 30, 30])
  pred = dt.predicted_regime(x, labels, None, 1e-4, 11)
  assert pred.regime == "hybrid" and pred.num_duplicated == 2, f"expected hybrid with 2 duplicated samples, got {pred}"
  np.testing.assert_array_equal(pred.widths, [1, 1, 3, 3, 3], err_msg="one unit per duplicate, the rest 3/3/3")
  # the same samples, but with the modes' means not obtuse to the duplicates
  x_bad = np.concatenate(modes + [np.repeat(3.0 * u[0][None] + 0.5, 30, axis=0)])
  bad = dt.predicted_regime(x_bad, np.repeat(np.arange(4), [40, 40, 40, 30]), None, 1e-4, 11)
  assert bad.regime == "boundary" and bad.means_obtuse is False and bad.beta >= 0, (
      f"means not obtuse to the duplicate: expected boundary, means_obtuse False, beta >= 0, got {bad}")


def test_predicted_regime_without_labels_cannot_check_generalization():
  x, _ = _mixture_samples(50)
  pred = dt.predicted_regime(x, None, None, 1e-4, 9)
  assert pred.regime == "boundary" and pred.means_obtuse is None and not pred.samples_obtuse, (
      f"without labels: expected boundary, means_obtuse None, samples_obtuse False, got {pred}")


def test_correspondence_by_hand():
  pred = ["memorization", "boundary", "generalization", "generalization", "hybrid"]
  obs = ["memorization", "hybrid", "generalization", "hybrid", "hybrid"]
  c = dt.correspondence(pred, obs)
  assert c.decided == 4 and c.agreement == 0.75, (
      f"4 decided predictions, 3 agreeing: expected decided 4 and agreement 0.75, got {c.decided} and {c.agreement}")
  assert c.disagreements == ((3, "generalization", "hybrid"),), f"one disagreement at index 3, got {c.disagreements}"
  n = c.table[("boundary", "hybrid")]
  assert n == 1, f"table[(boundary, hybrid)] must count 1, got {n}"
  assert "75.0%" in c.summary(), f"the summary must state 75.0%, got {c.summary()!r}"
  with pytest.raises(ValueError, match="unknown regimes"):
    dt.correspondence(["memorisation"], ["memorization"])
  with pytest.raises(ValueError, match="same length"):
    dt.correspondence(pred, obs[:2])


def test_function_distances_by_hand():
  clean = np.zeros((2, 2))
  ref = np.array([[1.0, 0.0], [1.0, 0.0]])
  emp = np.array([[0.0, 1.0], [0.0, 1.0]])
  f = np.array([[1.0, 0.0], [0.0, 1.0]])  # equal to ref on one input, to emp on the other
  d = dt.function_distances(f, emp, ref, clean)
  assert d.reference_gap == 2.0 and d.to_empirical == 0.5 and d.to_reference == 0.5, (
      f"expected reference_gap 2, to_empirical 0.5, to_reference 0.5, got {d}")
  assert d.error == (1.0, 1.0, 1.0), f"expected error (1, 1, 1), got {d.error}"
