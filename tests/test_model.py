import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt


def test_init_shapes_range_and_default_scale():
  key = jax.random.PRNGKey(0)
  p = dt.init_params(key, 100, 30)
  assert p.tied and p.w2 is None and p.w1.shape == (100, 30) and p.w1.dtype == jnp.float32
  w = np.asarray(p.w1)
  assert np.abs(w).max() <= 0.1  # 1/sqrt(100)
  # U(-a, a) has variance a^2/3: a = 0.1 -> std 0.0577
  assert abs(w.std() - 0.1 / np.sqrt(3)) < 0.003
  q = dt.init_params(key, 100, 30, tied=False)
  assert q.w2.shape == (100, 30) and not np.allclose(q.w1, q.w2)
  same = dt.init_params(key, 100, 30)
  np.testing.assert_array_equal(p.w1, same.w1)


def test_apply_matches_formula(rng):
  w1, w2 = rng.normal(size=(2, 7, 5)).astype(np.float32)
  y = rng.normal(size=7).astype(np.float32)
  h = np.maximum(w1.T @ y, 0)
  tied = dt.DAEParams(jnp.asarray(w1))
  untied = dt.DAEParams(jnp.asarray(w1), jnp.asarray(w2))
  np.testing.assert_allclose(dt.representation(tied, y), h, rtol=1e-6)
  assert (h == 0).any() and (h > 0).any()  # the ReLU is exercised
  np.testing.assert_allclose(dt.dae_apply(tied, y), w1 @ h, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(dt.dae_apply(untied, y), w2 @ h, rtol=1e-5, atol=1e-6)


def test_vmap_over_inputs_and_over_models(rng):
  params = dt.init_params(jax.random.PRNGKey(1), 6, 4)
  ys = jnp.asarray(rng.normal(size=(9, 6)), jnp.float32)
  batched = jax.vmap(dt.dae_apply, in_axes=(None, 0))(params, ys)
  for i in range(9):
    np.testing.assert_allclose(batched[i], dt.dae_apply(params, ys[i]), rtol=1e-5, atol=1e-7)
  # An ensemble of models is the constructor vmapped over keys.
  keys = jax.random.split(jax.random.PRNGKey(2), 3)
  ensemble = jax.vmap(lambda k: dt.init_params(k, 6, 4))(keys)
  assert ensemble.w1.shape == (3, 6, 4)
  outs = jax.vmap(dt.dae_apply, in_axes=(0, None))(ensemble, ys[0])
  np.testing.assert_allclose(outs[1], dt.dae_apply(dt.DAEParams(ensemble.w1[1]), ys[0]), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: dt.init_params(jax.random.PRNGKey(0), 5, 0), "width"),
    (lambda: dt.init_params(jax.random.PRNGKey(0), 0, 3), "dim"),
    (lambda: dt.init_params(jax.random.PRNGKey(0), 5, 3, scale=-1.0), "scale"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3))), jnp.ones(4)), "y must have shape"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3))), jnp.ones((2, 5))), "y must have shape"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones((5, 3)), jnp.ones((5, 4))), jnp.ones(5)), "params.w2"),
    (lambda: dt.dae_apply(dt.DAEParams(jnp.ones(5)), jnp.ones(5)), "params.w1"),
])
def test_bad_input(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_columns_do_not_depend_on_width():
  key = jax.random.PRNGKey(5)
  narrow, wide = dt.init_params(key, 9, 3, tied=False), dt.init_params(key, 9, 7, tied=False)
  np.testing.assert_array_equal(narrow.w1, wide.w1[:, :3])
  np.testing.assert_array_equal(narrow.w2, wide.w2[:, :3])
