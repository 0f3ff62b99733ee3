"""dae-theory: ReLU denoising autoencoders, closed-form denoisers and the theory of their regimes.

A JAX testbed for "Generalization of Diffusion Models Arises with a Balanced Representation
Space" (Zhang et al., ICLR 2026). Every public name is a pure function or a small NamedTuple;
functions on one example are batched with ``jax.vmap``.
"""

from dae_theory._src.data import (
    DuplicatedSamples,
    LabelledSamples,
    Separability,
    duplicate_samples,
    equiangular_directions,
    gaussian_mixture,
    obtuse_point_set,
    sample_mixture,
    separability,
)
from dae_theory._src.datasets import (
    FASHION_MNIST_CLASSES,
    ImageData,
    fashion_mnist_available,
    load_digits,
    load_fashion_mnist,
)
from dae_theory._src.empirical import EmpiricalPosterior, empirical_denoiser, empirical_posterior
from dae_theory._src.loss import (
    dae_loss,
    dae_loss_given_noise,
    denoising_error,
    lam_from_torch_weight_decay,
    torch_convention_loss,
    weight_penalty,
)
from dae_theory._src.mixture import (
    GaussianMixture,
    MixturePosterior,
    gmm_denoiser,
    gmm_posterior,
    wiener_denoiser,
)
from dae_theory._src.model import DAEParams, dae_apply, init_params, representation
from dae_theory._src.sweep import SweepResult, default_mesh, make_grid, train_sweep
from dae_theory._src.train import PRESETS, TrainConfig, TrainResult, make_optimizer, preset, train

__version__ = "0.1.0"

__all__ = [
    "DAEParams", "init_params", "dae_apply", "representation",
    "dae_loss", "dae_loss_given_noise", "denoising_error", "weight_penalty",
    "lam_from_torch_weight_decay", "torch_convention_loss",
    "empirical_denoiser", "empirical_posterior", "EmpiricalPosterior",
    "GaussianMixture", "MixturePosterior", "gmm_denoiser", "gmm_posterior", "wiener_denoiser",
    "equiangular_directions", "obtuse_point_set", "gaussian_mixture", "sample_mixture",
    "LabelledSamples", "duplicate_samples", "DuplicatedSamples", "separability", "Separability",
    "load_fashion_mnist", "load_digits", "fashion_mnist_available", "ImageData", "FASHION_MNIST_CLASSES",
    "TrainConfig", "TrainResult", "PRESETS", "preset", "make_optimizer", "train",
    "train_sweep", "SweepResult", "make_grid", "default_mesh",
]
