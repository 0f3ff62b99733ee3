"""dae-theory: ReLU denoising autoencoders, closed-form denoisers and the theory of their regimes.

A JAX testbed for "Generalization of Diffusion Models Arises with a Balanced Representation
Space" (Zhang et al., ICLR 2026). Every public name is a pure function or a small NamedTuple;
functions on one example are batched with ``jax.vmap``.
"""

from dae_theory._src.analysis import (
    SPIKINESS_SCORES,
    ColumnMatch,
    ColumnReport,
    GatingGeometry,
    JacobianSpectrum,
    active_units,
    apply_batch,
    apply_mode_maps,
    auroc,
    column_report,
    gating_geometry,
    gating_overlap,
    gram_error,
    jacobian_spectrum,
    l4_l2_ratio,
    match_columns,
    mean_squared_distance,
    normalized_std,
    one_hot_fraction,
    participation_ratio,
    peak_energy_fraction,
    per_mode_relative_error,
    representation_std,
    representations,
    tpr_at_fpr,
)
from dae_theory._src.data import (
    DuplicatedSamples,
    LabelledSamples,
    Separability,
    duplicate_samples,
    equiangular_directions,
    greedy_obtuse_subset,
    interleave_by_label,
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
from dae_theory._src.generated import (
    Agreement,
    FractionEstimate,
    ModeFrequencies,
    SampleEvaluation,
    evaluate_samples,
    memorized_fraction,
    mixture_log_likelihood,
    mode_frequencies,
    two_model_agreement,
)
from dae_theory._src.detection import (
    CODE_SCORES,
    DEFAULT_SIGMA_DET,
    DETECTORS,
    HIGHER_MEANS_MEMORIZED,
    DetectionMetrics,
    DenoiserScores,
    DetectionScores,
    JacobianSVD,
    RocCurve,
    code_scores,
    denoiser_scores,
    detection_codes,
    detection_metrics,
    detection_noise,
    detection_scores,
    diffusion_jacobian_spectrum,
    effective_rank,
    jacobian_ranks,
    jacobian_spectrum_of,
    jacobian_svd_of,
    roc_curve,
)
from dae_theory._src.steering import (
    SteeringWindow,
    concept_direction,
    steered_denoiser,
    steering_hook,
    steering_window,
)
from dae_theory._src.empirical import EmpiricalPosterior, default_chunk_size, empirical_denoiser, empirical_posterior
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
from dae_theory._src.population import (
    ClosedFormGap,
    HiddenMoments,
    PopulationMinimum,
    bivariate_normal_cdf,
    closed_form_gap,
    hidden_moments,
    minimize_population_loss,
    population_error,
    population_loss,
    relu_cross_moment,
    relu_mean,
    relu_second_moment,
)
from dae_theory._src.regimes import (
    BOUNDARY,
    EIGEN_GAP_LIMIT,
    REGIMES,
    Correspondence,
    FunctionDistances,
    MemorizationReport,
    RegimePrediction,
    blend_residual,
    classify_regime,
    correspondence,
    function_distances,
    memorization_report,
    nearest_neighbour_ratio,
    predicted_regime,
)
from dae_theory._src.store import DamagedChunkWarning, ResultsWriteError
from dae_theory._src.results_io import SIZES, experiment_parser, load_json, load_npz, run_parts, save_json, save_npz
from dae_theory._src.sampling import METHODS as SAMPLER_METHODS
from dae_theory._src.sampling import Trajectory, geometric_sigmas, sample, sample_trajectory
from dae_theory._src.sweep import SweepResult, default_mesh, train_sweep
from dae_theory._src.grid import Grid, make_grid
from dae_theory._src.theory import (
    COACTIVE_LIMIT,
    WEIGHTED_COACTIVE_LIMIT,
    ClosedFormWeights,
    ClusterSolution,
    MemorizationAssumptions,
    allocate_width,
    block_linear_loss,
    cluster_linear_maps,
    cluster_solution,
    coactivation_probabilities,
    cor33_bound_as_printed,
    generalization_weights,
    hybrid_weights,
    memorization_assumptions,
    memorization_loss,
    memorization_loss_limit,
    memorization_scales,
    memorization_weights,
    mixture_linear_maps,
    shrunk_linear_map,
)
from dae_theory._src.config import NOISE_SAMPLERS, PRESETS, TrainConfig, preset
from dae_theory._src.diffusion import (
    DiffusionParams,
    diffusion_apply,
    diffusion_code,
    diffusion_denoiser,
    diffusion_loss_given_noise,
    diffusion_representation,
    init_diffusion_params,
    log_uniform_sigmas,
    time_gate,
)
from dae_theory._src.engine import (
    ModelSpec,
    Trainer,
    TrainResult,
    TrainState,
    compiler_options,
    make_optimizer,
    make_trainer,
    model_spec,
    train,
    train_model,
)
from dae_theory._src.models import RELU_DAE, RELU_DIFFUSION, Model, get_model
from dae_theory._src.activations import (
    ACTIVATION_LAYOUTS,
    POOLINGS,
    activation_scores,
    layer_detection,
    layers_detection,
    pool_activations,
)
from dae_theory._src.deep import (
    SIGMA_LAWS,
    DeepMLPConfig,
    UNetConfig,
    deep_denoiser,
    deep_mlp_model,
    edm_coefficients,
    layer_activations,
    unet_model,
)

__version__ = "0.4.0"

__all__ = [
    "DAEParams", "init_params", "dae_apply", "representation", "dae_loss", "dae_loss_given_noise",
    "denoising_error", "weight_penalty", "lam_from_torch_weight_decay", "torch_convention_loss",
    "empirical_denoiser", "empirical_posterior", "EmpiricalPosterior", "default_chunk_size", "GaussianMixture",
    "MixturePosterior", "gmm_denoiser", "gmm_posterior", "wiener_denoiser", "equiangular_directions",
    "obtuse_point_set", "greedy_obtuse_subset", "interleave_by_label", "gaussian_mixture", "sample_mixture",
    "LabelledSamples", "duplicate_samples", "DuplicatedSamples", "separability", "Separability",
    "load_fashion_mnist", "load_digits", "fashion_mnist_available", "ImageData", "FASHION_MNIST_CLASSES",
    "TrainConfig", "TrainResult", "PRESETS", "NOISE_SAMPLERS", "preset", "make_optimizer", "compiler_options",
    "train", "train_model", "make_trainer", "Trainer", "TrainState", "ModelSpec", "model_spec", "Model",
    "RELU_DAE", "RELU_DIFFUSION", "get_model", "DeepMLPConfig", "UNetConfig", "SIGMA_LAWS", "deep_mlp_model",
    "unet_model", "deep_denoiser", "layer_activations", "edm_coefficients", "pool_activations",
    "activation_scores", "layer_detection", "layers_detection", "ACTIVATION_LAYOUTS", "POOLINGS", "save_json", "load_json", "save_npz", "load_npz", "run_parts",
    "SIZES", "experiment_parser", "DamagedChunkWarning", "ResultsWriteError", "population_loss",
    "population_error", "hidden_moments", "HiddenMoments", "minimize_population_loss", "PopulationMinimum",
    "closed_form_gap", "ClosedFormGap", "coactivation_probabilities", "COACTIVE_LIMIT",
    "WEIGHTED_COACTIVE_LIMIT", "EIGEN_GAP_LIMIT", "bivariate_normal_cdf", "relu_mean", "relu_second_moment",
    "relu_cross_moment", "sample", "sample_trajectory", "Trajectory", "geometric_sigmas", "SAMPLER_METHODS",
    "evaluate_samples", "SampleEvaluation", "memorized_fraction", "FractionEstimate", "mixture_log_likelihood",
    "mode_frequencies", "ModeFrequencies", "two_model_agreement", "Agreement", "detection_scores",
    "DetectionScores", "DenoiserScores", "RocCurve", "detection_codes", "code_scores", "denoiser_scores",
    "detection_noise", "jacobian_ranks", "diffusion_jacobian_spectrum", "jacobian_spectrum_of",
    "jacobian_svd_of", "JacobianSVD",
    "effective_rank", "detection_metrics", "DetectionMetrics", "roc_curve", "DETECTORS", "CODE_SCORES",
    "HIGHER_MEANS_MEMORIZED", "DEFAULT_SIGMA_DET", "concept_direction", "steering_window", "SteeringWindow",
    "steering_hook", "steered_denoiser", "DiffusionParams", "init_diffusion_params", "diffusion_apply",
    "diffusion_code", "diffusion_representation", "diffusion_denoiser", "diffusion_loss_given_noise",
    "log_uniform_sigmas", "time_gate", "train_sweep", "SweepResult", "Grid", "make_grid", "default_mesh",
    "memorization_assumptions", "MemorizationAssumptions", "memorization_scales", "memorization_weights",
    "memorization_loss", "memorization_loss_limit", "allocate_width", "cluster_solution", "ClusterSolution",
    "ClosedFormWeights", "generalization_weights", "shrunk_linear_map", "cluster_linear_maps",
    "mixture_linear_maps", "block_linear_loss", "cor33_bound_as_printed", "hybrid_weights",
    "representation_std", "normalized_std", "peak_energy_fraction", "l4_l2_ratio", "active_units",
    "participation_ratio", "SPIKINESS_SCORES", "auroc", "tpr_at_fpr", "column_report", "ColumnReport",
    "match_columns", "ColumnMatch", "gram_error", "one_hot_fraction", "representations", "apply_batch",
    "apply_mode_maps", "mean_squared_distance", "per_mode_relative_error", "jacobian_spectrum",
    "JacobianSpectrum", "gating_overlap", "gating_geometry", "GatingGeometry", "nearest_neighbour_ratio",
    "blend_residual", "memorization_report", "MemorizationReport", "classify_regime", "function_distances",
    "FunctionDistances", "predicted_regime", "RegimePrediction", "correspondence", "Correspondence", "REGIMES",
    "BOUNDARY",
]
