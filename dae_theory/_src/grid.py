"""A sweep's grid: the Cartesian product of per-model values, as arrays (``Grid``) and as a ``ModelSpec``.

The axes are seeds × sizes n × σ × σ_min × λ × learning rate × width p. σ_min is an axis only for
models that read it (the diffusion model); the one-σ DAE's rows do not carry it.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from typing import Sequence

import numpy as np

from dae_theory._src import checks
from dae_theory._src.config import TrainConfig
from dae_theory._src.engine import ModelSpec, check_batch
from dae_theory._src.models import Model

GRID_AXES = ("seeds", "sizes", "sigmas", "sigma_mins", "lams", "learning_rates", "widths")
SPEC_FIELDS = dict(seeds="seed", sizes="num_samples", sigmas="sigma", sigma_mins="sigma_min", lams="lam",
                   learning_rates="learning_rate", widths="width")


@dataclasses.dataclass(frozen=True, eq=False)
class Grid:
  """The models of a sweep as arrays with one entry per model (axis M), in the order of
  ``itertools.product`` over the axes seeds × sizes × σ × (σ_min ×) λ × learning rate × width.

  Attributes:
    seed: (M,) int64.
    num_samples: (M,) int64: model i trains on the first n_i rows of the data.
    sigma, lam, learning_rate: (M,) float64.
    width: (M,) int64: p.
    sigma_min: (M,) float64 for models that read σ_min (the diffusion model), else None.

  ``len(grid)`` is M; ``grid[i]`` is model i's row as a dict of Python numbers (``grid[i]["width"]``),
  ``grid[a:b]`` a list of rows, and iterating yields the rows in order.
  """

  seed: np.ndarray
  num_samples: np.ndarray
  sigma: np.ndarray
  lam: np.ndarray
  learning_rate: np.ndarray
  width: np.ndarray
  sigma_min: np.ndarray | None = None

  @classmethod
  def from_rows(cls, rows: Sequence[dict]) -> "Grid":
    """A ``Grid`` from rows (dicts with the fields above)."""
    col = lambda f, dtype: np.asarray([r[f] for r in rows], dtype)
    sigma_min = col("sigma_min", np.float64) if rows and "sigma_min" in rows[0] else None
    return cls(col("seed", np.int64), col("num_samples", np.int64), col("sigma", np.float64), col("lam", np.float64),
               col("learning_rate", np.float64), col("width", np.int64), sigma_min)

  def __len__(self) -> int:
    return int(self.seed.shape[0])

  def __getitem__(self, index):
    if isinstance(index, slice):
      return [self[i] for i in range(len(self))[index]]
    i = range(len(self))[operator.index(index)]
    row = {"seed": int(self.seed[i]), "num_samples": int(self.num_samples[i]), "sigma": float(self.sigma[i])}
    if self.sigma_min is not None:
      row["sigma_min"] = float(self.sigma_min[i])
    row.update(lam=float(self.lam[i]), learning_rate=float(self.learning_rate[i]), width=int(self.width[i]))
    return row

  def __iter__(self):
    return (self[i] for i in range(len(self)))

  def rows(self) -> list[dict]:
    """Every model's row, in order."""
    return list(self)


def make_grid(config: TrainConfig, num_rows: int, *, model: Model | None = None, seeds=(0,), sizes=None,
              sigmas=None, sigma_mins=None, lams=None, learning_rates=None, widths=None) -> Grid:
  """The Cartesian product of the axes (defaults from ``config`` and all rows), one dict per model.

  Args:
    config: the shared ``TrainConfig``; an axis left as None takes its value from it.
    num_rows: rows N of the shared data (sizes default to N and may not exceed it).
    model: the ``Model`` (default: ``config.model``); σ_min is an axis only when it reads it.
    seeds, sizes, sigmas, sigma_mins, lams, learning_rates, widths: the axes' values.

  Returns:
    A ``Grid``: per-model arrays seed, num_samples, sigma, (sigma_min,) lam, learning_rate, width, in
    the order of ``itertools.product`` over ``GRID_AXES``.
  """
  from dae_theory._src.models import get_model
  if not isinstance(config, TrainConfig):
    raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
  num_rows = checks.check_int("num_rows", num_rows)
  model = get_model(config.model) if model is None else model
  if not isinstance(model, Model):
    raise ValueError(f"model must be a Model, got {type(model).__name__}")
  axes = dict(seeds=seeds, sizes=(num_rows,) if sizes is None else sizes,
              sigmas=(config.sigma,) if sigmas is None else sigmas,
              sigma_mins=(config.sigma_min,) if sigma_mins is None else sigma_mins,
              lams=(config.lam,) if lams is None else lams,
              learning_rates=(config.learning_rate,) if learning_rates is None else learning_rates,
              widths=(config.width,) if widths is None else widths)
  uses_sigma_min = "sigma_min" in model.sweep_fields
  if sigma_mins is not None and not uses_sigma_min:
    raise ValueError(f"sigma_mins applies to models that read sigma_min; model {model.name!r} does not")
  for name, values in axes.items():
    values = np.atleast_1d(np.asarray(values))
    if values.size == 0:
      raise ValueError(f"{name} must not be empty: a sweep grid needs at least one value on every axis")
    axes[name] = values.tolist()
  for s in axes["seeds"]:
    try:
      checks.check_seed("seeds", s)
    except ValueError:
      raise ValueError(f"seeds must be integers in [0, 2**32), got {s!r}") from None
  for n in axes["sizes"]:
    checks.check_int("sizes", n)
    if n > num_rows:
      raise ValueError(f"sizes must be at most the rows of x ({num_rows}), got {n}")
    check_batch(config, n)
  for w in axes["widths"]:
    checks.check_int("widths", w)
  for name in ("sigmas", "sigma_mins", "learning_rates"):
    for v in axes[name]:
      checks.check_scalar(name, v, positive=True)
  for v in axes["lams"]:
    checks.check_scalar("lams", v, nonnegative=True)
  if uses_sigma_min:
    for lo in axes["sigma_mins"]:
      for hi in axes["sigmas"]:
        if not lo < hi:
          raise ValueError(f"sigma_mins must be below every value of sigmas (the largest noise level), "
                           f"got sigma_min {lo} >= sigma {hi}")
  names = [a for a in GRID_AXES if uses_sigma_min or a != "sigma_mins"]
  return Grid.from_rows([{SPEC_FIELDS[a]: v for a, v in zip(names, combo)}
                         for combo in itertools.product(*(axes[a] for a in names))])


def grid_specs(rows: Sequence[dict]) -> ModelSpec:
  """The rows as one ``ModelSpec`` of host arrays with a leading model axis."""
  col = lambda f, dt, default=None: np.asarray([r.get(f, default) for r in rows], dt)
  return ModelSpec(col("seed", np.uint32), col("num_samples", np.int32), col("sigma", np.float32),
                   col("lam", np.float32), col("learning_rate", np.float32), col("width", np.int32),
                   col("sigma_min", np.float32, 0.0))
