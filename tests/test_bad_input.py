"""Every public callable of ``dae_theory`` rejects bad input with a ValueError naming the argument.

``BAD_CALLS`` states, per public function, the calls it must reject and the argument name the
message must contain (as a whole word): wrong ranks and shapes, wrong lengths (labels, weights,
widths), NaN in the data, σ ≤ 0, λ < 0, out-of-range seeds, non-integer or zero widths and
counts, whichever apply. ``test_every_public_callable_has_a_row`` fails when a public callable has
neither rows nor an entry in ``EXEMPT``: a new function must be added here.
"""

from __future__ import annotations

import functools
import inspect
import re
from types import SimpleNamespace
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dae_theory as dt
from dae_theory._src import checks

NAN = float("nan")


class Bad(NamedTuple):
  """One call that must raise ValueError whose message names ``arg``."""

  id: str
  call: Callable
  arg: str
  xfail: str | None = None


def _names(arg: str) -> str:
  """A regex for ``arg`` as a whole word of the message."""
  return rf"(?<!\w){re.escape(arg)}(?!\w)"


@functools.cache
def _fixtures() -> SimpleNamespace:
  rng = np.random.default_rng(0)
  f = SimpleNamespace()
  f.key = jax.random.key(0)
  f.x = rng.normal(size=(6, 4))  # n = 6 samples in d = 4
  f.labels = np.array([0, 0, 0, 1, 1, 1])
  f.x_nan = f.x.copy()
  f.x_nan[2, 1] = NAN
  f.y = f.x[:2] + 0.1  # (m, d) queries
  f.y_nan = f.y.copy()
  f.y_nan[1, 3] = NAN
  f.h = np.array([0.0, 1.0, 2.0])
  f.h_nan = np.array([0.0, NAN, 2.0])
  f.codes = np.abs(rng.normal(size=(5, 3)))
  f.mixture = dt.gaussian_mixture(f.key, 2, 4, rank=1)
  f.params = dt.init_params(f.key, 4, 3)
  f.dparams = dt.init_diffusion_params(f.key, 4, 3, time_hidden=8)
  f.cfg = dt.TrainConfig(width=3, steps=2, log_every=1)
  # pairwise-obtuse samples for which Cor 3.2 holds at width 4, λ = 1e-3 (predicted: memorization)
  f.obtuse = np.asarray(dt.obtuse_point_set(f.key, 4, 6), np.float64)
  f.sigmas = dt.geometric_sigmas(1.0, 0.1, 3)
  f.identity = lambda x, s: x
  f.window = dt.steering_window(f.sigmas, 0, 2)
  f.mlp = dt.DeepMLPConfig(depth=2, time_hidden=4)
  f.mlp_params = dt.deep_mlp_model(f.mlp).init(f.key, 4, 3, f.cfg, jnp.float32)
  return f


def _mixture_with(**fields) -> dt.GaussianMixture:
  return _fixtures().mixture._replace(**fields)


BAD_CALLS: dict[str, list[Bad]] = {
    # ---------------------------------------------------------------- analysis.py
    "representation_std": [
        Bad("h rank 0", lambda f: dt.representation_std(1.0), "h"),
        Bad("h NaN", lambda f: dt.representation_std(f.h_nan), "h")],
    "normalized_std": [
        Bad("h rank 0", lambda f: dt.normalized_std(1.0), "h"),
        Bad("h NaN", lambda f: dt.normalized_std(f.h_nan), "h")],
    "peak_energy_fraction": [
        Bad("h rank 0", lambda f: dt.peak_energy_fraction(1.0), "h"),
        Bad("h NaN", lambda f: dt.peak_energy_fraction(f.h_nan), "h")],
    "l4_l2_ratio": [
        Bad("h rank 0", lambda f: dt.l4_l2_ratio(1.0), "h"),
        Bad("h NaN", lambda f: dt.l4_l2_ratio(f.h_nan), "h")],
    "participation_ratio": [
        Bad("h rank 0", lambda f: dt.participation_ratio(1.0), "h"),
        Bad("h NaN", lambda f: dt.participation_ratio(f.h_nan), "h")],
    "active_units": [
        Bad("h rank 0", lambda f: dt.active_units(1.0), "h"),
        Bad("h NaN", lambda f: dt.active_units(f.h_nan), "h"),
        Bad("threshold NaN", lambda f: dt.active_units(f.h, NAN), "threshold")],
    "auroc": [
        Bad("no positives", lambda f: dt.auroc([], [1.0]), "scores_positive"),
        Bad("no negatives", lambda f: dt.auroc([1.0], []), "scores_negative"),
        Bad("positive NaN", lambda f: dt.auroc([NAN, 1.0], [0.0]), "scores_positive"),
        Bad("negative NaN", lambda f: dt.auroc([1.0], [0.0, NAN]), "scores_negative")],
    "tpr_at_fpr": [
        Bad("fpr < 0", lambda f: dt.tpr_at_fpr([1.0], [0.0], -0.1), "fpr"),
        Bad("fpr > 1", lambda f: dt.tpr_at_fpr([1.0], [0.0], 1.5), "fpr"),
        Bad("no positives", lambda f: dt.tpr_at_fpr([], [0.0]), "scores_positive"),
        Bad("no negatives", lambda f: dt.tpr_at_fpr([1.0], []), "scores_negative"),
        Bad("negative NaN", lambda f: dt.tpr_at_fpr([1.0], [0.0, NAN]), "scores_negative")],
    "column_report": [
        Bad("w rank 1", lambda f: dt.column_report(f.x[0], f.x), "w"),
        Bad("x of another d", lambda f: dt.column_report(f.x.T, f.x[:, :3]), "x"),
        Bad("w NaN", lambda f: dt.column_report(f.x_nan.T, f.x), "w"),
        Bad("x NaN", lambda f: dt.column_report(f.x.T, f.x_nan), "x"),
        Bad("min_norm < 0", lambda f: dt.column_report(f.x.T, f.x, min_norm=-1.0), "min_norm"),
        Bad("antipodal_cosine > 1", lambda f: dt.column_report(f.x.T, f.x, antipodal_cosine=1.5),
            "antipodal_cosine")],
    "match_columns": [
        Bad("w_learned rank 1", lambda f: dt.match_columns(f.x[0], f.x.T), "w_learned"),
        Bad("w_predicted of another d", lambda f: dt.match_columns(f.x.T, f.x[:, :3].T), "w_predicted"),
        Bad("more predicted than learned", lambda f: dt.match_columns(f.x[:2].T, f.x[:3].T), "w_learned"),
        Bad("w_learned NaN", lambda f: dt.match_columns(f.x_nan.T, f.x.T), "w_learned"),
        Bad("w_predicted NaN", lambda f: dt.match_columns(f.x.T, f.x_nan.T), "w_predicted")],
    "gram_error": [
        Bad("w_learned rank 1", lambda f: dt.gram_error(f.x[0], f.x.T), "w_learned"),
        Bad("w_predicted of another d", lambda f: dt.gram_error(f.x.T, f.x[:, :3].T), "w_predicted"),
        Bad("w_predicted zero", lambda f: dt.gram_error(f.x.T, np.zeros((4, 2))), "w_predicted"),
        Bad("w_learned NaN", lambda f: dt.gram_error(f.x_nan.T, f.x.T), "w_learned")],
    "one_hot_fraction": [
        Bad("h rank 1", lambda f: dt.one_hot_fraction(f.h), "h"),
        Bad("h NaN", lambda f: dt.one_hot_fraction(f.h_nan[None]), "h"),
        Bad("share 0", lambda f: dt.one_hot_fraction(f.codes, 0.0), "share"),
        Bad("share > 1", lambda f: dt.one_hot_fraction(f.codes, 1.5), "share")],
    "representations": [
        Bad("params not DAEParams", lambda f: dt.representations(f.x.T, f.y), "params"),
        Bad("y rank 1", lambda f: dt.representations(f.params, f.y[0]), "y"),
        Bad("y of another d", lambda f: dt.representations(f.params, f.y[:, :3]), "y"),
        Bad("y NaN", lambda f: dt.representations(f.params, f.y_nan), "y")],
    "apply_batch": [
        Bad("params not DAEParams", lambda f: dt.apply_batch(f.x.T, f.y), "params"),
        Bad("y rank 1", lambda f: dt.apply_batch(f.params, f.y[0]), "y"),
        Bad("y of another d", lambda f: dt.apply_batch(f.params, f.y[:, :3]), "y"),
        Bad("y NaN", lambda f: dt.apply_batch(f.params, f.y_nan), "y")],
    "jacobian_spectrum": [
        Bad("params not DAEParams", lambda f: dt.jacobian_spectrum(f.x.T, f.y[0]), "params"),
        Bad("y rank 2", lambda f: dt.jacobian_spectrum(f.params, f.y), "y"),
        Bad("y of another d", lambda f: dt.jacobian_spectrum(f.params, f.y[0, :3]), "y"),
        Bad("y NaN", lambda f: dt.jacobian_spectrum(f.params, f.y_nan[1]), "y")],
    "gating_overlap": [
        Bad("h_a rank 0", lambda f: dt.gating_overlap(1.0, 1.0), "h_a"),
        Bad("h_b of another shape", lambda f: dt.gating_overlap(f.h, f.h[:2]), "h_b")],
    "gating_geometry": [
        Bad("params not DAEParams", lambda f: dt.gating_geometry(f.x.T, f.y, [[0, 1]]), "params"),
        Bad("y of another d", lambda f: dt.gating_geometry(f.params, f.y[:, :3], [[0, 1]]), "y"),
        Bad("y NaN", lambda f: dt.gating_geometry(f.params, f.y_nan, [[0, 1]]), "y"),
        Bad("pairs (q, 3)", lambda f: dt.gating_geometry(f.params, f.y, [[0, 1, 1]]), "pairs"),
        Bad("pairs out of range", lambda f: dt.gating_geometry(f.params, f.y, [[0, 2]]), "pairs"),
        Bad("reference rows", lambda f: dt.gating_geometry(f.params, f.y, [[0, 1]], reference=f.x), "reference")],
    # ---------------------------------------------------------------- data.py
    "equiangular_directions": [
        Bad("key an int", lambda f: dt.equiangular_directions(0, 3, 4), "key"),
        Bad("key an int >= 2**32", lambda f: dt.equiangular_directions(2 ** 32, 3, 4), "key"),
        Bad("num 0", lambda f: dt.equiangular_directions(f.key, 0, 4), "num"),
        Bad("num 2.5", lambda f: dt.equiangular_directions(f.key, 2.5, 4), "num"),
        Bad("dim 0", lambda f: dt.equiangular_directions(f.key, 3, 0), "dim"),
        Bad("cosine > 1", lambda f: dt.equiangular_directions(f.key, 3, 4, cosine=1.5), "cosine")],
    "obtuse_point_set": [
        Bad("key an int", lambda f: dt.obtuse_point_set(-1, 3, 4), "key"),
        Bad("num 0", lambda f: dt.obtuse_point_set(f.key, 0, 4), "num"),
        Bad("norm_range low <= 0", lambda f: dt.obtuse_point_set(f.key, 3, 4, norm_range=(-1.0, 2.0)), "norm_range"),
        Bad("norm_range reversed", lambda f: dt.obtuse_point_set(f.key, 3, 4, norm_range=(3.0, 2.0)), "norm_range"),
        Bad("norm_range not a pair", lambda f: dt.obtuse_point_set(f.key, 3, 4, norm_range=(1.0, 2.0, 3.0)),
            "norm_range"),
        Bad("cosine >= 0", lambda f: dt.obtuse_point_set(f.key, 3, 4, cosine=0.5), "cosine")],
    "greedy_obtuse_subset": [
        Bad("x rank 1", lambda f: dt.greedy_obtuse_subset(f.x[0]), "x"),
        Bad("x NaN", lambda f: dt.greedy_obtuse_subset(f.x_nan), "x"),
        Bad("order out of range", lambda f: dt.greedy_obtuse_subset(f.x, [0, 6]), "order"),
        Bad("order not integers", lambda f: dt.greedy_obtuse_subset(f.x, [0.5, 1.0]), "order"),
        Bad("order rank 2", lambda f: dt.greedy_obtuse_subset(f.x, [[0, 1]]), "order")],
    "gaussian_mixture": [
        Bad("key an int", lambda f: dt.gaussian_mixture(2 ** 32, 2, 4), "key"),
        Bad("num_modes 0", lambda f: dt.gaussian_mixture(f.key, 0, 4), "num_modes"),
        Bad("dim 0", lambda f: dt.gaussian_mixture(f.key, 2, 0), "dim"),
        Bad("rank -1", lambda f: dt.gaussian_mixture(f.key, 2, 4, rank=-1), "rank"),
        Bad("rank > dim", lambda f: dt.gaussian_mixture(f.key, 2, 4, rank=5), "rank"),
        Bad("mean_norm 0", lambda f: dt.gaussian_mixture(f.key, 2, 4, mean_norm=0.0), "mean_norm"),
        Bad("cov_scale < 0", lambda f: dt.gaussian_mixture(f.key, 2, 4, cov_scale=-1.0), "cov_scale"),
        Bad("iso_var < 0", lambda f: dt.gaussian_mixture(f.key, 2, 4, iso_var=-1.0), "iso_var"),
        Bad("weights of another length", lambda f: dt.gaussian_mixture(f.key, 2, 4, weights=[1.0]), "weights"),
        Bad("weights NaN", lambda f: dt.gaussian_mixture(f.key, 2, 4, weights=[NAN, 1.0]), "weights")],
    "sample_mixture": [
        Bad("key an int", lambda f: dt.sample_mixture(0, f.mixture, 3), "key"),
        Bad("mixture not a GaussianMixture", lambda f: dt.sample_mixture(f.key, tuple(f.mixture), 3), "mixture"),
        Bad("mixture NaN", lambda f: dt.sample_mixture(f.key, _mixture_with(means=f.mixture.means.at[0, 0].set(NAN)),
                                                       3), "mixture.means"),
        Bad("num 0", lambda f: dt.sample_mixture(f.key, f.mixture, 0), "num"),
        Bad("num 2.5", lambda f: dt.sample_mixture(f.key, f.mixture, 2.5), "num")],
    "duplicate_samples": [
        Bad("x rank 1", lambda f: dt.duplicate_samples(f.x[0], f.labels, [0], 1), "x"),
        Bad("x NaN", lambda f: dt.duplicate_samples(f.x_nan, f.labels, [0], 1), "x"),
        Bad("labels of another length", lambda f: dt.duplicate_samples(f.x, f.labels[:5], [0], 1), "labels"),
        Bad("indices out of range", lambda f: dt.duplicate_samples(f.x, f.labels, [6], 1), "indices"),
        Bad("indices repeat", lambda f: dt.duplicate_samples(f.x, f.labels, [1, 1], 1), "indices"),
        Bad("indices not integers", lambda f: dt.duplicate_samples(f.x, f.labels, [0.5], 1), "indices"),
        Bad("copies 0", lambda f: dt.duplicate_samples(f.x, f.labels, [0], 0), "copies"),
        Bad("copies 1.5", lambda f: dt.duplicate_samples(f.x, f.labels, [0], 1.5), "copies"),
        Bad("copies of another length", lambda f: dt.duplicate_samples(f.x, f.labels, [0, 1], [1, 2, 3]), "copies")],
    "separability": [
        Bad("x rank 1", lambda f: dt.separability(f.x[0], f.labels[:1]), "x"),
        Bad("x empty", lambda f: dt.separability(f.x[:0], f.labels[:0]), "x"),
        Bad("x NaN", lambda f: dt.separability(f.x_nan, f.labels), "x"),
        Bad("labels of another length", lambda f: dt.separability(f.x, f.labels[:5]), "labels"),
        Bad("labels rank 2", lambda f: dt.separability(f.x, f.labels[:, None]), "labels")],
    # ---------------------------------------------------------------- datasets.py
    "fashion_mnist_available": [
        Bad("root not a path", lambda f: dt.fashion_mnist_available(5), "root")],
    "load_fashion_mnist": [
        Bad("split unknown", lambda f: dt.load_fashion_mnist("val"), "split"),
        Bad("seed < 0", lambda f: dt.load_fashion_mnist(num=3, seed=-1), "seed"),
        Bad("seed >= 2**32", lambda f: dt.load_fashion_mnist(num=3, seed=2 ** 32), "seed"),
        Bad("num 0", lambda f: dt.load_fashion_mnist(num=0), "num"),
        Bad("num 2.5", lambda f: dt.load_fashion_mnist(num=2.5), "num"),
        Bad("classes unknown", lambda f: dt.load_fashion_mnist(classes="cat"), "classes"),
        Bad("center not a bool", lambda f: dt.load_fashion_mnist(num=3, center="yes"), "center"),
        Bad("root not a path", lambda f: dt.load_fashion_mnist(root=5), "root")],
    "load_digits": [
        Bad("seed < 0", lambda f: dt.load_digits(num=3, seed=-1), "seed"),
        Bad("seed >= 2**32", lambda f: dt.load_digits(num=3, seed=2 ** 32), "seed"),
        Bad("num 0", lambda f: dt.load_digits(num=0), "num"),
        Bad("num above the images", lambda f: dt.load_digits(num=10 ** 6), "num"),
        Bad("classes unknown", lambda f: dt.load_digits(classes=11), "classes"),
        Bad("center not a bool", lambda f: dt.load_digits(num=3, center="yes"), "center")],
    # ---------------------------------------------------------------- generated.py
    "evaluate_samples": [
        Bad("samples rank 1", lambda f: dt.evaluate_samples(f.y[0], f.x), "samples"),
        Bad("samples NaN", lambda f: dt.evaluate_samples(f.y_nan, f.x), "samples"),
        Bad("train_x of another d", lambda f: dt.evaluate_samples(f.y, f.x[:, :3]), "train_x"),
        Bad("train_x NaN", lambda f: dt.evaluate_samples(f.y, f.x_nan), "train_x"),
        Bad("train_x one distinct row", lambda f: dt.evaluate_samples(f.y, f.x[[0, 0]]), "train_x"),
        Bad("threshold >= 1", lambda f: dt.evaluate_samples(f.y, f.x, threshold=1.5), "threshold")],
    "memorized_fraction": [
        Bad("seed < 0", lambda f: dt.memorized_fraction([True, False], seed=-1), "seed"),
        Bad("seed >= 2**32", lambda f: dt.memorized_fraction([True, False], seed=2 ** 32), "seed"),
        Bad("seed 1.5", lambda f: dt.memorized_fraction([True, False], seed=1.5), "seed"),
        Bad("flags rank 2", lambda f: dt.memorized_fraction([[True, False]]), "flags"),
        Bad("flags empty", lambda f: dt.memorized_fraction([]), "flags"),
        Bad("flags not 0/1", lambda f: dt.memorized_fraction([0, 2]), "flags"),
        Bad("num_bootstrap 0", lambda f: dt.memorized_fraction([True], num_bootstrap=0), "num_bootstrap"),
        Bad("level >= 1", lambda f: dt.memorized_fraction([True], level=1.5), "level")],
    "mixture_log_likelihood": [
        Bad("samples of another d", lambda f: dt.mixture_log_likelihood(f.y[:, :3], f.mixture, 0.1), "samples"),
        Bad("samples NaN", lambda f: dt.mixture_log_likelihood(f.y_nan, f.mixture, 0.1), "samples"),
        Bad("sigma 0", lambda f: dt.mixture_log_likelihood(f.y, f.mixture, 0.0), "sigma"),
        Bad("mixture not a GaussianMixture", lambda f: dt.mixture_log_likelihood(f.y, tuple(f.mixture), 0.1),
            "mixture")],
    "mode_frequencies": [
        Bad("samples rank 1", lambda f: dt.mode_frequencies(f.y[0], f.mixture, 0.1), "samples"),
        Bad("samples NaN", lambda f: dt.mode_frequencies(f.y_nan, f.mixture, 0.1), "samples"),
        Bad("sigma < 0", lambda f: dt.mode_frequencies(f.y, f.mixture, -0.1), "sigma"),
        Bad("mixture weights of another length",
            lambda f: dt.mode_frequencies(f.y, _mixture_with(weights=jnp.ones(3) / 3), 0.1), "mixture.weights")],
    "two_model_agreement": [
        Bad("samples_a rank 1", lambda f: dt.two_model_agreement(f.y[0], f.y), "samples_a"),
        Bad("samples_b of another shape", lambda f: dt.two_model_agreement(f.y, f.y[:1]), "samples_b"),
        Bad("samples_a NaN", lambda f: dt.two_model_agreement(f.y_nan, f.y), "samples_a")],
    # ---------------------------------------------------------------- empirical.py
    "empirical_denoiser": [
        Bad("y of another d", lambda f: dt.empirical_denoiser(f.y[:, :3], f.x, 0.5), "y"),
        Bad("y rank 3", lambda f: dt.empirical_denoiser(f.y[None], f.x, 0.5), "y"),
        Bad("y NaN", lambda f: dt.empirical_denoiser(f.y_nan, f.x, 0.5), "y"),
        Bad("x rank 1", lambda f: dt.empirical_denoiser(f.y[0], f.x[0], 0.5), "x"),
        Bad("x empty", lambda f: dt.empirical_denoiser(f.y, f.x[:0], 0.5), "x"),
        Bad("x NaN", lambda f: dt.empirical_denoiser(f.y, f.x_nan, 0.5), "x"),
        Bad("sigma 0", lambda f: dt.empirical_denoiser(f.y, f.x, 0.0), "sigma"),
        Bad("sigma NaN", lambda f: dt.empirical_denoiser(f.y, f.x, NAN), "sigma"),
        Bad("weights of another length", lambda f: dt.empirical_denoiser(f.y, f.x, 0.5, weights=np.ones(5)),
            "weights"),
        Bad("weights < 0", lambda f: dt.empirical_denoiser(f.y, f.x, 0.5, weights=-np.ones(6)), "weights"),
        Bad("chunk_size 0", lambda f: dt.empirical_denoiser(f.y, f.x, 0.5, chunk_size=0), "chunk_size")],
    "empirical_posterior": [
        Bad("y of another d", lambda f: dt.empirical_posterior(f.y[:, :3], f.x, 0.5), "y"),
        Bad("x NaN", lambda f: dt.empirical_posterior(f.y, f.x_nan, 0.5), "x"),
        Bad("sigma < 0", lambda f: dt.empirical_posterior(f.y, f.x, -0.5), "sigma"),
        Bad("weights of another length", lambda f: dt.empirical_posterior(f.y, f.x, 0.5, weights=np.ones(7)),
            "weights"),
        Bad("top_k above n", lambda f: dt.empirical_posterior(f.y, f.x, 0.5, top_k=7), "top_k"),
        Bad("top_k 1.5", lambda f: dt.empirical_posterior(f.y, f.x, 0.5, top_k=1.5), "top_k")],
    # ---------------------------------------------------------------- loss.py
    "dae_loss": [
        Bad("params not DAEParams", lambda f: dt.dae_loss(f.x.T, f.x, 0.2, 0.0, key=f.key), "params"),
        Bad("x of another d", lambda f: dt.dae_loss(f.params, f.x[:, :3], 0.2, 0.0, key=f.key), "x"),
        Bad("x NaN", lambda f: dt.dae_loss(f.params, f.x_nan, 0.2, 0.0, key=f.key), "x"),
        Bad("sigma 0", lambda f: dt.dae_loss(f.params, f.x, 0.0, 0.0, key=f.key), "sigma"),
        Bad("lam < 0", lambda f: dt.dae_loss(f.params, f.x, 0.2, -1.0, key=f.key), "lam"),
        Bad("key an int", lambda f: dt.dae_loss(f.params, f.x, 0.2, 0.0, key=0), "key"),
        Bad("num_draws 0", lambda f: dt.dae_loss(f.params, f.x, 0.2, 0.0, key=f.key, num_draws=0), "num_draws"),
        Bad("weights of another length",
            lambda f: dt.dae_loss(f.params, f.x, 0.2, 0.0, key=f.key, weights=np.ones(5)), "weights")],
    "dae_loss_given_noise": [
        Bad("noise of another shape", lambda f: dt.dae_loss_given_noise(f.params, f.x, f.x[:5], 0.2, 0.0), "noise"),
        Bad("noise NaN", lambda f: dt.dae_loss_given_noise(f.params, f.x, f.x_nan, 0.2, 0.0), "noise"),
        Bad("x NaN", lambda f: dt.dae_loss_given_noise(f.params, f.x_nan, f.x, 0.2, 0.0), "x"),
        Bad("sigma 0", lambda f: dt.dae_loss_given_noise(f.params, f.x, f.x, 0.0, 0.0), "sigma"),
        Bad("lam < 0", lambda f: dt.dae_loss_given_noise(f.params, f.x, f.x, 0.2, -1.0), "lam"),
        Bad("weights all zero",
            lambda f: dt.dae_loss_given_noise(f.params, f.x, f.x, 0.2, 0.0, weights=np.zeros(6)), "weights")],
    "denoising_error": [
        Bad("params not DAEParams", lambda f: dt.denoising_error(f.x.T, f.x[0], f.x[1], 0.2), "params"),
        Bad("x rank 2", lambda f: dt.denoising_error(f.params, f.x, f.x, 0.2), "x"),
        Bad("noise of another shape", lambda f: dt.denoising_error(f.params, f.x[0], f.x[1, :3], 0.2), "noise"),
        Bad("x NaN", lambda f: dt.denoising_error(f.params, f.x_nan[2], f.x[1], 0.2), "x"),
        Bad("sigma 0", lambda f: dt.denoising_error(f.params, f.x[0], f.x[1], 0.0), "sigma")],
    "weight_penalty": [
        Bad("params not DAEParams", lambda f: dt.weight_penalty(f.x.T), "params"),
        Bad("params.w1 rank 1", lambda f: dt.weight_penalty(dt.DAEParams(f.x[0])), "params.w1")],
    "lam_from_torch_weight_decay": [
        Bad("weight_decay < 0", lambda f: dt.lam_from_torch_weight_decay(-1e-3, 4), "weight_decay"),
        Bad("dim 0", lambda f: dt.lam_from_torch_weight_decay(1e-3, 0), "dim")],
    "torch_convention_loss": [
        Bad("weight_decay < 0", lambda f: dt.torch_convention_loss(f.params, f.x, f.x, 0.2, -1.0), "weight_decay"),
        Bad("sigma 0", lambda f: dt.torch_convention_loss(f.params, f.x, f.x, 0.0, 0.0), "sigma"),
        Bad("noise of another shape", lambda f: dt.torch_convention_loss(f.params, f.x, f.x.T, 0.2, 0.0), "noise"),
        Bad("x NaN", lambda f: dt.torch_convention_loss(f.params, f.x_nan, f.x, 0.2, 0.0), "x")],
    # ---------------------------------------------------------------- mixture.py
    "gmm_posterior": [
        Bad("y of another d", lambda f: dt.gmm_posterior(f.y[:, :3], f.mixture, 0.1), "y"),
        Bad("y rank 3", lambda f: dt.gmm_posterior(f.y[None], f.mixture, 0.1), "y"),
        Bad("y NaN", lambda f: dt.gmm_posterior(f.y_nan, f.mixture, 0.1), "y"),
        Bad("sigma 0", lambda f: dt.gmm_posterior(f.y, f.mixture, 0.0), "sigma"),
        Bad("mixture not a GaussianMixture", lambda f: dt.gmm_posterior(f.y, tuple(f.mixture), 0.1), "mixture"),
        Bad("mixture weights negative",
            lambda f: dt.gmm_posterior(f.y, _mixture_with(weights=jnp.array([1.5, -0.5])), 0.1), "mixture.weights")],
    "gmm_denoiser": [
        Bad("y of another d", lambda f: dt.gmm_denoiser(f.y[:, :3], f.mixture, 0.1), "y"),
        Bad("sigma < 0", lambda f: dt.gmm_denoiser(f.y, f.mixture, -0.1), "sigma"),
        Bad("mixture iso_var < 0", lambda f: dt.gmm_denoiser(f.y, _mixture_with(iso_var=-jnp.ones(2)), 0.1),
            "mixture.iso_var")],
    "wiener_denoiser": [
        Bad("y of another d", lambda f: dt.wiener_denoiser(f.y[:, :3], f.x[0], np.eye(4), 0.1), "y"),
        Bad("mean rank 2", lambda f: dt.wiener_denoiser(f.y, f.x, np.eye(4), 0.1), "mean"),
        Bad("covariance of another shape", lambda f: dt.wiener_denoiser(f.y, f.x[0], np.eye(3), 0.1), "covariance"),
        Bad("covariance NaN", lambda f: dt.wiener_denoiser(f.y, f.x[0], np.full((4, 4), NAN), 0.1), "covariance"),
        Bad("sigma 0", lambda f: dt.wiener_denoiser(f.y, f.x[0], np.eye(4), 0.0), "sigma")],
    # ---------------------------------------------------------------- model.py
    "init_params": [
        Bad("key an int", lambda f: dt.init_params(0, 4, 3), "key"),
        Bad("dim 0", lambda f: dt.init_params(f.key, 0, 3), "dim"),
        Bad("width 0", lambda f: dt.init_params(f.key, 4, 0), "width"),
        Bad("width 2.5", lambda f: dt.init_params(f.key, 4, 2.5), "width"),
        Bad("scale 0", lambda f: dt.init_params(f.key, 4, 3, scale=0.0), "scale"),
        Bad("tied not a bool", lambda f: dt.init_params(f.key, 4, 3, tied="no"), "tied"),
        Bad("dtype not floating", lambda f: dt.init_params(f.key, 4, 3, dtype=jnp.int32), "dtype")],
    "dae_apply": [
        Bad("params not DAEParams", lambda f: dt.dae_apply(f.x.T, f.y[0]), "params"),
        Bad("y rank 2", lambda f: dt.dae_apply(f.params, f.y), "y"),
        Bad("y of another d", lambda f: dt.dae_apply(f.params, f.y[0, :3]), "y"),
        Bad("y NaN", lambda f: dt.dae_apply(f.params, f.y_nan[1]), "y")],
    "representation": [
        Bad("params not DAEParams", lambda f: dt.representation(f.x.T, f.y[0]), "params"),
        Bad("params.w1 rank 1", lambda f: dt.representation(dt.DAEParams(f.x[0]), f.y[0]), "params.w1"),
        Bad("y rank 2", lambda f: dt.representation(f.params, f.y), "y"),
        Bad("y NaN", lambda f: dt.representation(f.params, f.y_nan[1]), "y")],
    # ---------------------------------------------------------------- population.py
    "bivariate_normal_cdf": [
        Bad("h NaN", lambda f: dt.bivariate_normal_cdf(NAN, 0.0, 0.5), "h"),
        Bad("rho NaN", lambda f: dt.bivariate_normal_cdf(0.0, 0.0, NAN), "rho"),
        Bad("shapes do not broadcast", lambda f: dt.bivariate_normal_cdf(np.zeros(2), np.zeros(3), 0.5), "k")],
    "relu_mean": [
        Bad("s < 0", lambda f: dt.relu_mean(0.0, -1.0), "s"),
        Bad("m NaN", lambda f: dt.relu_mean(NAN, 1.0), "m"),
        Bad("shapes do not broadcast", lambda f: dt.relu_mean(np.zeros(2), np.ones(3)), "s")],
    "relu_second_moment": [
        Bad("s < 0", lambda f: dt.relu_second_moment(0.0, -1.0), "s"),
        Bad("m NaN", lambda f: dt.relu_second_moment(NAN, 1.0), "m")],
    "relu_cross_moment": [
        Bad("s1 < 0", lambda f: dt.relu_cross_moment(0.0, 0.0, -1.0, 1.0, 0.5), "s1"),
        Bad("s2 < 0", lambda f: dt.relu_cross_moment(0.0, 0.0, 1.0, -1.0, 0.5), "s2"),
        Bad("m2 NaN", lambda f: dt.relu_cross_moment(0.0, NAN, 1.0, 1.0, 0.5), "m2"),
        Bad("rho NaN", lambda f: dt.relu_cross_moment(0.0, 0.0, 1.0, 1.0, NAN), "rho")],
    "hidden_moments": [
        Bad("params not DAEParams", lambda f: dt.hidden_moments(f.x.T, f.x[0], 0.2), "params"),
        Bad("x_i rank 2", lambda f: dt.hidden_moments(f.params, f.x, 0.2), "x_i"),
        Bad("x_i of another d", lambda f: dt.hidden_moments(f.params, f.x[0, :3], 0.2), "x_i"),
        Bad("x_i NaN", lambda f: dt.hidden_moments(f.params, f.x_nan[2], 0.2), "x_i"),
        Bad("sigma 0", lambda f: dt.hidden_moments(f.params, f.x[0], 0.0), "sigma")],
    "population_error": [
        Bad("x_i rank 2", lambda f: dt.population_error(f.params, f.x, 0.2), "x_i"),
        Bad("x_i NaN", lambda f: dt.population_error(f.params, f.x_nan[2], 0.2), "x_i"),
        Bad("sigma < 0", lambda f: dt.population_error(f.params, f.x[0], -0.2), "sigma")],
    "population_loss": [
        Bad("params.w1 NaN", lambda f: dt.population_loss(dt.DAEParams(f.x_nan[:4, :3]), f.x, 0.2, 0.0), "params.w1"),
        Bad("x of another d", lambda f: dt.population_loss(f.params, f.x[:, :3], 0.2, 0.0), "x"),
        Bad("x NaN", lambda f: dt.population_loss(f.params, f.x_nan, 0.2, 0.0), "x"),
        Bad("sigma 0", lambda f: dt.population_loss(f.params, f.x, 0.0, 0.0), "sigma"),
        Bad("lam < 0", lambda f: dt.population_loss(f.params, f.x, 0.2, -1.0), "lam"),
        Bad("weights of another length", lambda f: dt.population_loss(f.params, f.x, 0.2, 0.0, weights=np.ones(3)),
            "weights")],
    "minimize_population_loss": [
        Bad("sigma 0", lambda f: dt.minimize_population_loss(f.params, f.x, 0.0, 0.0), "sigma"),
        Bad("lam < 0", lambda f: dt.minimize_population_loss(f.params, f.x, 0.2, -1.0), "lam"),
        Bad("gtol 0", lambda f: dt.minimize_population_loss(f.params, f.x, 0.2, 0.0, gtol=0.0), "gtol"),
        Bad("max_iter 0", lambda f: dt.minimize_population_loss(f.params, f.x, 0.2, 0.0, max_iter=0), "max_iter"),
        Bad("memory_size 0", lambda f: dt.minimize_population_loss(f.params, f.x, 0.2, 0.0, memory_size=0),
            "memory_size")],
    # ---------------------------------------------------------------- regimes.py
    "nearest_neighbour_ratio": [
        Bad("outputs rank 1", lambda f: dt.nearest_neighbour_ratio(f.y[0], f.x), "outputs"),
        Bad("outputs NaN", lambda f: dt.nearest_neighbour_ratio(f.y_nan, f.x), "outputs"),
        Bad("train_x of another d", lambda f: dt.nearest_neighbour_ratio(f.y, f.x[:, :3]), "train_x"),
        Bad("train_x one distinct row", lambda f: dt.nearest_neighbour_ratio(f.y, f.x[[1, 1]]), "train_x")],
    "blend_residual": [
        Bad("num_samples 0", lambda f: dt.blend_residual(f.y, f.x, 0), "num_samples"),
        Bad("num_samples above the distinct rows", lambda f: dt.blend_residual(f.y, f.x, 7), "train_x"),
        Bad("train_x NaN", lambda f: dt.blend_residual(f.y, f.x_nan), "train_x")],
    "memorization_report": [
        Bad("threshold 0", lambda f: dt.memorization_report(f.y, f.x, threshold=0.0), "threshold"),
        Bad("clean of another shape", lambda f: dt.memorization_report(f.y, f.x, clean=f.y[:1]), "clean"),
        Bad("outputs NaN", lambda f: dt.memorization_report(f.y_nan, f.x), "outputs")],
    "classify_regime": [
        Bad("memorization a string", lambda f: dt.classify_regime("high"), "memorization"),
        Bad("memorization an array", lambda f: dt.classify_regime([0.1, 0.9]), "memorization"),
        Bad("thresholds out of order", lambda f: dt.classify_regime(0.5, generalization_below=0.8),
            "generalization_below"),
        Bad("memorization_above 0", lambda f: dt.classify_regime(0.5, memorization_above=0.0),
            "memorization_above")],
    "function_distances": [
        Bad("f_out rank 1", lambda f: dt.function_distances(f.y[0], f.y, f.y, f.y), "f_out"),
        Bad("emp_out of another shape", lambda f: dt.function_distances(f.y, f.y[:1], f.y, f.y), "emp_out"),
        Bad("clean NaN", lambda f: dt.function_distances(f.y, f.y, f.y, f.y_nan), "clean")],
    "predicted_regime": [
        Bad("x NaN", lambda f: dt.predicted_regime(f.x_nan, None, None, 1e-3, 4), "x"),
        Bad("x rank 1", lambda f: dt.predicted_regime(f.x[0], None, None, 1e-3, 4), "x"),
        Bad("width 0", lambda f: dt.predicted_regime(f.x, None, None, 1e-3, 0), "width"),
        Bad("lam < 0", lambda f: dt.predicted_regime(f.x, None, None, -1.0, 4), "lam"),
        Bad("labels of another length", lambda f: dt.predicted_regime(f.x, f.labels[:5], None, 1e-3, 4), "labels"),
        # Cor 3.2 holds for these samples: the memorisation rule must not return before the labels are checked
        Bad("labels of another length, memorising data",
            lambda f: dt.predicted_regime(f.obtuse, f.labels[:3], None, 1e-3, 4), "labels"),
        Bad("rule unknown", lambda f: dt.predicted_regime(f.x, f.labels, None, 1e-3, 4, rule="greedy"), "rule")],
    "correspondence": [
        Bad("observed of another length", lambda f: dt.correspondence(["memorization"], []), "observed"),
        Bad("predicted unknown regime", lambda f: dt.correspondence(["copying"], ["hybrid"]), "predicted")],
    # ---------------------------------------------------------------- results_io.py (owned by the finite-noise change)
    "save_json": [
        Bad("data not a dict", lambda f: dt.save_json(f.tmp / "a.json", [1, 2]), "data"),
        Bad("data not JSON-serialisable", lambda f: dt.save_json(f.tmp / "a.json", {"a": object()}), "data")],
    "load_json": [
        Bad("path not JSON", lambda f: dt.load_json(_write(f.tmp / "bad.json", "not json")), "path")],
    "save_npz": [
        Bad("a ragged array", lambda f: dt.save_npz(f.tmp / "a.npz", ragged=[[1.0], [1.0, 2.0]]), "ragged")],
    "load_npz": [
        Bad("path not an npz file", lambda f: dt.load_npz(_write(f.tmp / "bad.npz", "not npz")), "path")],
    "run_parts": [
        Bad("parts not (name, fn) pairs", lambda f: dt.run_parts(f.tmp / "out", {}, [("a.npz",)]), "parts")],
    # ---------------------------------------------------------------- sampling.py
    "geometric_sigmas": [
        Bad("sigma_min 0", lambda f: dt.geometric_sigmas(1.0, 0.0, 5), "sigma_min"),
        Bad("sigma_max below sigma_min", lambda f: dt.geometric_sigmas(0.1, 1.0, 5), "sigma_max"),
        Bad("num 1", lambda f: dt.geometric_sigmas(1.0, 0.1, 1), "num"),
        Bad("dtype not floating", lambda f: dt.geometric_sigmas(1.0, 0.1, 5, dtype=jnp.int32), "dtype")],
    "sample": [
        Bad("loop unknown", lambda f: dt.sample(f.identity, f.key, (2, 4), f.sigmas, loop="while"), "loop"),
        Bad("denoise not callable", lambda f: dt.sample(5, f.key, (2, 4), f.sigmas), "denoise"),
        Bad("key an int", lambda f: dt.sample(f.identity, 0, (2, 4), f.sigmas), "key"),
        Bad("shape (0, 4)", lambda f: dt.sample(f.identity, f.key, (0, 4), f.sigmas), "shape"),
        Bad("shape rank 1", lambda f: dt.sample(f.identity, f.key, (4,), f.sigmas), "shape"),
        Bad("sigmas not ending in 0", lambda f: dt.sample(f.identity, f.key, (2, 4), [1.0, 0.5]), "sigmas"),
        Bad("sigmas NaN", lambda f: dt.sample(f.identity, f.key, (2, 4), [NAN, 0.0]), "sigmas"),
        Bad("method unknown", lambda f: dt.sample(f.identity, f.key, (2, 4), f.sigmas, method="ddpm"), "method"),
        Bad("x_init of another shape", lambda f: dt.sample(f.identity, f.key, (2, 4), f.sigmas, x_init=f.x), "x_init"),
        Bad("clamp reversed", lambda f: dt.sample(f.identity, f.key, (2, 4), f.sigmas, clamp=(1.0, -1.0)), "clamp")],
    "sample_trajectory": [
        Bad("key an int", lambda f: dt.sample_trajectory(f.identity, 0, (2, 4), f.sigmas), "key"),
        Bad("sigmas increasing", lambda f: dt.sample_trajectory(f.identity, f.key, (2, 4), [0.5, 1.0, 0.0]), "sigmas"),
        Bad("snapshot_steps out of range",
            lambda f: dt.sample_trajectory(f.identity, f.key, (2, 4), f.sigmas, snapshot_steps=[9]), "snapshot_steps"),
        Bad("snapshot_sigmas < 0",
            lambda f: dt.sample_trajectory(f.identity, f.key, (2, 4), f.sigmas, snapshot_sigmas=[-1.0]),
            "snapshot_sigmas")],
    # ---------------------------------------------------------------- sweep.py, grid.py
    "train_sweep": [
        Bad("config not a TrainConfig", lambda f: dt.train_sweep(f.x, {"width": 3}), "config"),
        Bad("x NaN", lambda f: dt.train_sweep(f.x_nan, f.cfg), "x"),
        Bad("seeds >= 2**32", lambda f: dt.train_sweep(f.x, f.cfg, seeds=[2 ** 32]), "seeds"),
        Bad("seeds < 0", lambda f: dt.train_sweep(f.x, f.cfg, seeds=[-1]), "seeds"),
        Bad("sizes above the rows", lambda f: dt.train_sweep(f.x, f.cfg, sizes=[7]), "sizes"),
        Bad("sigmas 0", lambda f: dt.train_sweep(f.x, f.cfg, sigmas=[0.0]), "sigmas"),
        Bad("lams < 0", lambda f: dt.train_sweep(f.x, f.cfg, lams=[-1.0]), "lams"),
        Bad("widths 0", lambda f: dt.train_sweep(f.x, f.cfg, widths=[0]), "widths"),
        Bad("widths 2.5", lambda f: dt.train_sweep(f.x, f.cfg, widths=[2.5]), "widths"),
        Bad("models_per_chunk 0", lambda f: dt.train_sweep(f.x, f.cfg, models_per_chunk=0), "models_per_chunk"),
        Bad("vectorize unknown", lambda f: dt.train_sweep(f.x, f.cfg, vectorize="pmap"), "vectorize"),
        Bad("loop unknown", lambda f: dt.train_sweep(f.x, f.cfg, loop="while"), "loop"),
        Bad("config of the one-σ DAE for a deep model",
            lambda f: dt.train_sweep(f.x, f.cfg, model=dt.deep_mlp_model(f.mlp)), "config.model")],
    "make_grid": [
        Bad("config not a TrainConfig", lambda f: dt.make_grid({"width": 3}, 6), "config"),
        Bad("num_rows 0", lambda f: dt.make_grid(f.cfg, 0), "num_rows"),
        Bad("seeds >= 2**32", lambda f: dt.make_grid(f.cfg, 6, seeds=[2 ** 32]), "seeds"),
        Bad("seeds empty", lambda f: dt.make_grid(f.cfg, 6, seeds=[]), "seeds"),
        Bad("sizes 0", lambda f: dt.make_grid(f.cfg, 6, sizes=[0]), "sizes"),
        Bad("widths 0", lambda f: dt.make_grid(f.cfg, 6, widths=[0]), "widths"),
        Bad("sigma_mins for the DAE", lambda f: dt.make_grid(f.cfg, 6, sigma_mins=[0.1]), "sigma_mins")],
    "default_mesh": [
        Bad("devices empty", lambda f: dt.default_mesh([]), "devices"),
        Bad("devices not devices", lambda f: dt.default_mesh(["cpu"]), "devices")],
    # ---------------------------------------------------------------- engine.py, config.py, models.py
    "train": [
        Bad("config not a TrainConfig", lambda f: dt.train(f.x, {"width": 3}), "config"),
        Bad("x rank 1", lambda f: dt.train(f.x[0], f.cfg), "x"),
        Bad("x NaN", lambda f: dt.train(f.x_nan, f.cfg), "x"),
        Bad("seed >= 2**32", lambda f: dt.train(f.x, f.cfg, 2 ** 32), "seed"),
        Bad("seed < 0", lambda f: dt.train(f.x, f.cfg, -1), "seed"),
        Bad("num_samples 0", lambda f: dt.train(f.x, f.cfg, num_samples=0), "num_samples"),
        Bad("num_samples above the rows", lambda f: dt.train(f.x, f.cfg, num_samples=7), "num_samples"),
        Bad("loop unknown", lambda f: dt.train(f.x, f.cfg, loop="while"), "loop")],
    "train_model": [
        Bad("model not a Model", lambda f: dt.train_model("relu_dae", f.x, f.cfg), "model"),
        Bad("config not a TrainConfig", lambda f: dt.train_model(dt.RELU_DAE, f.x, {"width": 3}), "config"),
        Bad("seed 1.5", lambda f: dt.train_model(dt.RELU_DAE, f.x, f.cfg, 1.5), "seed"),
        Bad("config of the one-σ DAE for a deep model", lambda f: dt.train_model(dt.deep_mlp_model(f.mlp), f.x, f.cfg),
            "config.model")],
    "make_trainer": [
        Bad("model not a Model", lambda f: dt.make_trainer("relu_dae", f.cfg, 3), "model"),
        Bad("cfg not a TrainConfig", lambda f: dt.make_trainer(dt.RELU_DAE, {"width": 3}, 3), "cfg"),
        Bad("width_max 0", lambda f: dt.make_trainer(dt.RELU_DAE, f.cfg, 0), "width_max"),
        Bad("config of the one-σ DAE for a deep model", lambda f: dt.make_trainer(dt.deep_mlp_model(f.mlp), f.cfg, 3),
            "config.model")],
    "make_optimizer": [
        Bad("cfg not a TrainConfig", lambda f: dt.make_optimizer({"optimizer": "adam"}), "cfg")],
    "model_spec": [
        Bad("config not a TrainConfig", lambda f: dt.model_spec({"width": 3}, 0, 6), "config"),
        Bad("seed >= 2**32", lambda f: dt.model_spec(f.cfg, 2 ** 32, 6), "seed"),
        Bad("seed < 0", lambda f: dt.model_spec(f.cfg, -1, 6), "seed"),
        Bad("num_samples 0", lambda f: dt.model_spec(f.cfg, 0, 0), "num_samples")],
    "preset": [
        # takes a name: an unknown one is the bad input (the message names the preset list)
        Bad("name unknown", lambda f: dt.preset("memorising"), "preset"),
        Bad("override width 0", lambda f: dt.preset("memorizing", width=0), "width"),
        Bad("override sigma < 0", lambda f: dt.preset("memorizing", sigma=-0.2), "sigma")],
    "get_model": [
        # takes a name: an unknown one is the bad input
        Bad("name unknown", lambda f: dt.get_model("relu_cnn"), "model")],
    # ---------------------------------------------------------------- diffusion.py
    "init_diffusion_params": [
        Bad("key an int", lambda f: dt.init_diffusion_params(2 ** 32, 4, 3), "key"),
        Bad("dim 0", lambda f: dt.init_diffusion_params(f.key, 0, 3), "dim"),
        Bad("width 0", lambda f: dt.init_diffusion_params(f.key, 4, 0), "width"),
        Bad("time_hidden 0", lambda f: dt.init_diffusion_params(f.key, 4, 3, time_hidden=0), "time_hidden"),
        Bad("gate not a bool", lambda f: dt.init_diffusion_params(f.key, 4, 3, gate="yes"), "gate"),
        Bad("scale 0", lambda f: dt.init_diffusion_params(f.key, 4, 3, scale=0.0), "scale")],
    "time_gate": [
        Bad("params not DiffusionParams", lambda f: dt.time_gate(f.params, 0.5), "params"),
        Bad("sigma 0", lambda f: dt.time_gate(f.dparams, 0.0), "sigma")],
    "diffusion_code": [
        Bad("params not DiffusionParams", lambda f: dt.diffusion_code(f.params, f.y[0]), "params"),
        Bad("y of another d", lambda f: dt.diffusion_code(f.dparams, f.y[0, :3]), "y"),
        Bad("y NaN", lambda f: dt.diffusion_code(f.dparams, f.y_nan[1]), "y")],
    "diffusion_representation": [
        Bad("y rank 2", lambda f: dt.diffusion_representation(f.dparams, f.y, 0.5), "y"),
        Bad("sigma 0", lambda f: dt.diffusion_representation(f.dparams, f.y[0], 0.0), "sigma")],
    "diffusion_apply": [
        Bad("params not DiffusionParams", lambda f: dt.diffusion_apply(f.params, f.y[0], 0.5), "params"),
        Bad("y rank 2", lambda f: dt.diffusion_apply(f.dparams, f.y, 0.5), "y"),
        Bad("sigma < 0", lambda f: dt.diffusion_apply(f.dparams, f.y[0], -0.5), "sigma"),
        Bad("code_hook not callable", lambda f: dt.diffusion_apply(f.dparams, f.y[0], 0.5, code_hook=3), "code_hook")],
    "diffusion_denoiser": [
        Bad("params not DiffusionParams", lambda f: dt.diffusion_denoiser(f.params), "params"),
        Bad("code_hook not callable", lambda f: dt.diffusion_denoiser(f.dparams, code_hook=3), "code_hook"),
        Bad("with_code not a bool", lambda f: dt.diffusion_denoiser(f.dparams, with_code="yes"), "with_code")],
    "diffusion_loss_given_noise": [
        Bad("params not DiffusionParams",
            lambda f: dt.diffusion_loss_given_noise(f.params, f.x, f.x, np.ones(6), 0.0), "params"),
        Bad("x NaN", lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x_nan, f.x, np.ones(6), 0.0), "x"),
        Bad("noise of another shape",
            lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x, f.x[:5], np.ones(6), 0.0), "noise"),
        Bad("sigmas of another length",
            lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x, f.x, np.ones(5), 0.0), "sigmas"),
        Bad("sigmas 0", lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x, f.x, np.zeros(6), 0.0), "sigmas"),
        Bad("lam < 0", lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x, f.x, np.ones(6), -1.0), "lam"),
        Bad("weights of another length",
            lambda f: dt.diffusion_loss_given_noise(f.dparams, f.x, f.x, np.ones(6), 0.0, weights=np.ones(2)),
            "weights")],
    "log_uniform_sigmas": [
        Bad("key an int", lambda f: dt.log_uniform_sigmas(0, 3, 0.1, 1.0), "key"),
        Bad("num 0", lambda f: dt.log_uniform_sigmas(f.key, 0, 0.1, 1.0), "num"),
        Bad("sigma_min 0", lambda f: dt.log_uniform_sigmas(f.key, 3, 0.0, 1.0), "sigma_min"),
        Bad("sigma_min above sigma_max", lambda f: dt.log_uniform_sigmas(f.key, 3, 2.0, 1.0), "sigma_min")],
    # ---------------------------------------------------------------- detection.py
    "code_scores": [
        Bad("score unknown", lambda f: dt.code_scores(f.codes, "entropy"), "score"),
        Bad("codes rank 1", lambda f: dt.code_scores(f.h), "codes"),
        Bad("codes empty", lambda f: dt.code_scores(f.codes[:0]), "codes"),
        Bad("codes NaN", lambda f: dt.code_scores(f.h_nan[None]), "codes")],
    "detection_noise": [
        Bad("key an int", lambda f: dt.detection_noise(0, f.y), "key"),
        Bad("samples rank 1", lambda f: dt.detection_noise(f.key, f.y[0]), "samples"),
        Bad("samples NaN", lambda f: dt.detection_noise(f.key, f.y_nan), "samples"),
        Bad("num_draws 0", lambda f: dt.detection_noise(f.key, f.y, 0), "num_draws")],
    "detection_codes": [
        Bad("params not DiffusionParams", lambda f: dt.detection_codes(f.params, f.y, f.key), "params"),
        Bad("samples of another d", lambda f: dt.detection_codes(f.dparams, f.y[:, :3], f.key), "samples"),
        Bad("samples NaN", lambda f: dt.detection_codes(f.dparams, f.y_nan, f.key), "samples"),
        Bad("key an int", lambda f: dt.detection_codes(f.dparams, f.y, 2 ** 32), "key"),
        Bad("sigma_det 0", lambda f: dt.detection_codes(f.dparams, f.y, f.key, sigma_det=0.0), "sigma_det"),
        Bad("num_draws 0", lambda f: dt.detection_codes(f.dparams, f.y, f.key, num_draws=0), "num_draws"),
        Bad("gated not a bool", lambda f: dt.detection_codes(f.dparams, f.y, f.key, gated="yes"), "gated")],
    "denoiser_scores": [
        Bad("denoise not callable", lambda f: dt.denoiser_scores(5, f.y, f.key), "denoise"),
        Bad("samples NaN", lambda f: dt.denoiser_scores(f.identity, f.y_nan, f.key), "samples"),
        Bad("key an int", lambda f: dt.denoiser_scores(f.identity, f.y, 0), "key"),
        Bad("sigma_det < 0", lambda f: dt.denoiser_scores(f.identity, f.y, f.key, sigma_det=-0.1), "sigma_det")],
    "effective_rank": [
        Bad("singular_values rank 0", lambda f: dt.effective_rank(1.0), "singular_values"),
        Bad("singular_values NaN", lambda f: dt.effective_rank(f.h_nan), "singular_values"),
        Bad("singular_values < 0", lambda f: dt.effective_rank(-f.h), "singular_values")],
    "diffusion_jacobian_spectrum": [
        Bad("params not DiffusionParams", lambda f: dt.diffusion_jacobian_spectrum(f.params, f.y[0], 0.5), "params"),
        Bad("y rank 2", lambda f: dt.diffusion_jacobian_spectrum(f.dparams, f.y, 0.5), "y"),
        Bad("y of another d", lambda f: dt.diffusion_jacobian_spectrum(f.dparams, f.y[0, :3], 0.5), "y"),
        Bad("y NaN", lambda f: dt.diffusion_jacobian_spectrum(f.dparams, f.y_nan[1], 0.5), "y"),
        Bad("sigma 0", lambda f: dt.diffusion_jacobian_spectrum(f.dparams, f.y[0], 0.0), "sigma")],
    "jacobian_spectrum_of": [
        Bad("denoise not callable", lambda f: dt.jacobian_spectrum_of(5, f.y[0], 0.5), "denoise"),
        Bad("y rank 2", lambda f: dt.jacobian_spectrum_of(f.identity, f.y, 0.5), "y"),
        Bad("y NaN", lambda f: dt.jacobian_spectrum_of(f.identity, f.y_nan[1], 0.5), "y"),
        Bad("sigma 0", lambda f: dt.jacobian_spectrum_of(f.identity, f.y[0], 0.0), "sigma")],
    "jacobian_svd_of": [
        Bad("denoise not callable", lambda f: dt.jacobian_svd_of(5, f.y[0], 0.5), "denoise"),
        Bad("y rank 2", lambda f: dt.jacobian_svd_of(f.identity, f.y, 0.5), "y"),
        Bad("y NaN", lambda f: dt.jacobian_svd_of(f.identity, f.y_nan[1], 0.5), "y"),
        Bad("sigma 0", lambda f: dt.jacobian_svd_of(f.identity, f.y[0], 0.0), "sigma")],
    "jacobian_ranks": [
        Bad("params not DiffusionParams", lambda f: dt.jacobian_ranks(f.params, f.y, f.key), "params"),
        Bad("samples of another d", lambda f: dt.jacobian_ranks(f.dparams, f.y[:, :3], f.key), "samples"),
        Bad("key an int", lambda f: dt.jacobian_ranks(f.dparams, f.y, 0), "key"),
        Bad("sigma_det 0", lambda f: dt.jacobian_ranks(f.dparams, f.y, f.key, sigma_det=0.0), "sigma_det")],
    "detection_scores": [
        Bad("params not DiffusionParams", lambda f: dt.detection_scores(f.params, f.y, f.key), "params"),
        Bad("samples NaN", lambda f: dt.detection_scores(f.dparams, f.y_nan, f.key), "samples"),
        Bad("key an int", lambda f: dt.detection_scores(f.dparams, f.y, 0), "key"),
        Bad("sigma_det 0", lambda f: dt.detection_scores(f.dparams, f.y, f.key, sigma_det=0.0), "sigma_det"),
        Bad("detectors unknown", lambda f: dt.detection_scores(f.dparams, f.y, f.key, detectors=("mse",)), "detectors"),
        Bad("nearest_distance without train_x",
            lambda f: dt.detection_scores(f.dparams, f.y, f.key, detectors=("nearest_distance",)), "train_x"),
        Bad("train_x of another d", lambda f: dt.detection_scores(f.dparams, f.y, f.key, train_x=f.x[:, :3],
                                                                  detectors=("nearest_distance",)), "train_x")],
    "detection_metrics": [
        Bad("one positive score", lambda f: dt.detection_metrics([1.0], [0.0, 0.5]), "scores_positive"),
        Bad("negative NaN", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, NAN]), "scores_negative"),
        Bad("fpr 1", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, 0.5], fpr=1.0), "fpr"),
        Bad("num_bootstrap 0", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, 0.5], num_bootstrap=0),
            "num_bootstrap"),
        Bad("level >= 1", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, 0.5], level=1.0), "level"),
        Bad("seed >= 2**32", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, 0.5], seed=2 ** 32), "seed"),
        Bad("seed < 0", lambda f: dt.detection_metrics([1.0, 2.0], [0.0, 0.5], seed=-1), "seed")],
    "roc_curve": [
        Bad("positives rank 2", lambda f: dt.roc_curve([[1.0, 2.0]], [0.0, 0.5]), "scores_positive"),
        Bad("one negative score", lambda f: dt.roc_curve([1.0, 2.0], [0.0]), "scores_negative"),
        Bad("positive NaN", lambda f: dt.roc_curve([1.0, NAN], [0.0, 0.5]), "scores_positive")],
    # ---------------------------------------------------------------- steering.py
    "concept_direction": [
        Bad("params not DiffusionParams", lambda f: dt.concept_direction(f.params, f.y, f.key, 0.5), "params"),
        Bad("reference one sample", lambda f: dt.concept_direction(f.dparams, f.y[:1], f.key, 0.5), "reference"),
        Bad("reference of another d", lambda f: dt.concept_direction(f.dparams, f.y[:, :3], f.key, 0.5), "reference"),
        Bad("reference NaN", lambda f: dt.concept_direction(f.dparams, f.y_nan, f.key, 0.5), "reference"),
        Bad("key an int", lambda f: dt.concept_direction(f.dparams, f.y, 0, 0.5), "key"),
        Bad("sigma_ref 0", lambda f: dt.concept_direction(f.dparams, f.y, f.key, 0.0), "sigma_ref")],
    "steering_window": [
        Bad("sigmas rank 2", lambda f: dt.steering_window(f.sigmas[None], 0, 1), "sigmas"),
        Bad("sigmas one level", lambda f: dt.steering_window([0.0], 0, 1), "sigmas"),
        Bad("start 0.5", lambda f: dt.steering_window(f.sigmas, 0.5, 2), "start"),
        Bad("start not below stop", lambda f: dt.steering_window(f.sigmas, 2, 2), "start"),
        Bad("stop past the steps", lambda f: dt.steering_window(f.sigmas, 0, 4), "stop")],
    "steering_hook": [
        Bad("direction rank 2", lambda f: dt.steering_hook(f.codes, 1.0, f.window), "direction"),
        Bad("direction NaN", lambda f: dt.steering_hook(f.h_nan, 1.0, f.window), "direction"),
        Bad("strength NaN", lambda f: dt.steering_hook(f.h, NAN, f.window), "strength"),
        Bad("window not a SteeringWindow", lambda f: dt.steering_hook(f.h, 1.0, (0, 2)), "window")],
    "steered_denoiser": [
        Bad("params not DiffusionParams", lambda f: dt.steered_denoiser(f.params, f.h, 1.0, f.window), "params"),
        Bad("direction of another p", lambda f: dt.steered_denoiser(f.dparams, f.h[:2], 1.0, f.window), "direction"),
        Bad("window not a SteeringWindow", lambda f: dt.steered_denoiser(f.dparams, f.h, 1.0, None), "window"),
        Bad("with_code not a bool", lambda f: dt.steered_denoiser(f.dparams, f.h, 1.0, f.window, with_code=1),
            "with_code")],
    # ---------------------------------------------------------------- theory.py
    "memorization_assumptions": [
        Bad("x rank 1", lambda f: dt.memorization_assumptions(f.x[0], None, 1e-3, 6), "x"),
        Bad("x NaN", lambda f: dt.memorization_assumptions(f.x_nan, None, 1e-3, 6), "x"),
        Bad("lam < 0", lambda f: dt.memorization_assumptions(f.x, None, -1.0, 6), "lam"),
        Bad("width 0", lambda f: dt.memorization_assumptions(f.x, None, 1e-3, 0), "width")],
    "memorization_scales": [
        Bad("x NaN", lambda f: dt.memorization_scales(f.x_nan, 0.2, 1e-3), "x"),
        Bad("sigma 0", lambda f: dt.memorization_scales(f.x, 0.0, 1e-3), "sigma"),
        Bad("lam < 0", lambda f: dt.memorization_scales(f.x, 0.2, -1.0), "lam"),
        Bad("lam too large to store", lambda f: dt.memorization_scales(f.x, 0.2, 1e3), "lam")],
    "memorization_weights": [
        Bad("x rank 1", lambda f: dt.memorization_weights(f.x[0], 0.2, 1e-3, 6), "x"),
        Bad("sigma 0", lambda f: dt.memorization_weights(f.x, 0.0, 1e-3, 6), "sigma"),
        Bad("lam < 0", lambda f: dt.memorization_weights(f.x, 0.2, -1.0, 6), "lam"),
        Bad("width 0", lambda f: dt.memorization_weights(f.x, 0.2, 1e-3, 0), "width"),
        Bad("width below n", lambda f: dt.memorization_weights(f.x, 0.2, 1e-3, 5), "width"),
        Bad("gtol 0", lambda f: dt.memorization_weights(f.x, 0.2, 1e-3, 6, exact=True, gtol=0.0), "gtol")],
    "memorization_loss": [
        Bad("x NaN", lambda f: dt.memorization_loss(f.x_nan, 0.2, 1e-3), "x"),
        Bad("sigma 0", lambda f: dt.memorization_loss(f.x, 0.0, 1e-3), "sigma"),
        Bad("lam < 0", lambda f: dt.memorization_loss(f.x, 0.2, -1.0), "lam")],
    "coactivation_probabilities": [
        Bad("x rank 1", lambda f: dt.coactivation_probabilities(f.x[0], 0.2), "x"),
        Bad("x NaN", lambda f: dt.coactivation_probabilities(f.x_nan, 0.2), "x"),
        Bad("sigma 0", lambda f: dt.coactivation_probabilities(f.x, 0.0), "sigma")],
    "closed_form_gap": [
        Bad("x NaN", lambda f: dt.closed_form_gap(f.params, f.x_nan, 0.2, 1e-3), "x"),
        Bad("sigma 0", lambda f: dt.closed_form_gap(f.params, f.x, 0.0, 1e-3), "sigma"),
        Bad("lam < 0", lambda f: dt.closed_form_gap(f.params, f.x, 0.2, -1.0), "lam"),
        Bad("labels of another length", lambda f: dt.closed_form_gap(f.params, f.x, 0.2, 1e-3, labels=np.zeros(3)),
            "labels"),
        Bad("width 0", lambda f: dt.closed_form_gap(f.params, f.x, 0.2, 1e-3, width=0), "width"),
        Bad("unknown rule", lambda f: dt.closed_form_gap(f.params, f.x, 0.2, 1e-3, rule="best"), "rule")],
    "memorization_loss_limit": [
        Bad("x rank 1", lambda f: dt.memorization_loss_limit(f.x[0], 0.2), "x"),
        Bad("x NaN", lambda f: dt.memorization_loss_limit(f.x_nan, 0.2), "x"),
        Bad("sigma 0", lambda f: dt.memorization_loss_limit(f.x, 0.0), "sigma")],
    "allocate_width": [
        Bad("width 0", lambda f: dt.allocate_width(0, [3, 3]), "width"),
        Bad("counts empty", lambda f: dt.allocate_width(4, []), "counts"),
        Bad("counts 0", lambda f: dt.allocate_width(4, [3, 0]), "counts"),
        Bad("counts 2.5", lambda f: dt.allocate_width(4, [3, 2.5]), "counts"),
        Bad("counts rank 2", lambda f: dt.allocate_width(4, [[3, 3]]), "counts"),
        Bad("ranks of another length", lambda f: dt.allocate_width(4, [3, 3], ranks=[1]), "ranks"),
        Bad("ranks < 0", lambda f: dt.allocate_width(4, [3, 3], ranks=[1, -1]), "ranks"),
        Bad("rule unknown", lambda f: dt.allocate_width(4, [3, 3], rule="greedy"), "rule")],
    "cluster_solution": [
        Bad("x_k rank 1", lambda f: dt.cluster_solution(f.x[0], 6, 0.2, 1e-3, 2), "x_k"),
        Bad("x_k NaN", lambda f: dt.cluster_solution(f.x_nan, 6, 0.2, 1e-3, 2), "x_k"),
        Bad("n_total 0", lambda f: dt.cluster_solution(f.x, 0, 0.2, 1e-3, 2), "n_total"),
        Bad("n_total below the cluster", lambda f: dt.cluster_solution(f.x, 5, 0.2, 1e-3, 2), "n_total"),
        Bad("sigma 0", lambda f: dt.cluster_solution(f.x, 6, 0.0, 1e-3, 2), "sigma"),
        Bad("lam < 0", lambda f: dt.cluster_solution(f.x, 6, 0.2, -1.0, 2), "lam"),
        Bad("width -1", lambda f: dt.cluster_solution(f.x, 6, 0.2, 1e-3, -1), "width")],
    "generalization_weights": [
        Bad("x NaN", lambda f: dt.generalization_weights(f.x_nan, f.labels, 0.2, 1e-3, 4), "x"),
        Bad("labels of another length", lambda f: dt.generalization_weights(f.x, f.labels[:5], 0.2, 1e-3, 4), "labels"),
        Bad("labels rank 2", lambda f: dt.generalization_weights(f.x, f.labels[:, None], 0.2, 1e-3, 4), "labels"),
        Bad("sigma 0", lambda f: dt.generalization_weights(f.x, f.labels, 0.0, 1e-3, 4), "sigma"),
        Bad("lam < 0", lambda f: dt.generalization_weights(f.x, f.labels, 0.2, -1.0, 4), "lam"),
        Bad("width 0", lambda f: dt.generalization_weights(f.x, f.labels, 0.2, 1e-3, 0), "width"),
        Bad("rule unknown", lambda f: dt.generalization_weights(f.x, f.labels, 0.2, 1e-3, 4, rule="greedy"), "rule")],
    "shrunk_linear_map": [
        Bad("second_moment not square", lambda f: dt.shrunk_linear_map(f.x, 0.2, 0.0, 2), "second_moment"),
        Bad("second_moment NaN", lambda f: dt.shrunk_linear_map(np.full((4, 4), NAN), 0.2, 0.0, 2), "second_moment"),
        Bad("sigma 0", lambda f: dt.shrunk_linear_map(np.eye(4), 0.0, 0.0, 2), "sigma"),
        Bad("lam_over_rho < 0", lambda f: dt.shrunk_linear_map(np.eye(4), 0.2, -1.0, 2), "lam_over_rho"),
        Bad("rank -1", lambda f: dt.shrunk_linear_map(np.eye(4), 0.2, 0.0, -1), "rank"),
        Bad("rank 2.5", lambda f: dt.shrunk_linear_map(np.eye(4), 0.2, 0.0, 2.5), "rank")],
    "cluster_linear_maps": [
        Bad("x NaN", lambda f: dt.cluster_linear_maps(f.x_nan, f.labels, 0.2, 1e-3, [2, 2]), "x"),
        Bad("labels of another length", lambda f: dt.cluster_linear_maps(f.x, f.labels[:5], 0.2, 1e-3, [2, 2]),
            "labels"),
        Bad("labels longer", lambda f: dt.cluster_linear_maps(f.x, np.r_[f.labels, 1], 0.2, 1e-3, [2, 2]), "labels"),
        Bad("widths of another length", lambda f: dt.cluster_linear_maps(f.x, f.labels, 0.2, 1e-3, [2, 2, 2]),
            "widths"),
        Bad("widths -1", lambda f: dt.cluster_linear_maps(f.x, f.labels, 0.2, 1e-3, [2, -1]), "widths"),
        Bad("widths 2.5", lambda f: dt.cluster_linear_maps(f.x, f.labels, 0.2, 1e-3, [2, 2.5]), "widths"),
        Bad("sigma 0", lambda f: dt.cluster_linear_maps(f.x, f.labels, 0.0, 1e-3, [2, 2]), "sigma"),
        Bad("lam < 0", lambda f: dt.cluster_linear_maps(f.x, f.labels, 0.2, -1.0, [2, 2]), "lam")],
    "mixture_linear_maps": [
        Bad("mixture not a GaussianMixture", lambda f: dt.mixture_linear_maps(tuple(f.mixture), 0.2, 0.0, 2),
            "mixture"),
        Bad("widths of another length", lambda f: dt.mixture_linear_maps(f.mixture, 0.2, 0.0, [2, 2, 2]), "widths"),
        Bad("widths 2.5", lambda f: dt.mixture_linear_maps(f.mixture, 0.2, 0.0, [2, 2.5]), "widths"),
        Bad("sigma 0", lambda f: dt.mixture_linear_maps(f.mixture, 0.0, 0.0, [2, 2]), "sigma"),
        Bad("lam < 0", lambda f: dt.mixture_linear_maps(f.mixture, 0.2, -1.0, [2, 2]), "lam")],
    "block_linear_loss": [
        Bad("widths of another length", lambda f: dt.block_linear_loss(f.mixture, 0.2, [2]), "widths"),
        Bad("widths -1", lambda f: dt.block_linear_loss(f.mixture, 0.2, [2, -1]), "widths"),
        Bad("sigma 0", lambda f: dt.block_linear_loss(f.mixture, 0.0, [2, 2]), "sigma")],
    "cor33_bound_as_printed": [
        Bad("widths of another length", lambda f: dt.cor33_bound_as_printed(f.mixture, 0.2, [2, 2, 2]), "widths"),
        Bad("widths 2.5", lambda f: dt.cor33_bound_as_printed(f.mixture, 0.2, 2.5), "widths"),
        Bad("sigma < 0", lambda f: dt.cor33_bound_as_printed(f.mixture, -0.2, [2, 2]), "sigma")],
    "hybrid_weights": [
        Bad("x NaN", lambda f: dt.hybrid_weights(f.x_nan, f.labels, np.zeros(6, bool), 0.2, 1e-3, 4), "x"),
        Bad("labels of another length",
            lambda f: dt.hybrid_weights(f.x, f.labels[:5], np.zeros(6, bool), 0.2, 1e-3, 4), "labels"),
        Bad("is_duplicate of another length",
            lambda f: dt.hybrid_weights(f.x, f.labels, np.zeros(5, bool), 0.2, 1e-3, 4), "is_duplicate"),
        Bad("sigma 0", lambda f: dt.hybrid_weights(f.x, f.labels, np.zeros(6, bool), 0.0, 1e-3, 4), "sigma"),
        Bad("lam < 0", lambda f: dt.hybrid_weights(f.x, f.labels, np.zeros(6, bool), 0.2, -1.0, 4), "lam"),
        Bad("width 0", lambda f: dt.hybrid_weights(f.x, f.labels, np.zeros(6, bool), 0.2, 1e-3, 0), "width")],
    "experiment_parser": [
        Bad("description not a string", lambda f: dt.experiment_parser(None, "results/x"), "description"),
        Bad("out empty", lambda f: dt.experiment_parser("x", ""), "out")],
    "default_chunk_size": [
        Bad("num_queries < 0", lambda f: dt.default_chunk_size(-1, 100, 3), "num_queries"),
        Bad("num_samples 0", lambda f: dt.default_chunk_size(10, 0, 3), "num_samples"),
        Bad("dim a float", lambda f: dt.default_chunk_size(10, 100, 3.5), "dim"),
        Bad("platform not a string", lambda f: dt.default_chunk_size(10, 100, 3, 1), "platform")],
    "compiler_options": [
        Bad("cfg a dict", lambda f: dt.compiler_options({}, "cpu"), "cfg"),
        Bad("platform None", lambda f: dt.compiler_options(dt.TrainConfig(), None), "platform")],
    "interleave_by_label": [
        Bad("x rank 1", lambda f: dt.interleave_by_label(f.x[0], f.labels[:1]), "x"),
        Bad("labels of another length", lambda f: dt.interleave_by_label(f.x, f.labels[:5]), "labels"),
        Bad("labels float", lambda f: dt.interleave_by_label(f.x, np.full(6, 0.5)), "labels"),
        Bad("labels unbalanced", lambda f: dt.interleave_by_label(f.x, [0, 0, 0, 1, 1, 2]), "labels")],
    "mean_squared_distance": [
        Bad("a rank 1", lambda f: dt.mean_squared_distance(f.x[0], f.x), "a"),
        Bad("b of another shape", lambda f: dt.mean_squared_distance(f.x, f.x[:3]), "b"),
        Bad("a NaN", lambda f: dt.mean_squared_distance(f.x_nan, f.x), "a")],
    "apply_mode_maps": [
        Bad("maps rank 2", lambda f: dt.apply_mode_maps(np.eye(3), [0], np.ones((1, 3))), "maps"),
        Bad("maps of another dimension", lambda f: dt.apply_mode_maps(np.ones((2, 4, 4)), [0], np.ones((1, 3))), "maps"),
        Bad("labels beyond K", lambda f: dt.apply_mode_maps(np.ones((2, 3, 3)), [2], np.ones((1, 3))), "labels"),
        Bad("labels of another length", lambda f: dt.apply_mode_maps(np.ones((2, 3, 3)), [0, 1], np.ones((1, 3))), "labels")],
    "per_mode_relative_error": [
        Bad("outputs rank 1", lambda f: dt.per_mode_relative_error(f.x[0], f.x, f.labels), "outputs"),
        Bad("reference of another shape", lambda f: dt.per_mode_relative_error(f.x, f.x[:3], f.labels), "reference"),
        Bad("labels of another length", lambda f: dt.per_mode_relative_error(f.x, f.x, f.labels[:5]), "labels"),
        Bad("outputs NaN", lambda f: dt.per_mode_relative_error(f.x_nan, f.x, f.labels), "outputs")],
    # ---------------------------------------------------------------- activations.py
    "pool_activations": [
        Bad("activations NaN", lambda f: dt.pool_activations(f.x_nan, layout="NC"), "activations"),
        Bad("activations rank 2 for NCHW", lambda f: dt.pool_activations(f.x, layout="NCHW"), "activations"),
        Bad("activations empty", lambda f: dt.pool_activations(f.x[:0], layout="NC"), "activations"),
        Bad("layout unknown", lambda f: dt.pool_activations(f.x, layout="CHW"), "layout"),
        Bad("pooling unknown", lambda f: dt.pool_activations(f.x, layout="NC", pooling="sum"), "pooling")],
    "activation_scores": [
        Bad("activations NaN", lambda f: dt.activation_scores(f.x_nan, layout="NC"), "activations"),
        Bad("activations no channels", lambda f: dt.activation_scores(f.x[:, :0], layout="NC"), "activations"),
        Bad("score unknown", lambda f: dt.activation_scores(f.x, layout="NC", scores=("entropy",)), "scores")],
    "layer_detection": [
        Bad("one memorized sample", lambda f: dt.layer_detection(f.x[:1], f.x, layout="NC"), "memorized"),
        Bad("generalized NaN", lambda f: dt.layer_detection(f.x, f.x_nan, layout="NC"), "generalized"),
        Bad("generalized of other units", lambda f: dt.layer_detection(f.x, f.x[:, :3], layout="NC"), "generalized"),
        Bad("fpr 1", lambda f: dt.layer_detection(f.x, f.x, layout="NC", fpr=1.0), "fpr"),
        Bad("seed < 0", lambda f: dt.layer_detection(f.x, f.x, layout="NC", seed=-1), "seed")],
    "layers_detection": [
        Bad("memorized not a dict", lambda f: dt.layers_detection(f.x, {"a": f.x}, layout="NC"), "memorized"),
        Bad("a layer only in memorized", lambda f: dt.layers_detection({"a": f.x}, {}, layout="NC"), "memorized"),
        Bad("layout unknown", lambda f: dt.layers_detection({"a": f.x}, {"a": f.x}, layout="CHW"), "layout")],
    # ---------------------------------------------------------------- deep.py
    "deep_mlp_model": [
        Bad("arch a dict", lambda f: dt.deep_mlp_model({"depth": 2}), "arch"),
        Bad("arch a UNetConfig", lambda f: dt.deep_mlp_model(dt.UNetConfig()), "arch")],
    "unet_model": [
        Bad("arch a DeepMLPConfig", lambda f: dt.unet_model(f.mlp), "arch")],
    "deep_denoiser": [
        Bad("arch a string", lambda f: dt.deep_denoiser("unet", f.mlp_params), "arch"),
        Bad("params of another model", lambda f: dt.deep_denoiser(dt.UNetConfig(), f.mlp_params), "params"),
        Bad("params a DiffusionParams", lambda f: dt.deep_denoiser(f.mlp, f.dparams), "params")],
    "layer_activations": [
        Bad("y rank 1", lambda f: dt.layer_activations(f.mlp, f.mlp_params, f.y[0], 0.1), "y"),
        Bad("y of another d", lambda f: dt.layer_activations(f.mlp, f.mlp_params, f.y[:, :3], 0.1), "y"),
        Bad("y NaN", lambda f: dt.layer_activations(f.mlp, f.mlp_params, f.y_nan, 0.1), "y"),
        Bad("sigma 0", lambda f: dt.layer_activations(f.mlp, f.mlp_params, f.y, 0.0), "sigma"),
        Bad("a layer it does not have", lambda f: dt.layer_activations(f.mlp, f.mlp_params, f.y, 0.1,
                                                                       layers=("layer3",)), "layers")],
    "edm_coefficients": [
        Bad("sigma 0", lambda f: dt.edm_coefficients(0.0), "sigma"),
        Bad("sigma_data < 0", lambda f: dt.edm_coefficients(0.5, -1.0), "sigma_data")],
}

# Public callables without rows, each with the reason bad input makes no sense for it. Empty today:
# even the functions that take a name have a bad input (``preset`` and ``get_model`` get an unknown
# name, ``fashion_mnist_available`` a root that is not a path). Add a name here only with its reason.
EXEMPT: dict[str, str] = {}


def _write(path, text: str):
  path.write_text(text)
  return path


def _public_callables() -> list[str]:
  """Public functions of the package: callables that are not classes (NamedTuples, dataclasses)."""
  return sorted(name for name in dir(dt) if not name.startswith("_") and callable(getattr(dt, name))
                and not inspect.isclass(getattr(dt, name)))


def test_every_public_callable_has_a_row():
  public = set(_public_callables())
  missing = sorted(public - set(BAD_CALLS) - set(EXEMPT))
  assert not missing, (f"public callables without bad-input rows (add them to BAD_CALLS, or to EXEMPT with a "
                       f"reason): {missing}")
  stale = sorted((set(BAD_CALLS) | set(EXEMPT)) - public)
  assert not stale, f"rows for names that are not public callables: {stale}"
  assert not set(BAD_CALLS) & set(EXEMPT)
  assert all(BAD_CALLS[name] for name in BAD_CALLS)
  assert len(public) >= 100  # the sweep covers the whole API, not a part of it


_ROWS = [pytest.param(name, bad, id=f"{name}-{bad.id}",
                      marks=[pytest.mark.xfail(strict=False, reason=bad.xfail)] if bad.xfail else [])
         for name, bads in BAD_CALLS.items() for bad in bads]


@pytest.mark.parametrize("name, bad", _ROWS)
def test_bad_input_is_a_value_error_naming_the_argument(name, bad, tmp_path):
  f = SimpleNamespace(**vars(_fixtures()), tmp=tmp_path)
  with pytest.raises(ValueError, match=_names(bad.arg)):
    bad.call(f)


# ------------------------------------------------------------------------------------------------
# Seeds: one range, [0, 2**32), everywhere an integer seed is taken.

BAD_SEEDS = st.one_of(st.integers(max_value=-1), st.integers(min_value=2 ** 32))


@settings(max_examples=20, deadline=None)
@given(seed=BAD_SEEDS)
def test_out_of_range_seeds_name_seed_and_the_range(seed):
  f = _fixtures()
  calls = [lambda: checks.check_seed("seed", seed),
           lambda: dt.memorized_fraction([True, False], seed=seed),
           lambda: dt.model_spec(f.cfg, seed, 6),
           lambda: dt.load_digits(num=3, seed=seed),
           lambda: dt.train(f.x, f.cfg, seed)]
  for call in calls:
    with pytest.raises(ValueError, match=r"seed.*\[0, 2\*\*32\)"):
      call()
  with pytest.raises(ValueError, match=r"seeds.*\[0, 2\*\*32\)"):
    dt.make_grid(f.cfg, 6, seeds=[0, seed])


@settings(max_examples=10, deadline=None)
@given(seed=st.one_of(BAD_SEEDS, st.integers(0, 2 ** 32 - 1)))
def test_an_integer_for_a_key_names_key_and_the_seed_range(seed):
  """Functions that take a PRNG key reject an integer (in range or not) with a pointer to jax.random.key."""
  f = _fixtures()
  calls = [lambda: dt.gaussian_mixture(seed, 2, 4), lambda: dt.sample_mixture(seed, f.mixture, 3),
           lambda: dt.equiangular_directions(seed, 2, 4), lambda: dt.obtuse_point_set(seed, 2, 4),
           lambda: dt.init_params(seed, 4, 3), lambda: dt.init_diffusion_params(seed, 4, 3),
           lambda: dt.log_uniform_sigmas(seed, 3, 0.1, 1.0)]
  for call in calls:
    with pytest.raises(ValueError, match=r"key must be a PRNG key.*seed.*\[0, 2\*\*32\)"):
      call()


def test_the_ends_of_the_seed_range_are_accepted():
  f = _fixtures()
  for seed in (0, 2 ** 32 - 1, np.uint32(2 ** 32 - 1), np.int64(7)):
    assert checks.check_seed("seed", seed) == int(seed)
    dt.memorized_fraction([True, False], seed=seed, num_bootstrap=10)
    assert int(dt.model_spec(f.cfg, seed, 6).seed) == int(seed)
  assert dt.make_grid(f.cfg, 6, seeds=[0, 2 ** 32 - 1])[1]["seed"] == 2 ** 32 - 1
  for bad in (True, 1.0, "1", None):
    with pytest.raises(ValueError, match="seed must be an integer"):
      checks.check_seed("seed", bad)


def test_keys_are_accepted_typed_raw_and_traced():
  f = _fixtures()
  for key in (f.key, jax.random.PRNGKey(1), np.asarray(jax.random.PRNGKey(1))):
    assert checks.check_key("key", key) is key
  jax.jit(lambda k: dt.init_params(k, 4, 3))(f.key)
  jax.vmap(lambda k: dt.init_params(k, 4, 3))(jax.random.split(f.key, 2))
  with pytest.raises(ValueError, match="key must be one PRNG key"):
    checks.check_key("key", jax.random.split(f.key, 2))  # a batch of keys: vmap instead


def test_cli_data_seed_out_of_range_is_a_value_error():
  from dae_theory._src.cli import load_data
  for kind in ("mixture", "obtuse"):
    with pytest.raises(ValueError, match=r"data\.seed.*\[0, 2\*\*32\)"):
      load_data({"kind": kind, "num": 3, "dim": 4, "seed": 2 ** 32})


# ------------------------------------------------------------------------------------------------
# Random bad shapes and non-finite entries for core functions.

SHAPES = st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple)


@settings(max_examples=30, deadline=None)
@given(shape=SHAPES)
def test_random_bad_shapes_are_rejected(shape):
  f = _fixtures()
  a = np.ones(shape)
  d = 4
  if not (len(shape) in (1, 2) and shape[-1] == d):
    with pytest.raises(ValueError, match=_names("y")):
      dt.empirical_denoiser(a, f.x, 0.5)
    with pytest.raises(ValueError, match=_names("y")):
      dt.gmm_denoiser(a, f.mixture, 0.5)
  if len(shape) != 2:
    with pytest.raises(ValueError, match=_names("x")):
      dt.empirical_denoiser(np.ones(shape[-1:] or (1,)), a, 0.5)
    with pytest.raises(ValueError, match=_names("x")):
      dt.separability(a, np.zeros(shape[:1] or (1,), int))
    with pytest.raises(ValueError, match=_names("x")):
      dt.memorization_scales(a, 0.2, 0.0)
  if shape != (d,):
    with pytest.raises(ValueError, match=_names("y")):
      dt.dae_apply(f.params, a)
  if not (len(shape) == 2 and shape[1] == d):
    with pytest.raises(ValueError, match=_names("x")):
      dt.dae_loss(f.params, a, 0.2, 0.0, key=f.key)
  if len(shape) == 2 and shape[0] != f.labels.shape[0]:
    x = np.ones((shape[0], d))
    with pytest.raises(ValueError, match=_names("labels")):
      dt.cluster_linear_maps(x, f.labels, 0.2, 0.0, 1)
    with pytest.raises(ValueError, match=_names("labels")):
      dt.separability(x, f.labels)


@settings(max_examples=15, deadline=None)
@given(i=st.integers(0, 5), j=st.integers(0, 3), value=st.sampled_from([NAN, np.inf, -np.inf]))
def test_a_non_finite_entry_anywhere_is_rejected(i, j, value):
  f = _fixtures()
  x = f.x.copy()
  x[i, j] = value
  calls = [(lambda: dt.separability(x, f.labels), "x"), (lambda: dt.empirical_denoiser(f.y, x, 0.5), "x"),
           (lambda: dt.memorization_scales(x, 0.2, 1e-3), "x"),
           (lambda: dt.cluster_linear_maps(x, f.labels, 0.2, 1e-3, 2), "x"),
           (lambda: dt.evaluate_samples(x, f.x), "samples"),
           (lambda: dt.dae_loss_given_noise(f.params, f.x, x, 0.2, 0.0), "noise")]
  for call, arg in calls:
    with pytest.raises(ValueError, match=_names(arg)):
      call()


@settings(max_examples=15, deadline=None)
@given(sigma=st.one_of(st.floats(max_value=0.0), st.just(NAN), st.just(np.inf)),
       lam=st.one_of(st.floats(max_value=-1e-300, allow_infinity=True), st.just(NAN)))
def test_non_positive_sigma_and_negative_lam_are_rejected(sigma, lam):
  f = _fixtures()
  for call in (lambda: dt.memorization_scales(f.x, sigma, 1e-3), lambda: dt.empirical_denoiser(f.y, f.x, sigma),
               lambda: dt.cluster_linear_maps(f.x, f.labels, sigma, 1e-3, 2),
               lambda: dt.dae_loss_given_noise(f.params, f.x, f.x, sigma, 0.0)):
    with pytest.raises(ValueError, match=_names("sigma")):
      call()
  for call in (lambda: dt.memorization_scales(f.x, 0.2, lam),
               lambda: dt.cluster_linear_maps(f.x, f.labels, 0.2, lam, 2),
               lambda: dt.population_loss(f.params, f.x, 0.2, lam)):
    with pytest.raises(ValueError, match=_names("lam")):
      call()
