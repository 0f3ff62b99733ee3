"""Detection metrics and representation measures on hand-computed cases."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt


def test_auroc_by_hand():
  # pairs (pos > neg): 3>1, 3>2, 3=3 (½), 5>all three → (2 + 0.5 + 3) / 6
  got = dt.auroc([3.0, 5.0], [1.0, 2.0, 3.0])
  assert got == pytest.approx(5.5 / 6), f"AUROC with one tie must be 5.5/6, got {got}"
  low, high = dt.auroc([1, 2], [3, 4]), dt.auroc([3, 4], [1, 2])
  assert low == 0.0 and high == 1.0, f"separated scores must give AUROC 0 and 1, got {low} and {high}"
  tied = dt.auroc([1, 1], [1, 1])
  assert tied == 0.5, f"all-tied scores must give AUROC 0.5, got {tied}"
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=300), rng.normal(size=200) - 0.5
  brute = np.mean((a[:, None] > b[None]) + 0.5 * (a[:, None] == b[None]))
  got = dt.auroc(a, b)
  assert got == pytest.approx(brute), f"AUROC must equal the brute-force pair count {brute:.6f}, got {got}"
  with pytest.raises(ValueError, match="at least one positive"):
    dt.auroc([], [1.0])


def test_tpr_at_fpr_by_hand():
  neg = np.arange(100.0)  # the 0.99 quantile is 98.01
  pos = np.array([97.0, 98.5, 99.5, 200.0])
  got = dt.tpr_at_fpr(pos, neg, fpr=0.01)
  assert got == 0.75, f"TPR at FPR 0.01 (threshold 98.01) must be 3/4, got {got}"
  got = dt.tpr_at_fpr(pos, neg, fpr=0.0)
  assert got == 0.5, f"TPR at FPR 0 (threshold 99, strictly above) must be 2/4, got {got}"
  with pytest.raises(ValueError, match="fpr must be in"):
    dt.tpr_at_fpr(pos, neg, fpr=2.0)


def test_spikiness_scores_by_hand():
  p = 100
  one_hot = jnp.zeros(p).at[3].set(9.38)
  np.testing.assert_allclose(dt.representation_std(one_hot), 9.38 * np.sqrt(1 / p - 1 / p ** 2), rtol=1e-6,
                             err_msg="std of a one-hot vector must be a sqrt(1/p - 1/p^2)")
  even = jnp.zeros(p).at[:4].set(2.0)
  for name, got, want in (("peak_energy_fraction(one_hot)", float(dt.peak_energy_fraction(one_hot)), 1.0),
                          ("peak_energy_fraction(even)", float(dt.peak_energy_fraction(even)), 0.25),
                          ("participation_ratio(even)", float(dt.participation_ratio(even)), 4.0),
                          ("l4_l2_ratio(even)", float(dt.l4_l2_ratio(even)), 4 ** -0.25)):
    assert got == pytest.approx(want), f"{name} must be {want:.6g}, got {got:.6g}"
  active = int(dt.active_units(even))
  assert active == 4, f"4 equal active units must count as 4, got {active}"
  np.testing.assert_allclose(dt.normalized_std(one_hot), np.sqrt((1 - 1 / p) / p), rtol=1e-6,
                             err_msg="normalized std of a one-hot vector must be sqrt((1 - 1/p)/p)")
  zero = jnp.zeros(p)
  for f in (dt.normalized_std, dt.peak_energy_fraction, dt.l4_l2_ratio, dt.participation_ratio):
    got = float(f(zero))
    assert got == 0.0, f"{f.__name__} of the zero vector must be 0, got {got}"
  batch = jnp.stack([one_hot, even])
  np.testing.assert_allclose(dt.representation_std(batch), [float(dt.representation_std(one_hot)),
                                                            float(dt.representation_std(even))], rtol=1e-6,
                             err_msg="a batch must be scored row by row")
  frac = dt.one_hot_fraction(batch)
  assert frac == 0.5, f"one of two rows is one-hot: fraction must be 0.5, got {frac}"


def test_column_report_and_matching(rng):
  x = rng.normal(size=(5, 8))
  perm = [2, 0, 4]
  w = np.zeros((8, 6))
  w[:, [1, 3, 5]] = x[perm].T * np.array([0.5, 1.0, 2.0])
  w[:, 0] = 0.01 * rng.normal(size=8)
  rep = dt.column_report(w, x)
  np.testing.assert_allclose(rep.max_cosine[[1, 3, 5]], 1.0, atol=1e-12,
                             err_msg="columns that are scaled samples must have max cosine 1")
  np.testing.assert_array_equal(rep.nearest_sample[[1, 3, 5]], perm, err_msg="nearest sample of each stored column")
  pred = x[[0, 2, 4]].T
  m = dt.match_columns(w, pred)
  np.testing.assert_array_equal(m.learned, [3, 1, 5], err_msg="learned column matched to each predicted column")
  np.testing.assert_allclose(m.cosine, 1.0, atol=1e-12, err_msg="matched columns must be parallel")
  np.testing.assert_allclose(m.norm_ratio, [1.0, 0.5, 2.0], rtol=1e-12, err_msg="learned/predicted norm ratios")
  # a column decayed to ~0 that points slightly closer to a sample does not take it from the
  # column that stores it
  off = np.linalg.norm(x[0]) * np.linalg.qr(np.stack([x[0], rng.normal(size=8)], 1))[0][:, 1]  # ⟂ x[0]
  stored, dead = 0.9 * x[0] + 0.45 * off, 1e-3 * (x[0] + 0.4 * off)  # cosines 0.894 and 0.928
  cos = lambda v: v @ x[0] / np.linalg.norm(v) / np.linalg.norm(x[0])
  assert cos(dead) > cos(stored) > 0.85, (
      f"set-up: the dead column must point closer than the stored one, both above 0.85, got {cos(dead):.3f} "
      f"and {cos(stored):.3f}")
  m = dt.match_columns(np.stack([dead, stored], 1), x[[0]].T)
  assert m.learned.tolist() == [1] and m.norm_ratio[0] > 0.9, (
      f"the stored column 1 (norm ratio > 0.9) must win over the dead one, got learned={m.learned.tolist()}, "
      f"norm_ratio={m.norm_ratio}")
  anti = np.stack([x[0], -x[0], x[1]], axis=1)
  pairs = dt.column_report(anti, x).antipodal_pairs.tolist()
  assert pairs == [[0, 1]], f"columns 0 and 1 are antipodal: expected [[0, 1]], got {pairs}"
  same = dt.gram_error(w, w)
  assert same == 0.0, f"gram_error of a matrix with itself must be 0, got {same}"
  split = np.concatenate([w[:, [1]] * np.sqrt(0.3), w[:, [1]] * np.sqrt(0.7)], axis=1)
  # split columns, same function
  err = dt.gram_error(split, w[:, [1]])
  assert err == pytest.approx(0.0, abs=1e-12), f"a column split in two must have gram_error 0 within 1e-12, got {err}"


def test_jacobian_of_a_memorising_unit_is_rank_one():
  x = jnp.array([3.0, 0.0, 0.0, 0.0])
  w = jnp.stack([x / 3.0, jnp.array([-1.0, 0.0, 0.0, 0.0])], axis=1)  # the second unit is off near x
  s, eff = dt.jacobian_spectrum(dt.DAEParams(w), x + 0.01)
  np.testing.assert_allclose(s, [1.0, 0.0, 0.0, 0.0], atol=1e-6, err_msg="one active unit: singular values (1, 0, 0, 0)")
  assert float(eff) == pytest.approx(1.0, abs=1e-5), f"effective rank must be 1 within 1e-5, got {float(eff)}"
  s2, eff2 = dt.jacobian_spectrum(dt.DAEParams(jnp.eye(4)), jnp.ones(4))
  assert float(eff2) == pytest.approx(4.0, rel=1e-5), f"identity network: effective rank must be 4, got {float(eff2)}"


def test_gating_overlap():
  a = jnp.array([1.0, 0.0, 2.0, 0.0])
  b = jnp.array([1.0, 3.0, 0.0, 0.0])
  got = float(dt.gating_overlap(a, b))
  assert got == pytest.approx(1 / 3), f"1 shared of 3 active units: overlap must be 1/3, got {got}"
  got = float(dt.gating_overlap(jnp.zeros(4), jnp.zeros(4)))
  assert got == 1.0, f"two all-off codes must have overlap 1, got {got}"


def test_gating_geometry_by_hand():
  # units: e1, e2, e3 directions; inputs switch on {1}, {1, 2}, {3}
  w = np.eye(3, dtype=np.float32)
  y = np.array([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]], np.float32)
  g = dt.gating_geometry(dt.DAEParams(jnp.asarray(w)), y, np.array([[0, 1], [0, 2], [1, 2]]))
  np.testing.assert_allclose(g.overlap, [0.5, 0.0, 0.0], err_msg="gating overlap of each pair")
  np.testing.assert_allclose(g.similarity, [1 / 3, -1 / 3, -1.0], rtol=1e-6, err_msg="input cosine of each pair")
  # Pearson of (½, 0, 0) and (⅓, −⅓, −1): centred (⅓, −⅙, −⅙) and (⅔, 0, −⅔) → (1/3) / √(1/6 · 8/9)
  want = (1 / 3) / np.sqrt(1 / 6 * 8 / 9)
  assert g.pearson == pytest.approx(want, rel=1e-6), f"Pearson must be {want:.6f}, got {g.pearson}"
  # Spearman: ranks (3, 1.5, 1.5) and (3, 2, 1) → centred (1, −½, −½) and (1, 0, −1) → 1.5 / √(1.5 · 2)
  want = 1.5 / np.sqrt(3)
  assert g.spearman == pytest.approx(want, rel=1e-6), f"Spearman must be {want:.6f}, got {g.spearman}"
  with pytest.raises(ValueError, match="pairs"):
    dt.gating_geometry(dt.DAEParams(jnp.asarray(w)), y, np.array([[0, 3]]))


def test_match_columns_reports_the_columns_left_out(rng):
  x = rng.normal(size=(3, 8))
  # learned: 6 columns, 3 of them store the samples (in another order), 3 are leftovers
  w = 0.01 * rng.normal(size=(8, 6))
  w[:, [4, 0, 2]] = x.T
  # predicted: the 3 samples and a zero column (a dead unit) in between
  pred = np.stack([x[0], x[1], np.zeros(8), x[2]], axis=1)
  m = dt.match_columns(w, pred)
  # one per non-zero predicted column, in their order
  np.testing.assert_array_equal(m.learned, [4, 0, 2], err_msg="learned column matched to each non-zero prediction")
  np.testing.assert_array_equal(m.unmatched_learned, [1, 3, 5], err_msg="leftover learned columns")
  np.testing.assert_array_equal(m.unmatched_predicted, [2], err_msg="the zero predicted column is left out")
  chex.assert_type([m.unmatched_learned, m.unmatched_predicted], np.int64)
  # equal widths, every predicted column non-zero: nothing is left out
  m = dt.match_columns(w[:, [4, 0, 2]], x.T)
  np.testing.assert_array_equal(m.learned, [0, 1, 2], err_msg="equal widths: the identity matching")
  chex.assert_shape([m.unmatched_learned, m.unmatched_predicted], (0,))
  # the matched pairs and the left-out columns together account for every column
  m = dt.match_columns(w, pred)
  cols = sorted(m.learned.tolist() + m.unmatched_learned.tolist())
  assert cols == list(range(w.shape[1])), f"matched and leftover learned columns must be 0..5 once each, got {cols}"
  count = len(m.learned) + len(m.unmatched_predicted)
  assert count == pred.shape[1], f"matched and leftover predicted columns must number {pred.shape[1]}, got {count}"


def test_evaluation_helpers_by_hand():
  a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
  b = np.zeros_like(a)
  msd = dt.mean_squared_distance(a, b)
  assert msd == pytest.approx((1 + 4 + 25) / 3), f"mean squared distance must be 30/3 = 10, got {msd}"
  maps = np.stack([np.eye(2), 2 * np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]])])
  out = dt.apply_mode_maps(maps, [0, 1, 2], a)
  np.testing.assert_allclose(out, [[1.0, 0.0], [0.0, 4.0], [4.0, 3.0]], err_msg="row i must be maps[label_i] @ a_i")
  ref = np.array([[2.0, 0.0], [0.0, 4.0], [0.0, 5.0]])
  rel = dt.per_mode_relative_error(a, ref, [0, 1, 1])
  np.testing.assert_allclose(rel, [0.5, (0.5 + np.sqrt(10) / 5) / 2], err_msg="mean relative error per mode")
  with pytest.raises(ValueError, match="labels"):
    dt.apply_mode_maps(maps, [0, 1, 3], a)
  with pytest.raises(ValueError, match="same shape"):
    dt.mean_squared_distance(a, b[:2])
