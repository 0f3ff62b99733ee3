"""Representation steering (eq. 11): a = 0 and v = 0 change nothing, the window is respected,
bad input is named."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

D, P, M = 12, 8, 5
SIGMAS = dt.geometric_sigmas(2.0, 0.02, 16)


def _params(seed=0):
  params = dt.init_diffusion_params(jax.random.PRNGKey(seed), D, P, time_hidden=4)
  gate = jax.tree.map(lambda a: 0.3 * jax.random.normal(jax.random.PRNGKey(seed + 1), a.shape), params.gate)
  # W scaled so that the denoiser contracts (‖W‖₂² < 1): samples stay finite.
  return params._replace(w1=0.3 * params.w1, gate=gate, skip=jnp.asarray(0.2, jnp.float32))


def _reference(r=6):
  return jax.random.normal(jax.random.PRNGKey(7), (r, D)) + 2.0


def test_concept_direction_is_the_mean_gated_code_of_noised_references():
  params = _params()
  ref = _reference()
  key = jax.random.PRNGKey(3)
  v = dt.concept_direction(params, ref, key, 0.3)
  chex.assert_shape(v, (P,))
  noisy = ref + 0.3 * jax.random.normal(key, ref.shape)
  want = np.mean([np.asarray(dt.diffusion_representation(params, y, 0.3)) for y in noisy], axis=0)
  np.testing.assert_allclose(v, want, rtol=1e-5, atol=1e-7,
                             err_msg="the concept direction must be the mean gated code of the noised references")


@pytest.mark.parametrize("method", dt.SAMPLER_METHODS)
def test_zero_strength_reproduces_unsteered_sampling_bit_for_bit(method):
  params = _params()
  v = dt.concept_direction(params, _reference(), jax.random.PRNGKey(1), 0.3)
  window = dt.steering_window(SIGMAS, 0, 10)
  key = jax.random.PRNGKey(4)
  plain = dt.sample(dt.diffusion_denoiser(params), key, (M, D), SIGMAS, method=method)
  steer = jax.jit(lambda a: dt.sample(dt.steered_denoiser(params, v, a, window), key, (M, D), SIGMAS, method=method))
  np.testing.assert_array_equal(steer(0.0), plain,
                                err_msg=f"{method}: strength 0 must reproduce unsteered sampling bit for bit")
  assert not np.array_equal(steer(3.0), plain), f"{method}: strength 3 must change the samples, they equal unsteered"


def test_zero_direction_changes_nothing():
  params = _params()
  window = dt.steering_window(SIGMAS, 2, 12)
  key = jax.random.PRNGKey(5)
  plain = dt.sample(dt.diffusion_denoiser(params), key, (M, D), SIGMAS)
  steered = dt.sample(dt.steered_denoiser(params, jnp.zeros(P), 10.0, window), key, (M, D), SIGMAS)
  np.testing.assert_array_equal(steered, plain,
                                err_msg="a zero direction at strength 10 must reproduce unsteered sampling bit for bit")


def test_hook_adds_the_direction_only_inside_the_window():
  window = dt.steering_window(SIGMAS, 3, 6)
  assert window.sigma_high == pytest.approx(float(SIGMAS[3])), (
      f"steps 3..5: sigma_high must be SIGMAS[3] = {float(SIGMAS[3]):.6g}, got {window.sigma_high}")
  assert window.sigma_low == pytest.approx(float(SIGMAS[5])), (
      f"steps 3..5: sigma_low must be SIGMAS[5] = {float(SIGMAS[5]):.6g}, got {window.sigma_low}")
  v = jnp.arange(1.0, P + 1.0)
  hook = dt.steering_hook(v, 2.0, window)
  h = jnp.ones(P)
  for i in range(SIGMAS.shape[0] - 1):
    want = h + 2.0 * v if 3 <= i < 6 else h
    np.testing.assert_array_equal(hook(h, SIGMAS[i]), want,
                                  err_msg=f"step {i}: the hook must add 2·v inside the window [3, 6), nothing outside")


def test_steering_moves_samples_toward_the_concept():
  # The decoder reads h + a·v: at large a the last prediction W(h + a·v) + s·y is dominated by a·W v.
  params = _params()
  ref = _reference()
  v = dt.concept_direction(params, ref, jax.random.PRNGKey(1), 0.3)
  last = SIGMAS.shape[0] - 2  # steer the last step only: its prediction is the sample
  window = dt.steering_window(SIGMAS, last, last + 1)
  key = jax.random.PRNGKey(6)
  target = np.asarray(params.w1 @ v)
  cosines = []
  for a in (0.0, 1e3):
    x = np.asarray(dt.sample(dt.steered_denoiser(params, v, a, window), key, (M, D), SIGMAS))
    cosines.append(np.mean(x @ target / (np.linalg.norm(x, axis=1) * np.linalg.norm(target))))
  assert cosines[1] > 0.999 and cosines[1] > cosines[0] + 0.05, (
      f"at a = 1e3 the mean cosine to W v must exceed 0.999 and the unsteered {cosines[0]:.4f} by 0.05, "
      f"got {cosines[1]:.6f}")


@pytest.mark.parametrize("start,stop", [(-1, 3), (3, 3), (5, 2), (0, "N"), (2.0, 5)])
def test_window_outside_the_sampler_steps_is_rejected(start, stop):
  stop = SIGMAS.shape[0] if stop == "N" else stop  # N levels make N - 1 steps
  with pytest.raises(ValueError, match="start|stop|window"):
    dt.steering_window(SIGMAS, start, stop)


def test_bad_direction_and_references_are_named():
  params = _params()
  window = dt.steering_window(SIGMAS, 0, 4)
  with pytest.raises(ValueError, match="direction"):
    dt.steered_denoiser(params, jnp.ones(P + 1), 1.0, window)
  with pytest.raises(ValueError, match="direction"):
    dt.steered_denoiser(params, jnp.ones((P, 1)), 1.0, window)
  with pytest.raises(ValueError, match="reference"):
    dt.concept_direction(params, _reference(1), jax.random.PRNGKey(0), 0.3)
  with pytest.raises(ValueError, match="reference"):
    dt.concept_direction(params, np.ones((3, D + 1)), jax.random.PRNGKey(0), 0.3)
  with pytest.raises(ValueError, match="sigma_ref"):
    dt.concept_direction(params, _reference(), jax.random.PRNGKey(0), 0.0)
  with pytest.raises(ValueError, match="strength"):
    dt.steering_hook(jnp.ones(P), float("nan"), window)
