"""Deep denoisers: the deep ReLU MLP reduces to the multi-noise ReLU model, the U-Net's EDM
preconditioning, layer activations, and both train in the engine (a sweep's model i equals
training it alone)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

SMALL_UNET = dt.UNetConfig(image_shape=(4, 4, 1), channel_mult=(1, 2), groups=4, embedding=8)
ONE_LEVEL_UNET = dt.UNetConfig(image_shape=(4, 4, 1), channel_mult=(1,), groups=2, embedding=4)


def _init(arch, dim: int, width: int):
  """The model's initial parameters, compiled (flax's init op by op is slow for a U-Net)."""
  model = dt.deep_mlp_model(arch) if isinstance(arch, dt.DeepMLPConfig) else dt.unet_model(arch)
  return jax.jit(lambda key: model.init(key, dim, width, dt.TrainConfig(width=width), jnp.float32))(jax.random.key(0))


def _random_gate(gate, key):
  """The time MLP with a random (non-zero) output layer, so that exp(g) is not 1."""
  out = jax.tree.map(lambda a, k: 0.3 * jax.random.normal(k, a.shape, a.dtype), gate["out"],
                     {"kernel": jax.random.fold_in(key, 0), "bias": jax.random.fold_in(key, 1)})
  return {**gate, "out": out}


def test_one_layer_mlp_without_bias_is_the_multi_noise_relu_model(x64):
  """L = 1 without biases: x̂₀ = W_out [W_1ᵀy]₊ ⊙ exp(g(log σ)) + s·y, the untied diffusion model; loss too."""
  arch = dt.DeepMLPConfig(depth=1, time_hidden=8, bias=False, residual=False, skip=True)
  model = dt.deep_mlp_model(arch)
  cfg = dt.TrainConfig(model="relu_diffusion", width=5, sigma=2.0, sigma_min=0.05)
  params = model.init(jax.random.key(0), 7, 5, cfg, jnp.float64)
  params = {**params, "gate1": _random_gate(params["gate1"], jax.random.key(1)), "skip": jnp.float64(0.2)}
  ref = dt.DiffusionParams(w1=params["dense1"]["kernel"], w2=params["out"]["kernel"].T, gate=params["gate1"],
                           skip=params["skip"])
  y = jax.random.normal(jax.random.key(2), (6, 7), jnp.float64)
  for sigma in (0.05, 0.4, 2.0):
    ours = dt.deep_denoiser(arch, params)(y, jnp.float64(sigma))
    theirs = dt.diffusion_denoiser(ref)(y, jnp.float64(sigma))
    chex.assert_trees_all_close(ours, theirs, rtol=1e-12, atol=1e-12)
  x, noise = np.asarray(y), np.asarray(jax.random.normal(jax.random.key(3), (1, 6, 7), jnp.float64))
  spec = dt.model_spec(cfg.replace(lam=1e-2), 0, 6)._replace(sigma=jnp.float64(2.0), sigma_min=jnp.float64(0.05),
                                                            lam=jnp.float64(1e-2))
  key = jax.random.key(4)
  loss = model.objective(params, x, noise, None, spec, cfg, key)
  sigmas = dt.log_uniform_sigmas(key, 6, 0.05, 2.0, jnp.float64)
  expected = dt.diffusion_loss_given_noise(ref, x, noise[0], sigmas, 1e-2)
  np.testing.assert_allclose(loss, expected, rtol=1e-12,
                             err_msg="the deep MLP's objective at L = 1 must equal the diffusion model's")


def test_residual_layers_add_their_input():
  """With residual, h_l = a_l + h_{l−1} for l ≥ 2: zeroing layer 2's kernel and bias makes h_2 = h_1."""
  arch = dt.DeepMLPConfig(depth=2, time_hidden=4, bias=True, residual=True)
  cfg = dt.TrainConfig(width=6)
  params = dt.deep_mlp_model(arch).init(jax.random.key(0), 5, 6, cfg, jnp.float32)
  params = {**params, "dense2": jax.tree.map(jnp.zeros_like, params["dense2"])}
  acts = dt.layer_activations(arch, params, np.ones((3, 5), np.float32), 0.5)
  assert list(acts) == ["layer1", "layer2"], f"layers must come in forward order, got {list(acts)}"
  chex.assert_shape(acts["layer1"], (3, 6))
  chex.assert_trees_all_equal(acts["layer2"], acts["layer1"])


def test_unet_at_initialisation_is_the_skip_path():
  """F's output convolution starts at 0, so D(y, σ) = c_skip(σ) y exactly (EDM's preconditioning)."""
  params = _init(ONE_LEVEL_UNET, 16, 2)
  y = jax.random.normal(jax.random.key(1), (3, 16))
  denoise = dt.deep_denoiser(ONE_LEVEL_UNET, params)
  for sigma in (0.01, 0.5, 20.0):
    c_skip, c_out, c_in, c_noise = dt.edm_coefficients(sigma, 0.5)
    np.testing.assert_allclose(denoise(y, jnp.float32(sigma)), c_skip * y, rtol=1e-6,
                               err_msg=f"at init D(y, {sigma}) must be c_skip·y")
    # The coefficients of EDM's Table 1: c_skip + c_out²/σ_d² = 1 and c_in² (σ² + σ_d²) = 1.
    np.testing.assert_allclose([c_skip + c_out ** 2 / 0.25, c_in ** 2 * (sigma ** 2 + 0.25), 4 * c_noise],
                               [1.0, 1.0, np.log(sigma)], rtol=1e-6)


def test_unet_layer_activations_have_each_levels_shape():
  params = jax.tree.map(lambda a: a + 0.01, _init(SMALL_UNET, 16, 4))  # a non-zero output convolution
  acts = dt.layer_activations(SMALL_UNET, params, np.ones((2, 16), np.float32), 0.1)
  assert tuple(acts) == SMALL_UNET.layer_names() == ("enc0.0", "enc1.0", "mid", "dec1.0", "dec1.1", "dec0.0",
                                                      "dec0.1")
  shapes = {"enc0.0": (2, 4, 4, 4), "enc1.0": (2, 2, 2, 8), "mid": (2, 2, 2, 8), "dec1.0": (2, 2, 2, 8),
            "dec1.1": (2, 2, 2, 8), "dec0.0": (2, 4, 4, 4), "dec0.1": (2, 4, 4, 4)}
  chex.assert_trees_all_equal_shapes(acts, {k: np.zeros(s) for k, s in shapes.items()})
  chex.assert_tree_all_finite(acts)
  only = dt.layer_activations(SMALL_UNET, params, np.ones((2, 16), np.float32), 0.1, layers=("mid",))
  chex.assert_trees_all_close(only["mid"], acts["mid"], rtol=1e-6)
  with pytest.raises(ValueError, match="layers"):
    dt.layer_activations(SMALL_UNET, params, np.ones((2, 16), np.float32), 0.1, layers=("up_blocks.0",))


def test_model_names_identify_the_architecture():
  names = {dt.deep_mlp_model(dt.DeepMLPConfig(depth=d, bias=b, residual=r)).name
           for d in (2, 3) for b in (False, True) for r in (False, True)}
  assert len(names) == 8, f"8 architectures must have 8 names (results fingerprints use them), got {sorted(names)}"
  assert dt.deep_mlp_model(dt.DeepMLPConfig(depth=3)) is dt.deep_mlp_model(dt.DeepMLPConfig(depth=3)), \
      "one architecture must give one Model (one compiled program)"
  assert dt.unet_model(SMALL_UNET).name != dt.unet_model(dt.UNetConfig()).name


@pytest.mark.slow
@pytest.mark.parametrize("arch", [dt.DeepMLPConfig(depth=2, time_hidden=8, bias=True, residual=True), ONE_LEVEL_UNET],
                         ids=["mlp", "unet"])
def test_a_sweeps_model_equals_training_it_alone(arch):
  """The engine's contract for deep models: model i of a sweep over seeds and n is training it alone."""
  x = np.asarray(jax.random.uniform(jax.random.key(0), (12, 16), minval=-1.0, maxval=1.0))
  model = dt.deep_mlp_model(arch) if isinstance(arch, dt.DeepMLPConfig) else dt.unet_model(arch)
  mlp = isinstance(arch, dt.DeepMLPConfig)
  # SGD for the U-Net: Adam's first steps divide near-zero gradients (its biases) by their own size,
  # which turns the rounding of a batched convolution into differences of a whole step.
  cfg = dt.TrainConfig(model="relu_diffusion", width=8 if mlp else 2, sigma=2.0, sigma_min=0.02,
                       optimizer="adam" if mlp else "sgd", learning_rate=1e-3 if mlp else 1e-2, steps=6, log_every=3,
                       batch_size=4, snapshot_steps=(3,))
  grid = dict(seeds=(0, 1) if mlp else (1,), sizes=(4, 12), model=model)
  # The U-Net's default on CPU is one model per chunk; models_per_chunk=2 batches both with vmap.
  sweeps = [dt.train_sweep(x, cfg, **grid)] + ([] if mlp else [dt.train_sweep(x, cfg, models_per_chunk=2, **grid)])
  for sweep in sweeps:
    for i in range(len(sweep.grid)):
      row = sweep.grid[i]
      alone = dt.train_model(model, x, cfg, seed=row["seed"], num_samples=row["num_samples"])
      chex.assert_trees_all_close(sweep.model(i), alone.params, rtol=2e-5, atol=2e-6)
      np.testing.assert_allclose(sweep.loss_history[i], alone.loss_history, rtol=2e-5,
                                 err_msg=f"model {i} ({row}) of the sweep must train as it does alone")
  with pytest.raises(ValueError, match="widths"):
    dt.train_sweep(x, cfg, widths=(2, 4), model=model)


def test_a_deep_model_trains_its_loss_down():
  """A few hundred Adam steps on 16 rows cut the deep MLP's objective at least 3-fold."""
  x = np.asarray(dt.load_digits(num=16, seed=0).x)
  arch = dt.DeepMLPConfig(depth=3, time_hidden=16, bias=True)
  cfg = dt.TrainConfig(model="relu_diffusion", width=64, sigma=2.0, sigma_min=0.02, optimizer="adam",
                       learning_rate=1e-3, steps=300, log_every=50, batch_size=16, loss_convention="torch")
  result = dt.train_model(dt.deep_mlp_model(arch), x, cfg, seed=0)
  first, last = result.loss_history[0], result.loss_history[-1]
  assert last < first / 3, f"the loss must fall at least 3-fold in 300 steps, got {first:.3g} → {last:.3g}"


@pytest.mark.parametrize("make, arg", [
    (lambda: dt.DeepMLPConfig(depth=0), "depth"),
    (lambda: dt.DeepMLPConfig(bias=1), "bias"),
    (lambda: dt.UNetConfig(image_shape=(6, 6, 1), channel_mult=(1, 2, 2)), "image_shape"),
    (lambda: dt.UNetConfig(image_shape=(8, 8)), "image_shape"),
    (lambda: dt.UNetConfig(channel_mult=()), "channel_mult"),
    (lambda: dt.UNetConfig(sigma_law="uniform"), "sigma_law"),
    (lambda: dt.UNetConfig(embedding=7), "embedding"),
    (lambda: dt.UNetConfig(sigma_data=0.0), "sigma_data"),
])
def test_a_bad_architecture_names_its_field(make, arg):
  with pytest.raises(ValueError, match=rf"\b{arg}\b"):
    make()


def test_data_of_another_size_than_the_unets_image_is_refused():
  with pytest.raises(ValueError, match="image_shape|d ="):
    dt.unet_model(SMALL_UNET).init(jax.random.key(0), 15, 4, dt.TrainConfig(width=4), jnp.float32)


def test_a_width_that_groups_do_not_divide_is_refused():
  with pytest.raises(ValueError, match=r"\bgroups\b"):
    dt.unet_model(SMALL_UNET).init(jax.random.key(0), 16, 6, dt.TrainConfig(width=6), jnp.float32)
