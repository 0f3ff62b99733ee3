"""Memorisation detection scores and metrics: hand-made codes with known values, the structured
Jacobian against autodiff, order invariance, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

P = 8


def _params(d=12, p=P, *, tied=True, skip=0.3, seed=0):
  params = dt.init_diffusion_params(jax.random.PRNGKey(seed), d, p, time_hidden=4, tied=tied)
  gate = jax.tree.map(lambda a: 0.3 * jax.random.normal(jax.random.PRNGKey(seed + 1), a.shape), params.gate)
  return params._replace(gate=gate, skip=jnp.asarray(skip, jnp.float32))


def _samples(m=6, d=12, seed=2):
  return jax.random.normal(jax.random.PRNGKey(seed), (m, d))


@pytest.mark.parametrize("value", [0.5, 3.0])
def test_code_scores_of_a_one_hot_code(value):
  h = np.zeros((1, P))
  h[0, 2] = value
  expected = {
      "std": value * np.sqrt(1 / P - 1 / P ** 2),
      "normalized_std": np.sqrt((1 - 1 / P) / P),
      "peak_energy_fraction": 1.0,
      "l4_l2_ratio": 1.0,
      "inverse_participation": 1.0,
  }
  for name, want in expected.items():
    np.testing.assert_allclose(dt.code_scores(h, name), [want], rtol=1e-6, err_msg=name)


def test_code_scores_of_k_equal_units():
  k = 4
  h = np.zeros((1, P))
  h[0, :k] = 2.0
  mean = 2.0 * k / P
  std = np.sqrt(k * (2.0 - mean) ** 2 / P + (P - k) * mean ** 2 / P)
  np.testing.assert_allclose(dt.code_scores(h, "std"), [std], rtol=1e-6, err_msg="std")
  np.testing.assert_allclose(dt.code_scores(h, "peak_energy_fraction"), [1 / k], rtol=1e-6,
                             err_msg="peak_energy_fraction of k equal units must be 1/k")
  np.testing.assert_allclose(dt.code_scores(h, "inverse_participation"), [1 / k], rtol=1e-6,
                             err_msg="inverse_participation of k equal units must be 1/k")
  np.testing.assert_allclose(dt.code_scores(h, "l4_l2_ratio"), [k ** -0.25], rtol=1e-6,
                             err_msg="l4_l2_ratio of k equal units must be k^(-1/4)")


def test_code_scores_average_over_draws():
  one_hot = np.zeros(P)
  one_hot[0] = 1.0
  uniform = np.ones(P)
  codes = np.stack([one_hot, uniform])[None]  # (1 sample, 2 draws, P)
  np.testing.assert_allclose(dt.code_scores(codes, "peak_energy_fraction"), [(1.0 + 1 / P) / 2], rtol=1e-6,
                             err_msg="a sample's score must be the mean over its draws")


def test_detection_codes_are_the_relu_of_the_renoised_samples():
  params = _params()
  x = _samples()
  key = jax.random.PRNGKey(5)
  eps = dt.detection_noise(key, x, 2)
  chex.assert_shape(eps, (2, 6, 12))
  want = np.maximum(np.einsum("kmd,dp->mkp", np.asarray(x)[None] + 0.2 * np.asarray(eps), np.asarray(params.w1)), 0)
  got = dt.detection_codes(params, x, key, sigma_det=0.2, num_draws=2)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg="codes must be ReLU((x + sigma eps) W1)")
  gated = dt.detection_codes(params, x, key, sigma_det=0.2, num_draws=2, gated=True)
  np.testing.assert_allclose(gated, want * np.asarray(dt.time_gate(params, 0.2)), rtol=1e-5, atol=1e-6,
                             err_msg="gated codes must be the codes times the time gate at sigma_det")


def test_denoiser_scores_of_known_denoisers():
  x = _samples()
  key = jax.random.PRNGKey(3)
  sigma = 0.4
  eps = np.asarray(dt.detection_noise(key, x, 1))[0]
  y = np.asarray(x) + sigma * eps
  error, move = dt.denoiser_scores(lambda v, s: jnp.zeros_like(v), x, key, sigma_det=sigma)
  np.testing.assert_allclose(error, np.sum(np.asarray(x) ** 2, axis=1), rtol=1e-5,
                             err_msg="zero denoiser: error must be |x|^2")
  np.testing.assert_allclose(move, np.linalg.norm(y, axis=1), rtol=1e-5, err_msg="zero denoiser: move must be |y|")
  error, move = dt.denoiser_scores(lambda v, s: v, x, key, sigma_det=sigma)
  np.testing.assert_allclose(error, sigma ** 2 * np.sum(eps ** 2, axis=1), rtol=1e-4,
                             err_msg="identity denoiser: error must be sigma^2 |eps|^2")
  np.testing.assert_allclose(move, 0.0, atol=1e-6, err_msg="identity denoiser: move must be 0")


@pytest.mark.parametrize("tied,d,p", [(True, 12, 8), (False, 12, 8), (True, 6, 9)])
def test_structured_jacobian_spectrum_equals_autodiff(tied, d, p):
  params = _params(d=d, p=p, tied=tied)
  y = _samples(1, d)[0]
  fast = dt.diffusion_jacobian_spectrum(params, y, 0.3)
  slow = dt.jacobian_spectrum_of(dt.diffusion_denoiser(params), y, 0.3)
  chex.assert_shape(fast, (d,))
  np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5,
                             err_msg="structured Jacobian spectrum must match autodiff")


def test_jacobian_svd_of_a_linear_denoiser_is_its_matrix_svd():
  # D(y) = A y: J = A at every y. float64 reference: numpy's SVD of A.
  rng = np.random.default_rng(3)
  a = rng.standard_normal((7, 7))
  u, s, _ = np.linalg.svd(a)
  y = jnp.asarray(rng.standard_normal(7), jnp.float32)
  out = dt.jacobian_svd_of(lambda v, sigma: v @ jnp.asarray(a.T, jnp.float32), y, 0.5)
  chex.assert_shape([out.singular_values, out.top_direction], (7,))
  np.testing.assert_allclose(out.singular_values, s, rtol=1e-5, err_msg="singular values must be those of A")
  cos = abs(float(np.dot(np.asarray(out.top_direction, np.float64), u[:, 0])))
  assert cos > 1 - 1e-5, f"top direction must be A's first left singular vector up to sign, |cos| = {cos}"
  np.testing.assert_allclose(dt.jacobian_spectrum_of(lambda v, sigma: v @ jnp.asarray(a.T, jnp.float32), y, 0.5),
                             s, rtol=1e-5, err_msg="jacobian_spectrum_of must give A's singular values")


def test_jacobian_svd_of_a_nonlinear_denoiser_is_taken_at_y_and_sigma_and_vmaps():
  # D(y, σ) = tanh(A y)/(1 + σ²): J = diag(1 − tanh²(A y)) A/(1 + σ²). float64 reference by numpy.
  rng = np.random.default_rng(4)
  a = rng.standard_normal((6, 6)) / 2
  ys = rng.standard_normal((3, 6))
  denoise = lambda v, sigma: jnp.tanh(v @ jnp.asarray(a.T, jnp.float32)) / (1 + sigma ** 2)
  out = jax.vmap(lambda v: dt.jacobian_svd_of(denoise, v, 0.7))(jnp.asarray(ys, jnp.float32))
  chex.assert_shape([out.singular_values, out.top_direction], (3, 6))
  for k, y in enumerate(ys):
    u, s, _ = np.linalg.svd((1 - np.tanh(a @ y)[:, None] ** 2) * a / (1 + 0.7 ** 2))
    np.testing.assert_allclose(out.singular_values[k], s, rtol=1e-4, atol=1e-6,
                               err_msg=f"input {k}: singular values of J at y and sigma")
    cos = abs(float(np.dot(np.asarray(out.top_direction[k], np.float64), u[:, 0])))
    assert cos > 1 - 1e-4, f"input {k}: top direction must be J's first left singular vector, |cos| = {cos}"


def test_effective_rank_of_known_spectra():
  np.testing.assert_allclose(dt.effective_rank(jnp.array([2.0, 2.0, 2.0, 0.0])), 3.0, rtol=1e-6,
                             err_msg="3 equal singular values: effective rank 3")
  np.testing.assert_allclose(dt.effective_rank(jnp.array([5.0, 0.0, 0.0])), 1.0, rtol=1e-6,
                             err_msg="one singular value: effective rank 1")
  zero = float(dt.effective_rank(jnp.zeros(3)))
  assert zero == 0.0, f"the zero spectrum must have effective rank 0, got {zero}"


def test_memorised_input_of_a_one_unit_model_has_rank_one_jacobian():
  # Two units ±e_0, no gate, no skip: near 5 e_0 only +e_0 fires and J = e_0 e_0ᵀ.
  d = 10
  w = np.zeros((d, 2), np.float32)
  w[0, 0] = 1.0
  w[0, 1] = -1.0  # the antipodal unit stays off near 5 e_0
  params = dt.DiffusionParams(w1=jnp.asarray(w))
  x = np.zeros((1, d), np.float32)
  x[0, 0] = 5.0
  ranks = dt.jacobian_ranks(params, x, jax.random.PRNGKey(0), sigma_det=0.01)
  np.testing.assert_allclose(ranks, [1.0], rtol=1e-6, err_msg="one active unit: Jacobian rank 1")


def test_detection_scores_do_not_depend_on_the_order_of_samples():
  params = _params()
  x = np.asarray(_samples(7))
  train = x + 0.05
  perm = np.array([4, 0, 6, 2, 1, 5, 3])
  key = jax.random.PRNGKey(9)
  a = dt.detection_scores(params, x, key, train_x=train, num_draws=2)
  b = dt.detection_scores(params, x[perm], key, train_x=train, num_draws=2)
  assert a.computed() == dt.DETECTORS, f"every detector must be computed: expected {dt.DETECTORS}, got {a.computed()}"
  for name in a.computed():
    np.testing.assert_array_equal(getattr(a, name)[perm], getattr(b, name), err_msg=name)


def test_oriented_scores_flip_the_lower_is_memorised_detectors():
  scores = dt.DetectionScores(std=np.array([1.0, 2.0]), nearest_distance=np.array([3.0, 4.0]))
  np.testing.assert_array_equal(scores.oriented("std"), [1.0, 2.0], err_msg="std is kept as is")
  np.testing.assert_array_equal(scores.oriented("nearest_distance"), [-3.0, -4.0],
                                err_msg="nearest_distance (lower is memorised) must be negated")
  with pytest.raises(ValueError, match="jacobian_rank"):
    scores.oriented("jacobian_rank")


def test_detection_metrics_on_separated_and_identical_scores():
  pos, neg = np.arange(10.0) + 100, np.arange(20.0)
  m = dt.detection_metrics(pos, neg, num_bootstrap=50)
  got = (m.auroc, m.tpr, m.auroc_low, m.auroc_high)
  assert got == (1.0, 1.0, 1.0, 1.0), f"separated scores: AUROC, TPR and the AUROC interval must all be 1, got {got}"
  same = dt.detection_metrics(np.ones(5), np.ones(8), num_bootstrap=50)
  assert same.auroc == 0.5 and same.tpr == 0.0, (
      f"identical scores: expected AUROC 0.5 and TPR 0, got {same.auroc} and {same.tpr}")
  rng = np.random.default_rng(0)
  noisy = dt.detection_metrics(rng.normal(1, 1, 300), rng.normal(0, 1, 300), num_bootstrap=300)
  assert noisy.auroc_low < noisy.auroc < noisy.auroc_high, (
      f"the bootstrap interval must strictly contain the AUROC, got {noisy.auroc_low} < {noisy.auroc} < "
      f"{noisy.auroc_high}")
  pos, neg = rng.normal(size=50), rng.normal(size=50)
  first = dt.detection_metrics(pos, neg, seed=3, num_bootstrap=100)
  again = dt.detection_metrics(pos, neg, seed=3, num_bootstrap=100)
  assert first == again, f"the same seed must give the same metrics, got {first} and {again}"


def test_roc_curve_area_equals_auroc():
  rng = np.random.default_rng(1)
  pos = np.round(rng.normal(1, 1, 200), 1)  # ties included
  neg = np.round(rng.normal(0, 1, 300), 1)
  fpr, tpr = dt.roc_curve(pos, neg)
  ends = (fpr[0], tpr[0], fpr[-1], tpr[-1])
  assert ends == (0.0, 0.0, 1.0, 1.0), f"the ROC curve must run from (0, 0) to (1, 1), got {ends}"
  assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0), "FPR and TPR must be non-decreasing along the curve"
  np.testing.assert_allclose(np.trapezoid(tpr, fpr), dt.auroc(pos, neg), rtol=1e-12,
                             err_msg="the area under the ROC curve must equal the AUROC")


@pytest.mark.parametrize("kwargs,match", [
    (dict(sigma_det=0.0), "sigma_det"),
    (dict(sigma_det=-1.0), "sigma_det"),
    (dict(num_draws=0), "num_draws"),
    (dict(detectors=("std", "nope")), "detectors"),
    (dict(detectors=("nearest_distance",)), "train_x"),
])
def test_detection_scores_reject_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    dt.detection_scores(_params(), _samples(), jax.random.PRNGKey(0), **kwargs)


def test_detection_rejects_bad_samples_and_scores():
  params = _params()
  bad = np.array(_samples())
  bad[1, 2] = np.nan
  with pytest.raises(ValueError, match="samples"):
    dt.detection_codes(params, bad, jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="samples"):
    dt.detection_codes(params, np.zeros((3, 5)), jax.random.PRNGKey(0))
  with pytest.raises(ValueError, match="scores_positive"):
    dt.detection_metrics([1.0], [0.0, 1.0])
  with pytest.raises(ValueError, match="scores_negative"):
    dt.detection_metrics([1.0, 2.0], [0.0, np.nan])
  with pytest.raises(ValueError, match="fpr"):
    dt.detection_metrics([1.0, 2.0], [0.0, 1.0], fpr=1.0)
  with pytest.raises(ValueError, match="score"):
    dt.code_scores(np.ones((2, P)), "mean")


def test_scale_free_oracle_sees_a_faint_copy_at_distance_zero():
  params = _params()
  train = np.asarray(_samples(4))
  faint = 0.25 * train[:2]
  l2 = dt.detection_scores(params, faint, jax.random.PRNGKey(0), train_x=train, detectors=("nearest_distance",))
  unit = dt.detection_scores(params, faint, jax.random.PRNGKey(0), train_x=train, detectors=("nearest_distance",),
                             scale_free_oracle=True)
  np.testing.assert_allclose(l2.nearest_distance, 0.75 * np.linalg.norm(train[:2], axis=1), rtol=1e-6,
                             err_msg="l2 oracle: a copy at 1/4 scale lies 3/4 |x| from x")
  np.testing.assert_allclose(unit.nearest_distance, 0.0, atol=1e-6,
                             err_msg="scale-free oracle: a faint copy must lie at distance 0")
  with pytest.raises(ValueError, match="scale_free_oracle"):
    dt.detection_scores(params, faint, jax.random.PRNGKey(0), train_x=train, scale_free_oracle="yes")
