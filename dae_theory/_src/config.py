"""What defines a training run: ``TrainConfig`` (a frozen dataclass of plain values) and named presets.

The engine (``engine.py``) reads the loop and optimiser fields; the model fields pick one of the
models in ``models.py`` and its options. Per-model values a sweep varies (seed, n, σ, σ_min, λ,
learning rate, width) are taken from the sweep's grid instead of the config.
"""

from __future__ import annotations

import dataclasses

import jax

from dae_theory._src import checks
from dae_theory._src.noise import standard_normal, standard_normal_box_muller

MODELS = ("relu_dae", "relu_diffusion")

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SAMPLING = ("with_replacement", "without_replacement")
LOSS_CONVENTIONS = ("paper", "torch")
TIED_GRADIENTS = ("joint", "per_side")
NOISE_SAMPLERS = {"threefry_pairs": standard_normal, "box_muller": standard_normal_box_muller,
                  "jax_normal": jax.random.normal}  # name → draw(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything that defines a training run (a frozen dataclass of plain values).

  Model and objective:
    model: "relu_dae" (the one-σ ReLU-DAE of eq. 5–6) or "relu_diffusion" (the multi-noise ReLU
      diffusion model of ``diffusion.py``: tied W, time gate exp(g(log σ)), skip s·y, trained on
      σ log-uniform in [sigma_min, sigma]).
    width: hidden units p.
    sigma: noise level σ (relu_dae); the largest training noise level σ_max (relu_diffusion).
    sigma_min: the smallest training noise level σ_min (relu_diffusion only; < sigma).
    time_hidden: hidden width H of the time MLP g: log σ → ℝ^p (relu_diffusion).
    gate: multiply the code by exp(g(log σ)) (relu_diffusion; False: the one-σ DAE at every σ).
    skip: add s·y to the output, s a learnable scalar initialised at 0 (relu_diffusion).
    lam: the paper's explicit weight decay λ in eq. (6) (tied W penalised on both sides).
    loss_convention: "paper" (Σ over pixels, eq. 6) or "torch" (pixel-mean MSE, the authors'
      ``MSELoss``; the data term is divided by d).
    num_draws: noise draws per sample per step.
    tied: W2 = W1 (the paper's and the authors' model).
    tied_gradient: "joint" (one gradient and one optimiser state for the shared W) or "per_side"
      (PyTorch's tied mechanics: encoder- and decoder-side gradients, each with its own optimiser
      state and its own coupled decay, both applied to the shared W). Equal (to 1e-16 in float64,
      Adam and RMSprop) to PyTorch's optimisers with ``foreach=True``, its default on GPU; its
      per-parameter loop, the default on CPU, decays the decoder side with W already updated by
      the encoder side (its decay term differs by wd times the encoder side's step).
    init_scale: half-width of the uniform init of W (default 1/√d for relu_dae, the authors'
      ``nn.Linear`` init; √(6/d) for relu_diffusion, their Kaiming-uniform init with ReLU gain).
  Optimiser:
    optimizer: "adam", "adamw", "rmsprop" or "sgd" (PyTorch defaults: Adam β=(0.9, 0.999),
      ε=1e-8; RMSprop α=0.99, ε=1e-8 outside the root, no bias correction).
    learning_rate: peak learning rate.
    weight_decay: PyTorch-style decay: coupled L2 (wd·W added to the gradient before the
      adaptive transform) for adam/rmsprop/sgd, decoupled for adamw. λ = d·wd/2 in the paper's
      convention when loss_convention = "torch".
    momentum: SGD momentum (0 for plain SGD).
    decay_steps: a cosine decay of the learning rate over the last ``decay_steps`` steps, down to
      ``final_lr_fraction`` of the peak (0: constant).
  Loop:
    steps: optimisation steps.
    batch_size: None for full batch, else a minibatch per step.
    sampling: "with_replacement" (indices uniform, the authors' code) or "without_replacement".
    log_every: the loss history holds the mean training loss of each block of this many steps
      (a block's keys and with-replacement minibatch indices are drawn at once: log_every ×
      batch_size int32).
    snapshot_steps: steps (multiples of log_every, 0 allowed) at which the weights are saved.
    noise_sampler: "box_muller" (the default; ``noise.standard_normal_box_muller``: the two
      words of a Threefry hash → one Box–Muller pair; compiled with 512-bit vectors on CPU
      (``compiler_options``)), "threefry_pairs" (``noise.standard_normal``: both words through
      √2·erfinv, the law of ``jax.random.normal``; slower than "box_muller" on CPU) or
      "jax_normal" (``jax.random.normal``).
      All are exact float32 N(0, 1) from the same Threefry-2x32 keys; they give different draws
      (BENCHMARKS.md and docs/performance-notes.md compare their speed).
  """

  model: str = "relu_dae"
  width: int = 100
  sigma: float = 0.2
  sigma_min: float = 0.02
  time_hidden: int = 256
  gate: bool = True
  skip: bool = True
  lam: float = 0.0
  loss_convention: str = "paper"
  num_draws: int = 1
  tied: bool = True
  tied_gradient: str = "joint"
  init_scale: float | None = None
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  weight_decay: float = 0.0
  momentum: float = 0.0
  decay_steps: int = 0
  final_lr_fraction: float = 1e-3
  steps: int = 10_000
  batch_size: int | None = None
  sampling: str = "with_replacement"
  log_every: int = 100
  snapshot_steps: tuple[int, ...] = ()
  noise_sampler: str = "box_muller"

  def __post_init__(self):
    def choice(name, options):
      if getattr(self, name) not in options:
        raise ValueError(f"{name} must be one of {options}, got {getattr(self, name)!r}")
    choice("model", MODELS)
    choice("optimizer", OPTIMIZERS)
    choice("sampling", SAMPLING)
    choice("loss_convention", LOSS_CONVENTIONS)
    choice("tied_gradient", TIED_GRADIENTS)
    choice("noise_sampler", tuple(NOISE_SAMPLERS))
    checks.check_int("width", self.width)
    checks.check_int("steps", self.steps)
    checks.check_int("num_draws", self.num_draws)
    checks.check_int("log_every", self.log_every)
    checks.check_int("decay_steps", self.decay_steps, minimum=0)
    if self.batch_size is not None:
      checks.check_int("batch_size", self.batch_size)
    checks.check_scalar("sigma", self.sigma, positive=True)
    checks.check_scalar("lam", self.lam, nonnegative=True)
    checks.check_scalar("learning_rate", self.learning_rate, positive=True)
    checks.check_scalar("weight_decay", self.weight_decay, nonnegative=True)
    checks.check_scalar("momentum", self.momentum, nonnegative=True)
    checks.check_scalar("final_lr_fraction", self.final_lr_fraction, nonnegative=True)
    if self.init_scale is not None:
      checks.check_scalar("init_scale", self.init_scale, positive=True)
    for name in ("tied", "gate", "skip"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
    checks.check_int("time_hidden", self.time_hidden)
    checks.check_scalar("sigma_min", self.sigma_min, positive=True)
    if self.model == "relu_diffusion":
      if not self.sigma_min < self.sigma:
        raise ValueError(f"sigma_min must be below sigma (the largest training noise level) = {self.sigma}, "
                         f"got {self.sigma_min}")
      if self.num_draws != 1:
        raise ValueError(f"num_draws must be 1 for model='relu_diffusion' (one σ and one ε per row), "
                         f"got {self.num_draws}")
      if self.tied_gradient != "joint":
        raise ValueError("tied_gradient='per_side' applies to model='relu_dae' only")
    if self.tied_gradient == "per_side" and not self.tied:
      raise ValueError("tied_gradient='per_side' needs tied=True")
    if self.momentum and self.optimizer != "sgd":
      raise ValueError(f"momentum applies to optimizer='sgd' only, got optimizer={self.optimizer!r}")
    if self.decay_steps > self.steps:
      raise ValueError(f"decay_steps must be at most steps = {self.steps}, got {self.decay_steps}")
    if self.steps % self.log_every:
      raise ValueError(f"steps ({self.steps}) must be a multiple of log_every ({self.log_every})")
    snaps = tuple(int(s) for s in self.snapshot_steps)
    object.__setattr__(self, "snapshot_steps", snaps)
    for s in snaps:
      if s < 0 or s > self.steps or s % self.log_every:
        raise ValueError(f"snapshot_steps must be multiples of log_every ({self.log_every}) in [0, steps], got {s}")
    if len(set(snaps)) != len(snaps):
      raise ValueError(f"snapshot_steps must not repeat, got {snaps}")

  def replace(self, **changes) -> "TrainConfig":
    return dataclasses.replace(self, **changes)


PRESETS: dict[str, TrainConfig] = {
    # The authors' CelebA recipes (their ReLU-DAE notebook): pixel-mean MSE, PyTorch coupled weight decay on both
    # tied sides, 50k steps, p = 100, σ = 0.2.
    "memorizing": TrainConfig(width=100, sigma=0.2, optimizer="rmsprop", learning_rate=1e-3, weight_decay=1e-2,
                              steps=50_000, batch_size=None, loss_convention="torch", tied_gradient="per_side",
                              log_every=500),
    "generalizing": TrainConfig(width=100, sigma=0.2, optimizer="adam", learning_rate=1e-4, weight_decay=1e-4,
                                steps=50_000, batch_size=256, loss_convention="torch", tied_gradient="per_side",
                                log_every=500),
    # Settings that reach the closed forms (docs/findings.md). Split columns are exact
    # alternative minimisers that weight decay cannot break; Adam's size-free steps let the smaller
    # copy random-walk until its ReLU dies, which takes (norm/lr)² steps: lr 1e-2 resolves splits
    # within 10k steps, and the final cosine decay lands the loss within 5 %. Use p > n. Set at
    # d = 30: at d = 784 lr 1e-2 made the loss jump in every run and left 15–74 large extra columns
    # in 3 of 6; lr 3e-3 over 40k steps reached the closed form in 6 of 6
    # (experiments/fashion_mnist_regimes.py).
    "memorization_closed_form": TrainConfig(width=10, sigma=0.2, lam=1e-3, optimizer="adam", learning_rate=1e-2,
                                            steps=20_000, decay_steps=10_000, num_draws=8, log_every=500),
    # Cor 3.3: columns migrate between clusters for a while, so ≥ 20k steps; decay the last 5k.
    "generalization_closed_form": TrainConfig(width=9, sigma=0.2, lam=1e-4, optimizer="adam", learning_rate=3e-3,
                                              steps=20_000, decay_steps=5_000, num_draws=1, log_every=500),
    # The authors' multi-noise ReLU diffusion recipes (their diffusion notebook): p = 256, time MLP
    # 1 → 256 → 256, σ log-uniform on [0.02, 2], pixel-mean MSE, PyTorch coupled weight decay.
    "diffusion_memorizing": TrainConfig(model="relu_diffusion", width=256, sigma=2.0, sigma_min=0.02,
                                        optimizer="rmsprop", learning_rate=1e-3, weight_decay=1e-2, steps=100_000,
                                        batch_size=None, loss_convention="torch", log_every=1_000),
    "diffusion_generalizing": TrainConfig(model="relu_diffusion", width=256, sigma=2.0, sigma_min=0.02,
                                          optimizer="adam", learning_rate=5e-5, weight_decay=5e-4, steps=200_000,
                                          batch_size=256, loss_convention="torch", log_every=1_000),
    # CPU-sized: the memorizing recipe reaches its stored rows within about 5k steps; the
    # generalizing one trades the authors' 200k steps at lr 5e-5 for 10k at 1e-3 with a cosine decay.
    "diffusion_memorizing_cpu": TrainConfig(model="relu_diffusion", width=256, sigma=2.0, sigma_min=0.02,
                                            optimizer="rmsprop", learning_rate=1e-3, weight_decay=1e-2,
                                            steps=10_000, batch_size=None, loss_convention="torch",
                                            log_every=500),
    "diffusion_generalizing_cpu": TrainConfig(model="relu_diffusion", width=256, sigma=2.0, sigma_min=0.02,
                                              optimizer="adam", learning_rate=1e-3, weight_decay=5e-4,
                                              steps=10_000, decay_steps=10_000, final_lr_fraction=0.0,
                                              batch_size=256, loss_convention="torch", log_every=500),
}


def preset(name: str, **overrides) -> TrainConfig:
  """A named ``TrainConfig`` (see ``PRESETS``), with fields overridden by keyword."""
  if name not in PRESETS:
    raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {name!r}")
  return PRESETS[name].replace(**overrides)
