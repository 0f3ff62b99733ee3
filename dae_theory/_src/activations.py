"""Spikiness scores of hidden activations brought from any model (paper Sec. 4.1, App. B.2).

The paper's detector re-noises a generated sample, runs the denoiser and scores the spread of one
hidden layer's activations: a memorised sample gives a spiky code, a generalised one a balanced code.
For a convolutional network the layer's activations are a map A (N, C, H, W) rather than a vector;
the authors (Stable Diffusion 1.4, ``up_blocks.0.resnets.2``) max-pool it over space to one value
per channel,

    h_c = max_{y,x} A[c, y, x]          (N, C),

and score Std(h) over the C channels. This module does that step for activations given as NumPy or
JAX arrays, framework-neutral: the forward pass and the hooks are the caller's (for PyTorch models,
``dae_theory.torch_hooks``). Pooling then scoring:

    layout "NCHW" (N, C, H, W)   positions = (H, W)
    layout "NHWC" (N, H, W, C)   positions = (H, W)
    layout "NTC"  (N, T, C)      positions = the T tokens (transformer layers)
    layout "NC"   (N, C)         no positions: the activations are the code

    pooling "max"      h_c = max over positions (the authors' choice)
    pooling "mean"     h_c = mean over positions
    pooling "flatten"  no pooling: every (channel, position) pair is a unit, (N, C·positions),
                       channel-major, so "NCHW" and "NHWC" of the same map give the same code

The scores are ``code_scores`` of the pooled (N, units) code, oriented for detection with
``HIGHER_MEANS_MEMORIZED`` (memorised samples are flagged by the tail it names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dae_theory._src import checks
from dae_theory._src.detection import (CODE_SCORES, HIGHER_MEANS_MEMORIZED, DetectionMetrics, code_scores,
                                       detection_metrics)

# Each layout names its axes, batch first; the axes other than N and C are pooled.
ACTIVATION_LAYOUTS = LAYOUTS = ("NCHW", "NHWC", "NTC", "NC")
POOLINGS = ("max", "mean", "flatten")


def _check_layout(layout: Any) -> str:
  if not isinstance(layout, str) or layout not in LAYOUTS:
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
  return layout


def _check_pooling(pooling: Any) -> str:
  if not isinstance(pooling, str) or pooling not in POOLINGS:
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
  return pooling


def _check_score_names(scores: Any) -> tuple[str, ...]:
  names = (scores,) if isinstance(scores, str) else scores
  try:
    names = tuple(names)
  except TypeError:
    raise ValueError(f"scores must be names from {CODE_SCORES}, got {scores!r}") from None
  if not names:
    raise ValueError(f"scores must name at least one of {CODE_SCORES}, got none")
  unknown = [n for n in names if not isinstance(n, str) or n not in CODE_SCORES]
  if unknown:
    raise ValueError(f"scores must be names from {CODE_SCORES}, got {unknown}")
  if len(set(names)) != len(names):
    raise ValueError(f"scores must not repeat a name, got {list(names)}")
  return names


def _check_activations(name: str, activations: Any, layout: str, *, min_samples: int = 1) -> np.ndarray:
  """The activations as a host array, after every check: rank of the layout, no empty axis, at
  least ``min_samples`` samples, real and finite."""
  x = checks.as_array(name, activations)
  axes = layout
  if x.ndim < len(axes):
    missing = axes[x.ndim:]
    parts = []
    for kind, group in (("batch axis", [a for a in missing if a == "N"]),
                        ("channel axis", [a for a in missing if a == "C"]),
                        ("pooling axis", [a for a in missing if a not in "NC"])):
      if group:
        parts.append(f"the {kind} {group[0]} does not exist" if len(group) == 1
                     else f"the {kind.replace('axis', 'axes')} {', '.join(group)} do not exist")
    what = "; ".join(parts)
    raise ValueError(f"{name} must have rank {len(axes)} for layout {layout!r} ({', '.join(axes)}), got shape "
                     f"{tuple(x.shape)}: {what}")
  if x.ndim > len(axes):
    raise ValueError(f"{name} must have rank {len(axes)} for layout {layout!r} ({', '.join(axes)}), got shape "
                     f"{tuple(x.shape)}: {x.ndim - len(axes)} axis(es) more than the layout names")
  x = checks.check_array(name, x, ndim=len(axes))
  for axis, label in enumerate(axes):
    if x.shape[axis] == 0:
      what = {"N": "samples", "C": "channels"}.get(label, "positions")
      raise ValueError(f"{name} must not be empty: its {label} axis ({what}) has size 0, got shape {tuple(x.shape)}")
  if x.shape[0] < min_samples:
    raise ValueError(f"{name} must hold at least {min_samples} samples, got shape {tuple(x.shape)}")
  checks.check_finite(name, x)
  return np.asarray(x)


def _pool(x: np.ndarray, layout: str, pooling: str) -> np.ndarray:
  """Checked (N, …) activations → (N, units) float64 code."""
  if not np.issubdtype(x.dtype, np.floating) or x.dtype.itemsize < 4:
    x = x.astype(np.float32)
  if layout == "NHWC":
    x = np.moveaxis(x, 3, 1)
  elif layout == "NTC":
    x = np.moveaxis(x, 2, 1)
  # x is now (N, C, positions…)
  if x.ndim == 2:
    code = x
  elif pooling == "flatten":
    code = x.reshape(x.shape[0], -1)
  else:
    positions = tuple(range(2, x.ndim))
    code = x.max(axis=positions) if pooling == "max" else x.mean(axis=positions, dtype=np.float64)
  return np.asarray(code, np.float64)


def pool_activations(activations, *, layout: str, pooling: str = "max") -> np.ndarray:
  """One code per sample from a layer's activations, (N, units) float64.

      "max":     h[n, c] = max_positions A[n, c, …]        (the authors' spatial max-pool)
      "mean":    h[n, c] = mean_positions A[n, c, …]
      "flatten": h[n] = A[n] in channel-major order, C·positions units

  Args:
    activations: (N, C, H, W), (N, H, W, C), (N, T, C) or (N, C) real, finite activations of N ≥ 1
      samples (NumPy, JAX, or anything ``np.asarray`` takes), no axis of size 0.
    layout: "NCHW", "NHWC", "NTC" or "NC" (already one vector per sample: returned as is).
    pooling: "max", "mean" or "flatten".

  Returns:
    (N, C) codes ((N, C·positions) for "flatten").
  """
  layout = _check_layout(layout)
  pooling = _check_pooling(pooling)
  x = _check_activations("activations", activations, layout)
  return _pool(x, layout, pooling)


def activation_scores(activations, *, layout: str, pooling: str = "max",
                      scores: tuple[str, ...] = CODE_SCORES) -> dict[str, np.ndarray]:
  """Spikiness scores of each sample's pooled code, {score: (N,) float64}.

      scores[name] = code_scores(pool_activations(activations, layout, pooling), name)

  e.g. "std" is the paper's Std(h) = sqrt(mean_c (h_c − mean(h))²) over the units.

  Args:
    activations, layout, pooling: as ``pool_activations``.
    scores: names from ``CODE_SCORES`` (one name or several).
  """
  layout = _check_layout(layout)
  pooling = _check_pooling(pooling)
  names = _check_score_names(scores)
  x = _check_activations("activations", activations, layout)
  code = _pool(x, layout, pooling)
  return {name: code_scores(code, name) for name in names}


def _check_detection_options(fpr, num_bootstrap, seed) -> None:
  checks.check_scalar("fpr", fpr, nonnegative=True)
  if not float(fpr) < 1.0:
    raise ValueError(f"fpr must be in [0, 1), got {fpr}")
  checks.check_int("num_bootstrap", num_bootstrap)
  checks.check_seed("seed", seed)


def _units(x: np.ndarray, layout: str) -> tuple[int, tuple[int, ...]]:
  """(channels, position shape) of checked activations."""
  if layout in ("NCHW", "NC"):
    return x.shape[1], tuple(x.shape[2:])
  return x.shape[-1], tuple(x.shape[1:-1])


def _check_pair(memorized_name: str, memorized, generalized_name: str, generalized, layout: str,
                pooling: str) -> tuple[np.ndarray, np.ndarray]:
  """Both groups checked; their pooled codes must have the same units (the same channels, and for
  "flatten" the same positions too)."""
  pos = _check_activations(memorized_name, memorized, layout, min_samples=2)
  neg = _check_activations(generalized_name, generalized, layout, min_samples=2)
  (c_pos, where_pos), (c_neg, where_neg) = _units(pos, layout), _units(neg, layout)
  if c_pos != c_neg or (pooling == "flatten" and where_pos != where_neg):
    raise ValueError(f"{generalized_name} must have the units of {memorized_name} (the same layer): got shapes "
                     f"{tuple(neg.shape)} and {tuple(pos.shape)} with layout {layout!r} and pooling {pooling!r}")
  return pos, neg


def _detect(pos: np.ndarray, neg: np.ndarray, layout: str, pooling: str, names: tuple[str, ...], fpr,
            num_bootstrap, seed) -> dict[str, DetectionMetrics]:
  code_pos, code_neg = _pool(pos, layout, pooling), _pool(neg, layout, pooling)
  out = {}
  for name in names:
    sign = 1.0 if HIGHER_MEANS_MEMORIZED[name] else -1.0
    out[name] = detection_metrics(sign * code_scores(code_pos, name), sign * code_scores(code_neg, name), fpr=fpr,
                                  num_bootstrap=num_bootstrap, seed=seed)
  return out


def layer_detection(memorized, generalized, *, layout: str, pooling: str = "max",
                    scores: tuple[str, ...] = CODE_SCORES, fpr: float = 0.01, num_bootstrap: int = 1000,
                    seed: int = 0) -> dict[str, DetectionMetrics]:
  """How well each score of one layer's activations separates memorised from generalised samples.

  Each score is computed per sample (``activation_scores``), signed with ``HIGHER_MEANS_MEMORIZED``
  so that larger means flagged, and summarised by ``detection_metrics``: the AUROC and the TPR at
  ``fpr`` (paper Table 1: 1 % FPR), with percentile bootstrap intervals.

  Args:
    memorized: (N₊, …) activations of N₊ ≥ 2 memorised samples (the positives).
    generalized: (N₋, …) activations of N₋ ≥ 2 generalised samples, from the same layer (same
      channels; for "flatten" the same positions too).
    layout, pooling: as ``pool_activations``.
    scores: names from ``CODE_SCORES``.
    fpr, num_bootstrap, seed: as ``detection_metrics``.

  Returns:
    {score: ``DetectionMetrics``}.
  """
  layout = _check_layout(layout)
  pooling = _check_pooling(pooling)
  names = _check_score_names(scores)
  _check_detection_options(fpr, num_bootstrap, seed)
  pos, neg = _check_pair("memorized", memorized, "generalized", generalized, layout, pooling)
  return _detect(pos, neg, layout, pooling, names, fpr, num_bootstrap, seed)


def layers_detection(memorized: Mapping[str, Any], generalized: Mapping[str, Any], *,
                     layout: str | Mapping[str, str], pooling: str = "max", scores: tuple[str, ...] = CODE_SCORES,
                     fpr: float = 0.01, num_bootstrap: int = 1000,
                     seed: int = 0) -> dict[str, dict[str, DetectionMetrics]]:
  """``layer_detection`` for several layers at once, {layer: {score: ``DetectionMetrics``}}, in the
  order of ``memorized``'s layers (e.g. the output of ``dae_theory.torch_hooks.collect_activations``
  on memorised and on generalised samples).

  Args:
    memorized: {layer: (N₊, …) activations}.
    generalized: {layer: (N₋, …) activations}, the same layers.
    layout: one layout for every layer, or {layer: layout}.
    pooling, scores, fpr, num_bootstrap, seed: as ``layer_detection``.

  Every layer is checked before any is scored.
  """
  for arg, value in (("memorized", memorized), ("generalized", generalized)):
    if not isinstance(value, Mapping):
      raise ValueError(f"{arg} must be a dict {{layer: activations}}, got {type(value).__name__}")
  if not memorized:
    raise ValueError("memorized must hold at least one layer, got an empty dict")
  only_mem = [k for k in memorized if k not in generalized]
  only_gen = [k for k in generalized if k not in memorized]
  if only_mem or only_gen:
    parts = ([f"layer(s) {only_mem} only in memorized"] if only_mem else []) + (
        [f"layer(s) {only_gen} only in generalized"] if only_gen else [])
    raise ValueError(f"memorized and generalized must hold the same layers: {'; '.join(parts)}")
  if isinstance(layout, Mapping):
    missing = [k for k in memorized if k not in layout]
    if missing:
      raise ValueError(f"layout must give a layout for every layer, missing {missing}")
    layouts = {k: _check_layout(layout[k]) for k in memorized}
  else:
    layout = _check_layout(layout)
    layouts = {k: layout for k in memorized}
  pooling = _check_pooling(pooling)
  names = _check_score_names(scores)
  _check_detection_options(fpr, num_bootstrap, seed)
  pairs = {k: _check_pair(f"memorized[{k!r}]", memorized[k], f"generalized[{k!r}]", generalized[k], layouts[k],
                          pooling) for k in memorized}
  return {k: _detect(pos, neg, layouts[k], pooling, names, fpr, num_bootstrap, seed) for k, (pos, neg) in pairs.items()}
