"""The hybrid regime of Cor 3.4: duplicated samples get memorising columns, well-sampled modes statistical blocks.

Run: .venv/bin/python experiments/hybrid_regime.py --out results/hybrid_regime [--size fast|default|full]
About 30 s on a 2-core CPU shared with other jobs at --size default (3 seeds, 20k steps; 22 s of
CPU time); fast, 1 seed and 2k steps, about 15 s; full, 8 seeds and 40k steps, about 80 s. Writes ``config.json``, ``models.npz``, ``analysis.npz`` and ``summary.json``; a rerun
skips finished parts. ``experiments/plot_hybrid_regime.py`` draws ``figures/hybrid_regime.png``.

Data (Cor 3.4's setting): K + D = 6 equiangular directions in d = 20 (pairwise cosine −0.2, a
regular simplex, so Definition 3.1 holds for modes and duplicates together), all of norm 3. The
first K = 3 are the means of Gaussian modes, each spread along 2 directions of its own (scale 0.5,
orthogonal to every mean and to the other modes' spreads), 1000 samples each; the other D = 3 are
points present 200 times each (``duplicate_samples``). Width p = D + K·3: one unit per duplicate
and one per direction of each mode's second moment (its mean and its 2 spread directions).

Training: the ReLU-DAE f(y) = W[Wᵀy]₊ (tied) at σ = 0.2, λ = 1e-4 (preset
``generalization_closed_form``) with Adam 1e-2 and batches of 256 (large steps resolve split
columns), a cosine decay over the second half; the seeds train in one sweep.

Measured per seed, against the closed form ``hybrid_weights`` (a stored column r_ℓ x_ℓ per
duplicate, Thm 3.1's block per mode):
- columns: each duplicate's column by Hungarian matching (``match_columns``): cosine and norm
  against r_ℓ‖x_ℓ‖; every other live column goes to the mode on whose noisy inputs it fires most;
  per mode, the singular values of the learned block against the closed form's (Thm 3.1 fixes
  W_kW_kᵀ, not its columns) and the Gram error; the whole of W: ``gram_error`` and the relative
  error ‖W − W*R‖_F / ‖W*‖_F after rotating each closed-form block onto the learned one (R
  orthogonal, block by block); the exact eq. (6) losses of both (``population_loss``, float64).
- function: on held-out noisy inputs of each mode, ‖f(y) − M_k y‖ / ‖M_k y‖ (M_k = W_kW_kᵀ of the
  closed form, ``cluster_linear_maps``).
- codes: h = [Wᵀy]₊ of noisy duplicates and of noisy ordinary (mode) training samples, their
  Std(h) and peak energy fraction max h²/‖h‖², and the AUROC of every score of
  ``SPIKINESS_SCORES`` for duplicates (positives) against ordinary samples.
"""

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt

DATA = dict(num_modes=3, num_duplicated=3, dim=20, cosine=-0.2, mean_norm=3.0, rank=2, cov_scale=0.5,
            samples_per_mode=1000, copies=199, key=0)
TRAIN = dict(preset="generalization_closed_form", learning_rate=1e-2, batch_size=256)
# fast: one seed, few steps (the columns are in place after 2k steps); full: more seeds and steps.
BY_SIZE = {
    "fast": dict(seeds=(0,), steps=2_000, noisy=400),
    "default": dict(seeds=(0, 1, 2), steps=20_000, noisy=1_500),
    "full": dict(seeds=tuple(range(8)), steps=40_000, noisy=3_000),
}
# A learned column belongs to a mode when it fires on more than this share of the mode's noisy inputs.
FIRES = 0.5


def width() -> int:
  """p = one unit per duplicate + (mean and spread directions) per mode."""
  return DATA["num_duplicated"] + DATA["num_modes"] * (DATA["rank"] + 1)


def train_config(size: str) -> dt.TrainConfig:
  s = BY_SIZE[size]
  return dt.preset(TRAIN["preset"], width=width(), learning_rate=TRAIN["learning_rate"],
                   batch_size=TRAIN["batch_size"], steps=s["steps"], decay_steps=s["steps"] // 2)


def make_data():
  """(means (K, d), spreads (K, d, rank) scaled by cov_scale, points (D, d): the duplicated samples,
  DuplicatedSamples: the training set).

  Means and points: ``equiangular_directions`` (cosine −0.2) of norm mean_norm. Each mode's spread:
  ``rank`` orthonormal directions of its own in the orthogonal complement of all means. The modes'
  samples, exactly ``samples_per_mode`` each, are drawn with NumPy (x = μ_k + cov_scale U_k z).
  """
  c = DATA
  k, dd = c["num_modes"], c["num_duplicated"]
  dirs = np.asarray(dt.equiangular_directions(jax.random.PRNGKey(c["key"]), k + dd, c["dim"], cosine=c["cosine"],
                                              dtype=jnp.float32), np.float64)
  q, _ = np.linalg.qr(dirs.T, mode="complete")
  complement = q[:, k + dd:]
  if complement.shape[1] < k * c["rank"]:
    raise ValueError(f"dim {c['dim']} leaves no room for {k} modes of rank {c['rank']} beside {k + dd} directions")
  means = c["mean_norm"] * dirs[:k]
  spreads = c["cov_scale"] * np.stack([complement[:, c["rank"] * j:c["rank"] * (j + 1)] for j in range(k)])
  points = (c["mean_norm"] * dirs[k:]).astype(np.float32)
  labels = np.repeat(np.arange(k), c["samples_per_mode"])
  z = np.random.default_rng(c["key"]).normal(size=(labels.size, c["rank"]))
  x = means[labels] + np.einsum("ndr,nr->nd", spreads[labels], z)
  n0 = labels.size
  x0 = np.concatenate([x.astype(np.float32), points])
  labels0 = np.concatenate([labels, np.full(dd, k)])  # relabelled by duplicate_samples
  dup = dt.duplicate_samples(x0, labels0, np.arange(n0, n0 + dd), c["copies"])
  return means, spreads, points, dup


def reference_basis(means, spreads, points) -> tuple[np.ndarray, list[str]]:
  """(basis (d, D + K(rank+1)), names): unit duplicate directions, then per mode its unit mean and spreads."""
  cols, names = [], []
  for j, v in enumerate(points):
    cols.append(v / np.linalg.norm(v))
    names.append(f"dup {j + 1}")
  for k in range(means.shape[0]):
    cols.append(means[k] / np.linalg.norm(means[k]))
    names.append(f"mean {k + 1}")
    for r in range(spreads.shape[2]):
      cols.append(spreads[k][:, r] / np.linalg.norm(spreads[k][:, r]))
      names.append(f"spread {k + 1}.{r + 1}")
  return np.stack(cols, axis=1), names


def run_models(path: Path, size: str):
  means, spreads, points, dup = make_data()
  x, labels, is_dup = np.asarray(dup.x, np.float32), np.asarray(dup.labels), np.asarray(dup.is_duplicate)
  cfg = train_config(size)
  t0 = time.time()
  res = dt.train_sweep(x, cfg, seeds=list(BY_SIZE[size]["seeds"]))
  seconds = time.time() - t0
  w = np.stack([np.asarray(res.model(i).w1, np.float64) for i in range(len(res.grid))])
  closed, owner = dt.hybrid_weights(x, labels, is_dup, cfg.sigma, cfg.lam, cfg.width)
  basis, names = reference_basis(means, spreads, points)
  dt.save_npz(path, w=w, seeds=np.asarray([r["seed"] for r in res.grid]), loss_history=res.loss_history,
              log_steps=res.log_steps, closed_form=closed, closed_form_owner=owner, x=x, labels=labels,
              is_duplicate=is_dup, points=points, means=means, factors=spreads,
              basis=basis, basis_names=np.asarray(names), train_seconds=seconds)


def _procrustes(closed_block: np.ndarray, learned_block: np.ndarray) -> np.ndarray:
  """The closed-form block rotated onto the learned one: closed_block R (d, l), R orthogonal, zero-padded
  when the two have different numbers of columns (W_kW_kᵀ is unchanged)."""
  m = max(closed_block.shape[1], learned_block.shape[1])
  pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], m - a.shape[1]))], axis=1)
  b, l = pad(closed_block), pad(learned_block)
  u, _, vt = np.linalg.svd(b.T @ l)
  return (b @ u @ vt)[:, :learned_block.shape[1]]


def assign_columns(w, closed, owner, dup_ids, h_by_cluster):
  """The learned columns in the closed form's order.

  Returns (order (p,) learned column indices: the duplicates' matched columns, then each mode's
  columns, then the rest; group (p,) the cluster each ordered column belongs to, −1 for none;
  aligned (d, p) the closed form in the same order, each mode block rotated onto the learned one;
  match: ``ColumnMatch`` of the duplicates' columns).
  """
  p = w.shape[1]
  dup_cols = np.concatenate([np.flatnonzero(owner == i) for i in dup_ids])
  match = dt.match_columns(w, closed[:, dup_cols])
  order, group, aligned = list(match.learned), [int(owner[c]) for c in dup_cols], [closed[:, c] for c in dup_cols]
  taken = set(order)
  rates = {k: (h > 0).mean(axis=0) for k, h in h_by_cluster.items()}  # firing rate of each unit per mode
  modes = sorted(rates)
  rate = np.stack([rates[k] for k in modes])  # (K, p)
  home = {k: [] for k in modes}
  for j in range(p):
    if j in taken or rate[:, j].max() <= FIRES:
      continue
    home[modes[int(rate[:, j].argmax())]].append(j)
  for k in modes:
    cols = home[k]
    block = closed[:, owner == k]
    if cols:
      rotated = _procrustes(block, w[:, cols])
      order += cols
      group += [k] * len(cols)
      aligned += list(rotated.T)
    taken |= set(cols)
  rest = [j for j in range(p) if j not in taken]
  order += rest
  group += [-1] * len(rest)
  aligned += [np.zeros(w.shape[0])] * len(rest)
  return np.asarray(order), np.asarray(group), np.stack(aligned, axis=1), match


def run_analysis(path: Path, size: str):
  r = dt.load_npz(path.parent / "models.npz")
  points = r["points"]
  cfg = train_config(size)
  x, labels, is_dup = r["x"].astype(np.float64), r["labels"], r["is_duplicate"]
  closed, owner = r["closed_form"], r["closed_form_owner"]
  dup_ids = np.unique(labels[is_dup])
  mode_ids = np.unique(labels[~is_dup])
  num = BY_SIZE[size]["noisy"]
  rng = np.random.default_rng(1)
  # noisy inputs: the duplicated points, and ordinary training samples of every mode (num each kind)
  y_dup = np.repeat(points.astype(np.float64), -(-num // len(points)), axis=0)[:num]
  y_dup = y_dup + cfg.sigma * rng.normal(size=y_dup.shape)
  ordinary = np.flatnonzero(~is_dup)
  pick = rng.choice(ordinary, num, replace=False)
  y_ord = x[pick] + cfg.sigma * rng.normal(size=(num, x.shape[1]))
  ord_labels = labels[pick]
  # held-out noisy inputs of each mode (num in all), for f against M_k
  l_test = np.arange(num) % len(mode_ids)
  spread = rng.normal(size=(num, r["factors"].shape[2]))
  x_test = r["means"][l_test] + np.einsum("ndr,nr->nd", r["factors"][l_test], spread)
  y_test = x_test + cfg.sigma * rng.normal(size=x_test.shape)
  rest = ~is_dup
  ranks = [int(np.sum(owner == k)) for k in mode_ids]
  maps = dt.cluster_linear_maps(x[rest], labels[rest], cfg.sigma, cfg.lam * x.shape[0] / rest.sum(), ranks)
  oracle = dt.apply_mode_maps(maps, l_test, y_test)
  with jax.enable_x64(True):
    x64 = jnp.asarray(x)
    loss_closed = float(dt.population_loss(dt.DAEParams(jnp.asarray(closed)), x64, cfg.sigma, cfg.lam))
    loss_learned = np.array([float(dt.population_loss(dt.DAEParams(jnp.asarray(w)), x64, cfg.sigma, cfg.lam))
                             for w in r["w"]])
  out = dict(y_dup_codes=[], y_ord_codes=[], order=[], group=[], aligned=[], dup_cosine=[], dup_norm=[],
             dup_norm_predicted=[], block_singular=[], block_singular_predicted=[], block_gram_error=[],
             gram_error=[], relative_error=[], mode_function_error=[], auroc={k: [] for k in dt.SPIKINESS_SCORES})
  for w in r["w"]:
    params = dt.DAEParams(jnp.asarray(w, jnp.float32))
    h_dup = np.asarray(dt.representations(params, y_dup.astype(np.float32)), np.float64)
    h_ord = np.asarray(dt.representations(params, y_ord.astype(np.float32)), np.float64)
    order, group, aligned, match = assign_columns(w, closed, owner, dup_ids,
                                                  {int(k): h_ord[ord_labels == k] for k in mode_ids})
    out["y_dup_codes"].append(h_dup)
    out["y_ord_codes"].append(h_ord)
    out["order"].append(order)
    out["group"].append(group)
    out["aligned"].append(aligned)
    out["dup_cosine"].append(match.cosine)
    out["dup_norm"].append(np.linalg.norm(w[:, match.learned], axis=0))
    out["dup_norm_predicted"].append(np.linalg.norm(closed[:, np.isin(owner, dup_ids)], axis=0))
    sv, sv_pred, block_err = [], [], []
    for k in mode_ids:
      block, learned = closed[:, owner == k], w[:, order[group == k]]
      s_pred = np.linalg.svd(block, compute_uv=False)
      s = np.linalg.svd(learned, compute_uv=False) if learned.size else np.zeros(0)
      s = np.concatenate([s, np.zeros(max(s_pred.size - s.size, 0))])[:s_pred.size]
      sv.append(s)
      sv_pred.append(s_pred)
      block_err.append(dt.gram_error(learned, block) if learned.size else 1.0)
    out["block_singular"].append(np.stack(sv))
    out["block_singular_predicted"].append(np.stack(sv_pred))
    out["block_gram_error"].append(block_err)
    out["gram_error"].append(dt.gram_error(w, closed))
    out["relative_error"].append(np.linalg.norm(w[:, order] - aligned) / np.linalg.norm(closed))
    f = np.asarray(dt.apply_batch(params, y_test.astype(np.float32)), np.float64)
    out["mode_function_error"].append(dt.per_mode_relative_error(f, oracle, l_test))
    for name, score in dt.SPIKINESS_SCORES.items():
      out["auroc"][name].append(dt.auroc(np.asarray(score(h_dup)), np.asarray(score(h_ord))))
  auroc = out.pop("auroc")
  arrays = {k: np.asarray(v) for k, v in out.items()}
  arrays.update({f"auroc_{k}": np.asarray(v) for k, v in auroc.items()})
  dt.save_npz(path, **arrays, y_ord_labels=ord_labels, loss_learned=loss_learned, loss_closed=np.float64(loss_closed))


def run_summary(path: Path, size: str):
  r, a = dt.load_npz(path.parent / "models.npz"), dt.load_npz(path.parent / "analysis.npz")
  h_dup, h_ord = a["y_dup_codes"], a["y_ord_codes"]
  per = lambda v: [float(u) for u in np.ravel(v)]
  summary = dict(
      size=size, seeds=[int(v) for v in r["seeds"]], train_seconds=float(r["train_seconds"]),
      width=int(r["w"].shape[2]), num_samples=int(r["x"].shape[0]),
      num_duplicated=int(len(r["points"])), copies_each=int(r["is_duplicate"].sum() // len(r["points"])),
      duplicate_cosine_min=float(a["dup_cosine"].min()),
      duplicate_norm_ratio_range=[float((a["dup_norm"] / a["dup_norm_predicted"]).min()),
                                  float((a["dup_norm"] / a["dup_norm_predicted"]).max())],
      block_singular_value_ratio_range=[float((a["block_singular"] / a["block_singular_predicted"]).min()),
                                        float((a["block_singular"] / a["block_singular_predicted"]).max())],
      block_gram_error_max=float(a["block_gram_error"].max()),
      gram_error=per(a["gram_error"]), relative_error=per(a["relative_error"]),
      mode_function_error_max=float(a["mode_function_error"].max()),
      exact_loss_learned=per(a["loss_learned"]), exact_loss_closed_form=float(a["loss_closed"]),
      exact_loss_gap=per(a["loss_learned"] / a["loss_closed"] - 1.0),
      # a seed has the closed form's structure when every duplicate has a column within cosine 0.99 and
      # every mode as many firing columns as its closed-form block
      structure_reached=[bool(np.all(c > 0.99) and all(np.sum(g == k) == np.sum(r["closed_form_owner"] == k)
                                                      for k in np.unique(r["labels"][~r["is_duplicate"]])))
                         for c, g in zip(a["dup_cosine"], a["group"])],
      median_std_duplicates=float(np.median(np.asarray(dt.representation_std(h_dup)))),
      median_std_ordinary=float(np.median(np.asarray(dt.representation_std(h_ord)))),
      median_peak_energy_duplicates=float(np.median(np.asarray(dt.peak_energy_fraction(h_dup)))),
      median_peak_energy_ordinary=float(np.median(np.asarray(dt.peak_energy_fraction(h_ord)))),
      auroc={k[len("auroc_"):]: per(v) for k, v in a.items() if k.startswith("auroc_")})
  dt.save_json(path, summary)


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/hybrid_regime")
  args = parser.parse_args()
  start = time.time()
  config = dict(size=args.size, data=DATA, train=TRAIN, by_size=BY_SIZE[args.size], width=width(), fires=FIRES,
                preset=train_config(args.size).__dict__, version=dt.__version__, jax=jax.__version__)
  dt.run_parts(args.out, config, [("models.npz", run_models), ("analysis.npz", run_analysis),
                                  ("summary.json", run_summary)], args.size)
  s = dt.load_json(Path(args.out) / "summary.json")
  print(f"duplicates: min cosine {s['duplicate_cosine_min']:.4f}, norm / r‖x‖ in {s['duplicate_norm_ratio_range']}; "
        f"blocks: Gram error ≤ {s['block_gram_error_max']:.3f}; W: Gram error {np.round(s['gram_error'], 3)}, "
        f"relative error {np.round(s['relative_error'], 3)}; exact loss gap {np.round(s['exact_loss_gap'], 4)}")
  print(f"AUROC duplicates vs ordinary: Std(h) {np.round(s['auroc']['std'], 3)}, "
        f"peak energy {np.round(s['auroc']['peak_energy_fraction'], 3)}")
  print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
  main()
