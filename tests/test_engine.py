"""The generic engine: the one-σ DAE keeps the 0.2 engine's numbers; both loops agree; any Model trains."""

import json
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

# The engine's tests train models.
pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).parent / "data"


def _cpu_vector_extensions():
  try:
    for line in open("/proc/cpuinfo"):
      if line.startswith("flags"):
        return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "sse4")))
  except OSError:
    pass
  return None


@pytest.fixture(scope="module")
def reference():
  meta = json.loads((REFERENCE / "engine_reference.json").read_text())
  with np.load(REFERENCE / "engine_reference.npz") as f:
    arrays = {k: f[k] for k in f.files}
  # XLA:CPU compiles for the host's vector extensions, which fix the order of float reductions:
  # bit equality is the claim on a CPU with the reference's extensions, 1e-5 elsewhere.
  same_machine = (jax.default_backend() == meta["backend"] and jax.__version__ == meta["jax_version"]
                  and _cpu_vector_extensions() == meta["cpu_vector_extensions"])
  return meta, arrays, same_machine


def _assert_same(actual, expected, exact, what):
  actual = np.asarray(actual)
  if exact:
    np.testing.assert_array_equal(actual, expected, err_msg=f"{what}: the 0.2 engine's bits")
  else:
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=f"{what}: the 0.2 engine's numbers")


@pytest.mark.parametrize("case", ["full_batch_adam_decay", "minibatch_torch_per_side", "rmsprop_full_torch_per_side",
                                  "sgd_untied_without_replacement_erfinv", "adamw_jax_normal"])
def test_the_dae_keeps_the_weights_the_0_2_engine_trained(reference, case):
  meta, arrays, exact = reference
  cfg = dt.TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["cases"][case].items()})
  res = dt.train(arrays["x"], cfg, seed=meta["seed"], num_samples=meta["num_samples"])
  _assert_same(res.params.w1, arrays[f"{case}/w1"], exact, f"{case} w1")
  if f"{case}/w2" in arrays:
    _assert_same(res.params.w2, arrays[f"{case}/w2"], exact, f"{case} w2")
  _assert_same(res.loss_history, arrays[f"{case}/loss_history"], exact, f"{case} loss history")
  if f"{case}/snapshot_w1" in arrays:
    _assert_same(res.snapshots.w1, arrays[f"{case}/snapshot_w1"], exact, f"{case} snapshots")


def test_a_dae_sweep_keeps_the_weights_the_0_2_engine_trained(reference):
  meta, arrays, exact = reference
  sw = meta["sweep"]
  res = dt.train_sweep(arrays["x"], dt.TrainConfig(**sw["config"]), seeds=sw["seeds"], sizes=sw["sizes"],
                       widths=sw["widths"])
  _assert_same(res.params.w1, arrays["sweep/w1"], exact, "sweep w1")
  _assert_same(res.loss_history, arrays["sweep/loss_history"], exact, "sweep loss history")


def test_the_python_loop_gives_the_numbers_of_the_compiled_scan(reference):
  _, arrays, _ = reference
  x = arrays["x"]
  for cfg in (dt.TrainConfig(width=5, sigma=0.3, lam=1e-3, learning_rate=1e-2, steps=120, batch_size=4, log_every=40,
                             snapshot_steps=(0, 80)),
              dt.preset("diffusion_memorizing_cpu", width=6, time_hidden=8, steps=120, log_every=40)):
    scan = dt.train(x, cfg, seed=2, loop="scan")
    loop = dt.train(x, cfg, seed=2, loop="python")
    chex.assert_trees_all_close(scan.params, loop.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scan.loss_history, loop.loss_history, rtol=1e-5,
                               err_msg=f"{cfg.model}: python loop vs scan, loss history")
    if cfg.snapshot_steps:
      np.testing.assert_allclose(scan.snapshots.w1, loop.snapshots.w1, rtol=1e-5, atol=1e-6,
                                 err_msg=f"{cfg.model}: python loop vs scan, snapshots")


def test_a_python_loop_sweep_equals_the_scan_sweep_snapshots_and_chunks_included():
  x = jax.random.normal(jax.random.key(0), (9, 6))
  cfg = dt.TrainConfig(width=4, sigma=0.4, learning_rate=1e-2, steps=40, batch_size=5, log_every=10,
                       snapshot_steps=(0, 20, 40))
  kw = dict(seeds=(0, 1, 2), widths=(3, 4), models_per_chunk=4)
  scan = dt.train_sweep(x, cfg, loop="scan", **kw)
  loop = dt.train_sweep(x, cfg, loop="python", **kw)
  chex.assert_shape([loop.snapshots.w1, scan.snapshots.w1], (6, 3, 6, 4))
  np.testing.assert_allclose(loop.snapshots.w1, scan.snapshots.w1, rtol=1e-5, atol=1e-6,
                             err_msg="python-loop sweep vs scan sweep: snapshots")
  np.testing.assert_allclose(loop.params.w1, scan.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="python-loop sweep vs scan sweep: final weights")
  np.testing.assert_allclose(loop.loss_history, scan.loss_history, rtol=1e-5,
                             err_msg="python-loop sweep vs scan sweep: loss history")


def test_the_model_key_is_none_of_the_batch_and_noise_keys():
  from dae_theory._src.engine import step_keys
  cfg = dt.TrainConfig(num_draws=2)
  k_batch, noise_keys, k_model = step_keys(jax.random.key(3), 17, cfg)
  data = lambda k: np.asarray(jax.random.key_data(k)).ravel().tolist()
  others = [data(k_batch)] + [data(k) for k in noise_keys] + [data(k) for k in jax.random.split(k_model)]
  assert data(k_model) not in others[:3], "the model key must differ from the batch and noise keys"
  # its children are not theirs either
  assert not set(map(tuple, others[3:])) & set(map(tuple, others[:3])), (
      "the model key's children must differ from the batch and noise keys")


def test_the_step_factory_reproduces_a_compiled_run():
  x = jax.random.normal(jax.random.key(0), (9, 6))
  cfg = dt.TrainConfig(width=4, sigma=0.4, learning_rate=1e-2, steps=30, batch_size=5, log_every=10)
  trainer = dt.make_trainer(dt.RELU_DAE, cfg, cfg.width)
  spec = dt.model_spec(cfg, 1, 9)
  state = trainer.init(spec, x)
  step = jax.jit(trainer.step)
  losses = []
  for i in range(cfg.steps):
    state, loss = step(state, spec, x, i)
    losses.append(float(loss))
  res = dt.train(x, cfg, seed=1)
  np.testing.assert_allclose(state.params.w1, res.params.w1, rtol=1e-5, atol=1e-6,
                             err_msg="stepping make_trainer's step must reproduce train's weights")
  np.testing.assert_allclose(np.mean(np.reshape(losses, (3, 10)), axis=1), res.loss_history, rtol=1e-5,
                             err_msg="per-10-step mean losses must be train's loss history")


def test_a_user_model_trains_with_the_engine():
  """A Model written outside the package (a linear denoiser W Wᵀ y) goes through train_model and
  train_sweep: the linear optimum at λ = 0 is the shrunk PCA S (S + σ²I)⁻¹ on the data's top-p space."""
  def init(key, dim, width_max, cfg, dtype):
    return {"w": 0.1 * jax.random.normal(key, (dim, width_max), dtype)}

  def objective(params, batch, noise, weights, spec, cfg, key):
    y = batch + spec.sigma.astype(batch.dtype) * noise[0]
    err = jnp.sum((y @ params["w"] @ params["w"].T - batch) ** 2, axis=-1)
    return jnp.sum(weights * err) / jnp.sum(weights)

  mask = lambda params, width: {"w": (jnp.arange(params["w"].shape[1]) < width).astype(params["w"].dtype)[None]}
  linear = dt.Model("linear", init, objective, mask, sweep_fields=("sigma",))
  rng = np.random.default_rng(0)
  x = rng.normal(size=(400, 5)) * np.array([3.0, 2.0, 0.5, 0.3, 0.1])
  cfg = dt.TrainConfig(width=2, sigma=0.5, learning_rate=3e-3, steps=4000, decay_steps=2000, log_every=1000,
                       num_draws=8)
  res = dt.train_model(linear, x, cfg, seed=0)
  s = x.T @ x / len(x)
  evals, evecs = np.linalg.eigh(s)
  top = evecs[:, -2:]
  optimum = top @ np.diag(evals[-2:] / (evals[-2:] + 0.25)) @ top.T
  learned = np.asarray(res.params["w"] @ res.params["w"].T)
  # Monte Carlo noise of 8 draws/step
  rel = np.linalg.norm(learned - optimum) / np.linalg.norm(optimum)
  assert rel < 0.02, f"W W^T must reach the shrunk PCA optimum within 2 % (Frobenius), got {rel:.2%}"
  looped = dt.train_model(linear._replace(loop_on_cpu="python"), x, cfg, seed=0)  # the model picks its loop
  np.testing.assert_allclose(looped.params["w"], res.params["w"], rtol=1e-4, atol=1e-6,
                             err_msg="the python loop must give the scan's weights")
  sweep = dt.train_sweep(x, cfg, model=linear, seeds=(0,), widths=(1, 2))
  np.testing.assert_allclose(sweep.model(1)["w"], res.params["w"], rtol=1e-4, atol=1e-5,
                             err_msg="a sweep's model must be the model trained alone")
  # the padded unit stays exactly 0
  assert np.all(np.asarray(sweep.params["w"][0, :, 1:]) == 0), "the width-1 model's padded unit must stay exactly 0"


@pytest.mark.parametrize("kwargs, match", [
    (dict(model="unet"), "model must be one of"),
    (dict(model="relu_diffusion", sigma=2.0, sigma_min=2.0), "sigma_min must be below sigma"),
    (dict(model="relu_diffusion", sigma=2.0, sigma_min=-0.1), "sigma_min must be > 0"),
    (dict(model="relu_diffusion", sigma=2.0, num_draws=2), "num_draws must be 1"),
    (dict(model="relu_diffusion", sigma=2.0, tied_gradient="per_side"), "per_side"),
    (dict(time_hidden=0), "time_hidden must be an integer >= 1"),
    (dict(gate=1), "gate must be True or False"),
])
def test_bad_model_configs_are_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    dt.TrainConfig(**kwargs)


def test_bad_engine_arguments_are_named():
  x = np.ones((4, 3), np.float32) * np.arange(1, 5)[:, None]
  cfg = dt.TrainConfig(width=2, steps=10, log_every=10)
  with pytest.raises(ValueError, match="seed must be an integer in"):
    dt.train(x, cfg, seed=2 ** 32)
  with pytest.raises(ValueError, match="loop must be one of"):
    dt.train(x, cfg, loop="fori")
  with pytest.raises(ValueError, match="model must be a Model"):
    dt.train_model("relu_dae", x, cfg)
  with pytest.raises(ValueError, match="sigma_mins applies to models that read sigma_min"):
    dt.train_sweep(x, cfg, sigma_mins=(0.1,))
  with pytest.raises(ValueError, match="sigma_mins must be below every value of sigmas"):
    dt.train_sweep(x, dt.preset("diffusion_memorizing_cpu", width=2, time_hidden=4, steps=10, log_every=10),
                   sigma_mins=(0.1, 3.0))
  with pytest.raises(ValueError, match="seeds must be integers in"):
    dt.train_sweep(x, cfg, seeds=(2 ** 32,))
