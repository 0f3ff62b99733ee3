"""The corollaries, checked by training from random initialisation (settings measured before the package existed).

Each test trains a few seeds in one compiled sweep and asserts the corollary's quantitative
prediction with the tolerance stated in the issue.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

# Every test here trains models to check a theorem.
pytestmark = pytest.mark.slow

SIGMA = 0.2


@pytest.fixture(scope="module")
def memorization_run():
  x = np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(0), 6, 30, norm_range=(2, 4)), np.float32)
  cfg = dt.preset("memorization_closed_form")  # Adam 1e-2, 20k steps, cosine decay over the last 10k, p = 10
  return x, cfg, dt.train_sweep(x, cfg, seeds=[0, 1, 2])


def test_cor32_memorization_columns_loss_and_one_hot_codes(memorization_run):
  x, cfg, res = memorization_run
  n = x.shape[0]
  ok = dt.memorization_assumptions(x, None, cfg.lam, cfg.width)
  assert ok.holds, f"set-up: Cor 3.2's assumptions must hold, failures {ok.failures()}"
  w_mem = dt.memorization_weights(x, cfg.sigma, cfg.lam, cfg.width)
  noise = jax.random.normal(jax.random.PRNGKey(9), (2000, n, x.shape[1]))
  predicted_loss = float(dt.dae_loss_given_noise(dt.DAEParams(jnp.asarray(w_mem, jnp.float32)), x, noise,
                                                 cfg.sigma, cfg.lam))
  # The closed form neglects other units firing (measured +1.3 to +1.6 % here, see theory.py).
  closed = dt.memorization_loss(x, cfg.sigma, cfg.lam)
  rel = abs(predicted_loss - closed) / predicted_loss
  assert rel < 0.02, f"Cor 3.2's closed-form loss must match the MC loss at W_mem within 2 %, got {rel:.2%}"
  for i in range(len(res.grid)):
    w = np.asarray(res.model(i).w1, np.float64)
    norms = np.linalg.norm(w, axis=0)
    # exactly n columns carry the weight
    assert np.sum(norms > 0.05) == n, f"model {i}: exactly n = {n} columns must have norm > 0.05, got norms {norms}"
    # the rest are near zero
    rest = np.sort(norms)[: cfg.width - n].max()
    assert rest < 0.05, f"model {i}: the other {cfg.width - n} columns must have norm < 0.05, got max {rest:.3g}"
    match = dt.match_columns(w, w_mem)
    assert match.cosine.min() > 0.99 and np.abs(match.norm_ratio - 1).max() < 0.05, (
        f"model {i}: columns must match W_mem (cosine > 0.99, norms within 5 %), got min cosine "
        f"{match.cosine.min():.4f}, norm ratios {match.norm_ratio}")
    learned_loss = float(dt.dae_loss_given_noise(dt.DAEParams(jnp.asarray(w, jnp.float32)), x, noise,
                                                 cfg.sigma, cfg.lam))
    rel = abs(learned_loss - predicted_loss) / predicted_loss
    assert rel < 0.05, f"model {i}: learned loss must be W_mem's within 5 %, got {rel:.2%}"
    y = x[None] + cfg.sigma * np.asarray(noise[:50])
    h = dt.representations(dt.DAEParams(jnp.asarray(w, jnp.float32)), y.reshape(-1, x.shape[1]))
    frac = dt.one_hot_fraction(h)
    assert frac >= 0.95, f"model {i}: at least 95 % of noisy codes must be one-hot, got {frac:.1%}"


def test_cor32_plain_sgd_gets_the_function_but_keeps_split_columns():
  """Split columns (αr x, βr x) with α² + β² = 1 are exact alternative minimisers: weight decay
  cannot break them and SGD's steps, proportional to the weights, do not either."""
  x = np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(0), 6, 30, norm_range=(2, 4)), np.float32)
  cfg = dt.preset("memorization_closed_form", optimizer="sgd", learning_rate=0.05)
  res = dt.train_sweep(x, cfg, seeds=[0, 1])
  w_mem = dt.memorization_weights(x, cfg.sigma, cfg.lam, cfg.width)
  for i in range(2):
    w = np.asarray(res.model(i).w1, np.float64)
    # the function W Wᵀ is right
    err = dt.gram_error(w, w_mem)
    assert err < 0.02, f"model {i}: W W^T must match W_mem's within 0.02, got {err:.3g}"
    # but samples stay split
    live = np.sum(np.linalg.norm(w, axis=0) > 0.05)
    assert live > x.shape[0], f"model {i}: SGD must keep split columns (more than {x.shape[0]} live), got {live}"


def _mixture_run(mean_norm, seeds, orthogonal_to_means=False):
  """Three rank-2 modes of scale 0.5 in d = 20 (α = 0.5·√2 / ‖μ_k‖), 3000 samples, p = 9."""
  mix = dt.gaussian_mixture(jax.random.PRNGKey(1), 3, 20, mean_norm=mean_norm, rank=2, cov_scale=0.5,
                            orthogonal_to_means=orthogonal_to_means)
  train = dt.sample_mixture(jax.random.PRNGKey(2), mix, 3000)
  # Adam 3e-3 with a final cosine decay, p = 9; 10k steps suffice at this size (20k in the preset).
  cfg = dt.preset("generalization_closed_form", steps=10_000, decay_steps=4_000)
  return mix, train, cfg, dt.train_sweep(train.x, cfg, seeds=seeds)


def _fit_to_mode_maps(mix, train, cfg, w1):
  """Per mode, the mean relative distance of f to M_k on held-out noisy inputs of that mode; the
  rate at which each unit fires on each mode's inputs, (K, p); the two MSEs (f, the maps)."""
  x, lab = np.asarray(train.x, np.float64), np.asarray(train.labels)
  maps = dt.cluster_linear_maps(x, lab, cfg.sigma, cfg.lam, [3, 3, 3])
  test = dt.sample_mixture(jax.random.PRNGKey(3), mix, 3000)
  xt, lt = np.asarray(test.x, np.float64), np.asarray(test.labels)
  y = xt + cfg.sigma * np.random.default_rng(0).normal(size=xt.shape)
  oracle = dt.apply_mode_maps(maps, lt, y)
  params = dt.DAEParams(jnp.asarray(w1))
  f = np.asarray(dt.apply_batch(params, y.astype(np.float32)), np.float64)
  rel = dt.per_mode_relative_error(f, oracle, lt)
  h = np.asarray(dt.representations(params, y.astype(np.float32)))
  rate = np.stack([(h[lt == k] > 0).mean(0) for k in range(3)])
  mse, oracle_mse = dt.mean_squared_distance(f, xt), dt.mean_squared_distance(oracle, xt)
  return rel, rate, mse, oracle_mse, h


@pytest.fixture(scope="module")
def generalization_run():
  # ‖μ_k‖ = 3: α ≈ 0.24. For ‖μ_k‖ = 1 see the test after the next.
  return _mixture_run(3.0, seeds=[0, 1])


def test_cor33_generalization_matches_the_per_mode_linear_maps(generalization_run):
  mix, train, cfg, res = generalization_run
  beta = dt.separability(np.asarray(train.x, np.float64), np.asarray(train.labels)).beta
  assert beta < 0, f"set-up: the modes must be separable (beta < 0), got {beta:.3g}"
  widths = [3, 3, 3]
  for i in range(len(res.grid)):
    rel, rate, mse, oracle_mse, h = _fit_to_mode_maps(mix, train, cfg, res.model(i).w1)
    # measured 0.7–1.5 %
    assert rel.max() < 0.05, f"model {i}: f must match M_k within 5 % on every mode, got {rel}"
    assert abs(mse - oracle_mse) / oracle_mse < 0.03, (
        f"model {i}: MSE must be the maps' {oracle_mse:.5g} within 3 %, got {mse:.5g}")
    # Blocks: each column fires on > 90 % of one cluster's noisy inputs and < 15 % of the others'
    # (measured: ≥ 99 % and ≤ 10 %).
    owner = rate.argmax(0)
    specific = (rate.max(0) > 0.9) & (np.sort(rate, 0)[-2] < 0.15)
    assert specific.all() and np.bincount(owner, minlength=3).tolist() == widths, (
        f"model {i}: every unit must be specific to one mode, {widths} per mode, got firing rates\n{rate}")
    # balanced: about p_k active units per input
    active = np.mean(np.sum(h > 0, 1))
    assert active <= 3.5, f"model {i}: at most 3.5 active units per input on average, got {active:.3g}"


def test_cor33_needs_a_small_alpha_even_when_modes_spread_orthogonally_to_the_means():
  """Cor 3.3 asks α = ‖Σ_k^{1/2}‖_F / ‖μ_k‖ to be small. At ‖μ_k‖ = 1 (α ≈ 0.71), with every U_k
  orthogonal to all means (so no mode spreads toward another's mean), the trained network still
  misses M_k by more than the 5 % tolerance of the test above, and its units fire on other modes'
  inputs: the condition is quantitative, not only about the direction of the spread.
  Measured (seeds 0, 1): 7.3–8.5 % from M_k, the leakiest unit fires on 16–21 % of another mode's
  inputs; on the same mixture with random U_k 9.4–11.1 % and 39 %; at ‖μ_k‖ = 3 with U_k
  orthogonal 0.02–0.05 % and 0.2 %."""
  mix, train, cfg, res = _mixture_run(1.0, seeds=[0], orthogonal_to_means=True)
  rel, rate, _, _, _ = _fit_to_mode_maps(mix, train, cfg, res.model(0).w1)
  assert rel.min() > 0.05, f"at alpha ~ 0.71 f must miss M_k by more than 5 % on every mode, got {rel}"
  leak = np.sort(rate, 0)[-2].max()
  assert leak > 0.1, f"some unit must fire on more than 10 % of another mode's inputs, got {leak:.3g}; rates\n{rate}"


def test_cor34_duplicates_get_memorising_columns_beside_statistical_blocks():
  """Six directions with pairwise cosine −0.2 (Def 3.1 holds for means and duplicates together):
  three are mode means (‖μ‖ = 3, rank-2 modes of scale 0.5, 1000 samples each), three are points of
  norm 3 present 200 times each. p = m + Σp_k = 3 + 3·4: p_k = 4 is one more than the rank of S_k,
  so Cor 3.4's blocks have one zero column each. With p_k = 3 exactly (p = 12) the best score
  reaches AUROC 0.89–0.97 (3 seeds), against 0.97–1.00 here.

  Training: Adam 1e-2 (large steps resolve split columns), cosine decay over the
  last 5k of 10k steps, batches of 256. Asserted: each duplicate has a column with cosine > 0.9 and
  norm within 10 % of the Cor 3.4 value; on every mode f matches the block's linear map M_k within
  5 % (held-out noisy inputs of that mode); the best scale-free spikiness score separates noisy
  duplicates from noisy ordinary inputs with AUROC ≥ 0.95, and beats Std(h).
  Measured (seed 0): duplicate cosines 0.99 / 0.96 / 0.91, norms within 5.8 %; per-mode error to M_k
  2.1–2.5 %; AUROC Std(h) 0.67, normalized_std 0.962, peak_energy_fraction 0.966, l4/l2 0.971
  (seeds 1 and 2 of the same setting: best 1.000 and 0.9998)
  """
  d = 20
  dirs = np.asarray(dt.equiangular_directions(jax.random.PRNGKey(11), 6, d, cosine=-0.2), np.float32)
  means, dup_points = 3.0 * dirs[:3], 3.0 * dirs[3:]
  bases = jax.vmap(lambda k: jnp.linalg.qr(jax.random.normal(k, (d, 2)))[0])(jax.random.split(jax.random.PRNGKey(12), 3))
  mix = dt.GaussianMixture(jnp.asarray(means), jnp.full((3,), 1 / 3), 0.5 * bases, jnp.zeros(3))
  data = dt.sample_mixture(jax.random.PRNGKey(13), mix, 3000)
  x0 = np.concatenate([np.asarray(data.x), dup_points])
  dup = dt.duplicate_samples(x0, np.concatenate([np.asarray(data.labels), [3, 4, 5]]), [3000, 3001, 3002], 199)
  x, lab = np.asarray(dup.x), np.asarray(dup.labels)
  beta = dt.separability(x, lab).beta
  assert beta < 0, f"set-up: means and duplicates must be separable (beta < 0), got {beta:.3g}"
  regime = dt.predicted_regime(x, lab, None, 1e-4, 15).regime
  assert regime == "hybrid", f"set-up: the predicted regime must be hybrid, got {regime!r}"
  cfg = dt.preset("generalization_closed_form", width=15, learning_rate=1e-2, batch_size=256, steps=10_000,
                  decay_steps=5_000)
  w = np.asarray(dt.train(x, cfg, seed=0).params.w1, np.float64)
  predicted, owner = dt.hybrid_weights(x, lab, dup.is_duplicate, cfg.sigma, cfg.lam, cfg.width)
  for ell, v in zip(np.unique(lab[np.asarray(dup.is_duplicate)]), dup_points):
    target = np.linalg.norm(predicted[:, owner == ell][:, 0])
    cos = (w.T @ v) / (np.linalg.norm(w, axis=0) * np.linalg.norm(v))
    j = int(np.argmax(cos))
    assert cos[j] > 0.9 and abs(np.linalg.norm(w[:, j]) / target - 1) < 0.10, (
        f"duplicate {ell}: a column must align with it (cosine > 0.9) with Cor 3.4's norm {target:.4f} within 10 %, "
        f"got cosine {cos[j]:.4f}, norm {np.linalg.norm(w[:, j]):.4f}")
  # the modes keep their statistical blocks: f ≈ M_k on held-out inputs of each mode
  rest = ~np.asarray(dup.is_duplicate) & (lab < 3)
  maps = dt.cluster_linear_maps(x[rest], lab[rest], cfg.sigma, cfg.lam * x.shape[0] / rest.sum(), [4, 4, 4])
  test = dt.sample_mixture(jax.random.PRNGKey(14), mix, 1500)
  xt, lt = np.asarray(test.x, np.float64), np.asarray(test.labels)
  rng = np.random.default_rng(0)
  yt = xt + cfg.sigma * rng.normal(size=xt.shape)
  params = dt.DAEParams(jnp.asarray(w, jnp.float32))
  f = np.asarray(dt.apply_batch(params, yt.astype(np.float32)), np.float64)
  rel = dt.per_mode_relative_error(f, dt.apply_mode_maps(maps, lt, yt), lt)
  assert np.all(rel < 0.05), f"expected each mode within 5 % of its Cor 3.3 map, got {rel}"
  y_dup = np.repeat(dup_points, 300, axis=0) + cfg.sigma * rng.normal(size=(900, d))
  y_ord = np.asarray(data.x[:900]) + cfg.sigma * rng.normal(size=(900, d))
  h_dup, h_ord = (dt.representations(params, y.astype(np.float32)) for y in (y_dup, y_ord))
  scores = {name: dt.auroc(np.asarray(f(h_dup)), np.asarray(f(h_ord))) for name, f in dt.SPIKINESS_SCORES.items()}
  best = max(v for k, v in scores.items() if k != "std")
  assert best >= 0.95 and best > scores["std"] + 0.2, (
      f"the best scale-free score must reach AUROC >= 0.95 and beat Std(h) by 0.2, got {scores}")


def test_predicted_and_observed_regimes_agree_over_a_sweep_in_n():
  """Proof 4, small: seeds × n_k on a 3-mode mixture; ``classify_regime`` (from held-out outputs)
  agrees with ``predicted_regime`` (from data and config) on ≥ 90 % of the decided models.

  The full sweep over p, λ and σ is experiments/regime_transition.py."""
  k_mix, k_train, k_test = jax.random.split(jax.random.PRNGKey(0), 3)
  mix = dt.gaussian_mixture(k_mix, 3, 20, mean_norm=3.0, rank=12, cov_scale=0.5)
  per_mode = (1, 2, 10, 40)
  train = dt.sample_mixture(k_train, mix, 3 * max(per_mode), exact_counts=True)
  x, labels = dt.interleave_by_label(train.x, train.labels)  # sizes are prefixes with n_k of each mode
  x_test = np.asarray(dt.sample_mixture(k_test, mix, 400).x, np.float64)
  y_test = x_test + SIGMA * np.random.default_rng(0).normal(size=x_test.shape)
  cfg = dt.TrainConfig(width=9, sigma=SIGMA, lam=1e-4, optimizer="adam", learning_rate=1e-2, steps=4000,
                       decay_steps=2000, batch_size=128, log_every=500)
  res = dt.train_sweep(x, cfg, seeds=[0, 1], sizes=[3 * k for k in per_mode])
  predicted, observed, emp_excess = [], [], {}
  for i, row in enumerate(res.grid):
    n = int(row["num_samples"])
    x_n = x[:n].astype(np.float64)
    f = np.asarray(dt.apply_batch(res.model(i), y_test.astype(np.float32)), np.float64)
    predicted.append(dt.predicted_regime(x_n, labels[:n], None, cfg.lam, cfg.width).regime)
    observed.append(dt.classify_regime(dt.memorization_report(f, x_n, x_test)))
    emp = jax.vmap(dt.empirical_denoiser, in_axes=(0, None, None))(jnp.asarray(y_test, jnp.float32),
                                                                   jnp.asarray(x_n, jnp.float32), SIGMA)
    emp_excess[n // 3] = dt.memorization_report(np.asarray(emp, np.float64), x_n, x_test).excess
  corr = dt.correspondence(predicted, observed)
  assert {"memorization", "generalization"} <= set(predicted), (
      f"the sweep must predict both memorization and generalization, got {predicted}")
  assert corr.decided == 6 and corr.agreement >= 0.9, (
      f"expected 6 decided models agreeing on >= 90 %, got {corr.decided} at {corr.agreement:.0%}: {corr.summary()}")
  # Not a vacuous criterion: at n_k = 10 the empirical optimum still copies, the network does not.
  assert emp_excess[10] > 0.5, f"at n_k = 10 f_emp must still copy (excess > 0.5), got {emp_excess}"
