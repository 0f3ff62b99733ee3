"""Where the closed forms of Cor 3.2 and Cor 3.3 hold at finite noise, measured (docs/finite-noise.md).

Run: .venv/bin/python experiments/finite_noise.py --out results/finite_noise [--size fast|default|full]
Sizes (``SETTINGS``): default, docs/finite-noise.md, about 4 min on a 2-core CPU shared with other
jobs (3 min 40 s of CPU time); fast, every file from a smaller grid, 2 seeds and a few hundred
steps (numbers meaningless), about 35 s on an idle 2-core CPU, most of it compilation; full, the
presets' own step counts, more seeds, noise levels and Monte-Carlo draws, for accelerator hosts.
Writes ``config.json``, ``closed_forms.json``, ``memorization.json``, ``flat_cut.json`` and
``summary.json``; a rerun skips finished parts.
``experiments/plot_finite_noise.py`` draws ``figures/finite_noise.png`` from them.

- closed_forms: pairwise-obtuse points (n ∈ {3, 8, 12}; regular simplex, cos −0.05, cos −0.01;
  norms linspace over (1, 2), (1.9, 3.5), (3, 5)) at 8 noise levels, λ = 1e-3. Per case: the
  expected co-active counts at W_mem (``coactivation_probabilities``), the closed form
  ``memorization_loss`` against the exact eq. (6) value at W_mem (``population_loss``), and the
  exact minimiser's column norms (``memorization_weights(exact=True)``) against r_i‖x_i‖. The
  summary states the count at which each error first reaches 1 %.
- memorization: 8 regular-simplex points, norms 1.9–3.5, d = 40, λ = 1e-3 :
  closed form, exact and Monte-Carlo loss at W_mem and the share of noisy inputs on which ≥ 2
  units fire, at σ = 0.3 and 1; then training (preset ``memorization_closed_form``, 10k steps)
  at σ ∈ {0.1, 0.3, 1} and p ∈ {8, 9, 10, 12} over 6 seeds: which runs store every sample,
  their column norms against r_i‖x_i‖ and the exact minimiser's, their exact loss against W_mem's.
- flat_cut: 4 modes in d = 24 (‖μ‖ = 3.5, simplex means), each spread over 2 directions
  orthogonal to all means with scales s1 ≥ s2 = ratio·s1, n = 1000, p = 8 (p_k = 2: the mean and
  the s1 direction), σ = 0.2, λ = 1e-4, 4 seeds; the relative eigen-gap at the cut is
  1 − ratio². Per run: units per mode, whether every unit is specific to one mode, the Gram error
  to W_gen (``generalization_weights``) and the exact loss against W_gen's (``dt.closed_form_gap``).
"""

import itertools
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import dae_theory as dt
from dae_theory import load_json, run_parts, save_json

# The settings of each size (the sizes differ in these only; the tolerances below are shared).
SETTINGS = {
    "default": dict(
        closed=dict(nums=(3, 8, 12), cosines=(None, -0.05, -0.01), norm_ranges=((1.0, 2.0), (1.9, 3.5), (3.0, 5.0)),
                    sigmas=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0), lam=1e-3),
        memorization=dict(num=8, dim=40, norm_range=(1.9, 3.5), lam=1e-3, check_sigmas=(0.3, 1.0), mc_draws=20_000,
                          sigmas=(0.1, 0.3, 1.0), widths=(8, 9, 10, 12), seeds=tuple(range(6)), steps=10_000,
                          decay_steps=5_000),
        flat=dict(num_modes=4, dim=24, mean_norm=3.5, num=1000, width=8, sigma=0.2, lam=1e-4,
                  cases=((0.5, 1.0), (0.5, 0.8), (0.5, 0.7), (0.5, 0.6), (0.5, 0.5), (0.7, 0.7), (0.7, 0.6),
                         (0.35, 0.6)),
                  seeds=(0, 1, 2, 3), steps=8_000, decay_steps=3_000)),
    # Every file, in seconds: 2 geometries at 3 noise levels; 2 widths and 2 seeds at 2 noise levels,
    # in d = 9 (= n + 1, as the closed-form grid: one compilation of the exact minimiser serves both);
    # 2 flat-cut cases (one each side of EIGEN_GAP_LIMIT, which the summary needs); few steps.
    "fast": dict(
        closed=dict(nums=(8,), cosines=(None,), norm_ranges=((1.0, 2.0), (3.0, 5.0)), sigmas=(0.1, 0.3, 1.0),
                    lam=1e-3),
        memorization=dict(num=8, dim=9, norm_range=(1.9, 3.5), lam=1e-3, check_sigmas=(0.3,), mc_draws=2_000,
                          sigmas=(0.3, 1.0), widths=(8, 10), seeds=(0, 1), steps=500, decay_steps=250),
        flat=dict(num_modes=4, dim=24, mean_norm=3.5, num=1000, width=8, sigma=0.2, lam=1e-4,
                  cases=((0.5, 1.0), (0.5, 0.5)), seeds=(0, 1), steps=500, decay_steps=250)),
    # Not an experiment of the paper: the presets' own step counts (memorization_closed_form: 20k
    # steps decayed over the last 10k; generalization_closed_form: 20k steps, the last 5k decayed:
    # the settings that reach the closed forms), 16 and 8 seeds, 10× the Monte-Carlo draws, n up
    # to 16 and twice as many noise levels in the closed-form grid (our choices).
    "full": dict(
        closed=dict(nums=(3, 8, 12, 16), cosines=(None, -0.05, -0.01),
                    norm_ranges=((1.0, 2.0), (1.9, 3.5), (3.0, 5.0)),
                    sigmas=(0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.2),
                    lam=1e-3),
        memorization=dict(num=8, dim=40, norm_range=(1.9, 3.5), lam=1e-3, check_sigmas=(0.1, 0.3, 1.0),
                          mc_draws=200_000, sigmas=(0.1, 0.2, 0.3, 0.5, 1.0), widths=(8, 9, 10, 12, 16),
                          seeds=tuple(range(16)), steps=20_000, decay_steps=10_000),
        flat=dict(num_modes=4, dim=24, mean_norm=3.5, num=1000, width=8, sigma=0.2, lam=1e-4,
                  cases=((0.5, 1.0), (0.5, 0.9), (0.5, 0.8), (0.5, 0.75), (0.5, 0.7), (0.5, 0.65), (0.5, 0.6),
                         (0.5, 0.5), (0.7, 0.7), (0.7, 0.6), (0.35, 0.6)),
                  seeds=tuple(range(8)), steps=20_000, decay_steps=5_000)),
}
# A trained unit is specific to a mode when it fires on > 90 % of that mode's noisy inputs and on
# < 15 % of every other mode's (tests/test_proofs_by_simulation.py uses the same rule).
SPECIFIC_ON, SPECIFIC_OFF = 0.9, 0.15
# A run reached the blocks of Cor 3.3 when every unit is specific, the units per mode are
# generalization_weights' split, and ‖WWᵀ − W_genW_genᵀ‖_F / ‖W_genW_genᵀ‖_F < 0.05.
GRAM_TOLERANCE = 0.05
# A run stores a sample when the columns within cosine 0.99 of it carry Σ‖w_j‖² within 5 % of the
# exact minimiser's ‖w_i‖² (one column, or a split of it over several: the same function); it stores
# it in one column when the Hungarian match has cosine > 0.99 and a norm within 5 %.
STORE_COSINE, STORE_NORM = 0.99, 0.05


def _points(num, dim, cosine, norm_range, seed=0):
  """``num`` equiangular directions (default: regular simplex) with norms linspace(norm_range), float64."""
  with jax.enable_x64(True):
    u = np.asarray(dt.equiangular_directions(jax.random.PRNGKey(seed), num, dim, cosine=cosine, dtype=jnp.float64))
  return u * np.linspace(*norm_range, num)[:, None]


def _quiet_minimiser(x, sigma, lam, width):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # convergence is reported through the gradient norm
    return dt.memorization_weights(x, sigma, lam, width, exact=True)


# ----------------------------------------------------------------------------------------------
# closed forms against the exact loss and minimiser
# ----------------------------------------------------------------------------------------------


def run_closed_forms(path: Path, settings: dict):
  c = settings["closed"]
  rows = []
  for num, cosine, norm_range in itertools.product(c["nums"], c["cosines"], c["norm_ranges"]):
    x = _points(num, num + 1, cosine, norm_range)  # noise outside span(x) does not enter the loss
    for sigma in c["sigmas"]:
      a = dt.memorization_assumptions(x, sigma, c["lam"], num)
      closed = dt.memorization_loss(x, sigma, c["lam"])
      exact = dt.memorization_loss(x, sigma, c["lam"], exact=True)
      w_mem = dt.memorization_weights(x, sigma, c["lam"], num)
      w_min = _quiet_minimiser(x, sigma, c["lam"], num)
      with jax.enable_x64(True):
        minimum = float(dt.population_loss(dt.DAEParams(jnp.asarray(w_min)), x, sigma, c["lam"]))
      ratio = np.linalg.norm(w_min, axis=0) / np.linalg.norm(w_mem, axis=0)
      cos = np.sum(w_min * x.T, axis=0) / (np.linalg.norm(w_min, axis=0) * np.linalg.norm(x, axis=1))
      rows.append(dict(num=num, cosine=float(a.max_cosine), norm_range=norm_range, sigma=sigma,
                       coactive_max=a.coactive_max, coactive_mean=a.coactive_mean,
                       weighted_coactive_max=a.weighted_coactive_max, own_off_max=a.own_off_max,
                       one_unit_ok=a.one_unit_ok, scales_ok=a.scales_ok, loss_closed_form=closed, loss_exact=exact,
                       loss_error=closed / exact - 1.0, loss_minimum=minimum, minimum_gap=minimum / exact - 1.0,
                       norm_ratio_min=float(ratio.min()), norm_ratio_max=float(ratio.max()),
                       norm_deviation=float(np.abs(ratio - 1.0).max()), min_cosine=float(cos.min())))
    print(f"  closed forms: n = {num}, cosine {cosine}, norms {norm_range}", flush=True)
  save_json(path, {"rows": rows})


def first_failure(values, errors, tolerance=0.01) -> dict:
  """The smallest value whose error reaches ``tolerance``, the largest value below it, and how
  many cases above it stay within the tolerance."""
  v, e = np.asarray(values), np.abs(np.asarray(errors))
  order = np.argsort(v, kind="stable")
  bad = e[order] >= tolerance
  if not bad.any():
    return dict(first_failing=float("inf"), largest_passing_below=float(v.max()), passing_above=0, above=0,
                max_error_below=float(e.max()))
  i = int(bad.argmax())
  first = float(v[order][i])
  above = v > first
  return dict(first_failing=first, largest_passing_below=float(v[order][:i].max()) if i else 0.0,
              passing_above=int(np.sum(above & (e < tolerance))), above=int(above.sum()),
              max_error_below=float(e[order][:i].max()) if i else 0.0)


# ----------------------------------------------------------------------------------------------
# the eight simplex points: losses at W_mem, and training against p − n
# ----------------------------------------------------------------------------------------------


def _monte_carlo(x, w, sigma, lam, draws, seed=0):
  """Eq. (6) at tied W by Monte Carlo, its standard error, and the share of noisy inputs on which
  at least 2 units fire (float64 NumPy, chunks of 2000 draws)."""
  rng = np.random.default_rng(seed)
  errs, two = [], []
  for _ in range(draws // 2000):
    y = x[None] + sigma * rng.normal(size=(2000,) + x.shape)
    u = y @ w
    out = np.maximum(u, 0.0) @ w.T
    errs.append(np.mean(np.sum((out - x[None]) ** 2, axis=-1), axis=1))
    two.append(np.mean(np.sum(u > 0, axis=-1) >= 2, axis=1))
  errs = np.concatenate(errs)
  return (float(errs.mean() + 2.0 * lam * np.sum(w * w)), float(errs.std() / np.sqrt(errs.size)),
          float(np.mean(np.concatenate(two))))


def run_memorization(path: Path, settings: dict):
  c = settings["memorization"]
  x = _points(c["num"], c["dim"], None, c["norm_range"])
  lam = c["lam"]
  checks = {}
  for sigma in c["check_sigmas"]:
    a = dt.memorization_assumptions(x, sigma, lam, max(c["widths"]))
    w_mem = dt.memorization_weights(x, sigma, lam, c["num"])
    w_min = _quiet_minimiser(x, sigma, lam, c["num"])
    mc, se, two = _monte_carlo(x, w_mem, sigma, lam, c["mc_draws"])
    with jax.enable_x64(True):
      minimum = float(dt.population_loss(dt.DAEParams(jnp.asarray(w_min)), x, sigma, lam))
    checks[str(sigma)] = dict(
        loss_closed_form=dt.memorization_loss(x, sigma, lam),
        loss_exact=dt.memorization_loss(x, sigma, lam, exact=True),
        loss_monte_carlo=mc, loss_monte_carlo_se=se, two_or_more_on=two, loss_minimum=minimum,
        coactive_max=a.coactive_max, coactive_mean=a.coactive_mean, coactive_per_sample=a.coactive.sum(1),
        weighted_coactive_max=a.weighted_coactive_max, one_unit_ok=a.one_unit_ok, scales_ok=a.scales_ok,
        minimum_norm_ratio=np.linalg.norm(w_min, axis=0) / np.linalg.norm(w_mem, axis=0))
    print(f"  memorization sigma = {sigma}: closed {checks[str(sigma)]['loss_closed_form']:.4f}, "
          f"exact {checks[str(sigma)]['loss_exact']:.4f}, MC {mc:.4f} ± {se:.4f}", flush=True)
  runs = []
  for sigma in c["sigmas"]:
    cfg = dt.preset("memorization_closed_form", sigma=sigma, width=max(c["widths"]), steps=c["steps"],
                    decay_steps=c["decay_steps"])
    t0 = time.time()
    res = dt.train_sweep(x.astype(np.float32), cfg, seeds=list(c["seeds"]), widths=list(c["widths"]))
    w_mem = dt.memorization_weights(x, sigma, lam, c["num"])
    w_min = _quiet_minimiser(x, sigma, lam, c["num"])
    for i, row in enumerate(res.grid):
      w = np.asarray(res.model(i).w1, np.float64)
      to_min = dt.match_columns(w, w_min)
      to_mem = dt.match_columns(w, w_mem)
      gap = dt.closed_form_gap(dt.DAEParams(jnp.asarray(w)), x, sigma, lam, exact_minimum=False)
      one_column = bool((to_min.cosine > STORE_COSINE).all() and (np.abs(to_min.norm_ratio - 1) < STORE_NORM).all())
      norms = np.linalg.norm(w, axis=0)
      cos = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.maximum(norms, 1e-300))  # (n, p)
      energy = np.sum(np.where(cos > STORE_COSINE, norms ** 2, 0.0), axis=1) / np.sum(w_min ** 2, axis=0)
      stored = bool(np.all(np.abs(energy - 1) < 2 * STORE_NORM))  # ‖·‖² within ≈ 10 % ⇔ norm within ≈ 5 %
      runs.append(dict(sigma=sigma, width=int(row["width"]), seed=int(row["seed"]), stores_all=stored,
                       one_column_each=one_column, stored_energy=energy,
                       matched_cosine_min=float(to_min.cosine.min()), norm_ratio_to_r=to_mem.norm_ratio,
                       norm_ratio_to_minimum=to_min.norm_ratio, loss=gap.trained, gap_to_w_mem=gap.gap_memorization,
                       large_columns=int(np.sum(np.linalg.norm(w, axis=0) > 0.05))))
    print(f"  memorization training sigma = {sigma}: {len(res.grid)} models in {time.time() - t0:.0f} s", flush=True)
  save_json(path, {"x_norms": np.linalg.norm(x, axis=1), "checks": checks, "runs": runs})


# ----------------------------------------------------------------------------------------------
# Cor 3.3 when p_k cuts a flat spectrum
# ----------------------------------------------------------------------------------------------


def _flat_mixture(c, s1, ratio):
  base = dt.gaussian_mixture(jax.random.PRNGKey(0), c["num_modes"], c["dim"], mean_norm=c["mean_norm"], rank=2,
                             cov_scale=1.0, orthogonal_to_means=True)
  mix = base._replace(factors=base.factors * jnp.asarray([s1, ratio * s1], base.factors.dtype)[None, None, :])
  return mix, dt.sample_mixture(jax.random.PRNGKey(1), mix, c["num"], exact_counts=True)


def classify_blocks(w, x, labels, w_gen, owner, sigma, seed=0) -> dict:
  """Units per mode, specificity and Gram error of trained weights against W_gen (on noisy training inputs)."""
  k = int(labels.max()) + 1
  y = x + sigma * np.random.default_rng(seed).normal(size=x.shape)
  h = np.asarray(dt.representations(dt.DAEParams(jnp.asarray(w, jnp.float32)), y.astype(np.float32)))
  rate = np.stack([(h[labels == j] > 0).mean(0) for j in range(k)])  # (K, p)
  live = np.linalg.norm(w, axis=0) > 1e-3
  second = np.sort(rate, axis=0)[-2] if k > 1 else np.zeros(rate.shape[1])
  specific = (rate.max(0) > SPECIFIC_ON) & (second < SPECIFIC_OFF)
  per_mode = np.bincount(rate.argmax(0)[live], minlength=k)
  predicted = np.bincount(owner[owner >= 0], minlength=k)
  gram = dt.gram_error(w, w_gen)
  all_specific = bool(specific[live].all())
  blocks = bool(all_specific and (per_mode == predicted).all() and gram < GRAM_TOLERANCE)
  kind = "blocks" if blocks else ("blocks, another split" if all_specific else "gated")
  return dict(units_per_mode=per_mode, predicted_units_per_mode=predicted, all_specific=all_specific,
              gram_error=gram, kind=kind, max_rate_on_other_modes=float(second[live].max()) if live.any() else 0.0)


def run_flat_cut(path: Path, settings: dict):
  c = settings["flat"]
  cfg = dt.preset("generalization_closed_form", width=c["width"], sigma=c["sigma"], lam=c["lam"], steps=c["steps"],
                  decay_steps=c["decay_steps"])
  cases = []
  for s1, ratio in c["cases"]:
    mix, train = _flat_mixture(c, s1, ratio)
    x, lab = np.asarray(train.x, np.float64), np.asarray(train.labels)
    pred = dt.predicted_regime(x, lab, c["sigma"], c["lam"], c["width"])
    eig = np.stack([np.sort(np.linalg.eigvalsh(x[lab == k].T @ x[lab == k] / np.sum(lab == k)))[::-1][:4]
                    for k in range(c["num_modes"])])
    w_gen, owner = dt.generalization_weights(x, lab, c["sigma"], c["lam"], c["width"])
    t0 = time.time()
    res = dt.train_sweep(x.astype(np.float32), cfg, seeds=list(c["seeds"]))
    runs = []
    for i in range(len(res.grid)):
      w = np.asarray(res.model(i).w1, np.float64)
      gap = dt.closed_form_gap(dt.DAEParams(jnp.asarray(w)), x, c["sigma"], c["lam"], labels=lab)
      runs.append(dict(seed=int(res.grid[i]["seed"]), loss=gap.trained, loss_w_gen=gap.generalization,
                       gap_to_w_gen=gap.gap_generalization, **classify_blocks(w, x, lab, w_gen, owner, c["sigma"])))
    cases.append(dict(s1=s1, ratio=ratio, population_eigen_gap=1.0 - ratio ** 2, second_moment_top4=eig,
                      eigen_gap=pred.eigen_gap, blocks_expected=pred.blocks_expected, regime=pred.regime, runs=runs))
    kinds = [r["kind"] for r in runs]
    print(f"  flat cut s1 = {s1}, ratio {ratio}: {kinds}, gaps {[round(r['gap_to_w_gen'], 4) for r in runs]} "
          f"({time.time() - t0:.0f} s)", flush=True)
  save_json(path, {"cases": cases})


# ----------------------------------------------------------------------------------------------
# summary: the thresholds and tables of docs/finite-noise.md
# ----------------------------------------------------------------------------------------------


def run_summary(path: Path, settings: dict):
  out_dir = path.parent
  rows = load_json(out_dir / "closed_forms.json")["rows"]
  col = lambda key: np.array([r[key] for r in rows], dtype=float)
  loss_err, norm_dev = col("loss_error"), col("norm_deviation")
  ok1, ok2 = col("one_unit_ok").astype(bool), col("scales_ok").astype(bool)
  closed = dict(
      cases=len(rows),
      loss_vs_coactive_max=first_failure(col("coactive_max"), loss_err),
      loss_vs_coactive_mean=first_failure(col("coactive_mean"), loss_err),
      norms_vs_coactive_max=first_failure(col("coactive_max"), norm_dev),
      norms_vs_weighted_coactive_max=first_failure(col("weighted_coactive_max"), norm_dev),
      coactive_limit=dt.COACTIVE_LIMIT, weighted_coactive_limit=dt.WEIGHTED_COACTIVE_LIMIT,
      one_unit_ok_cases=int(ok1.sum()), one_unit_ok_max_loss_error=float(np.abs(loss_err[ok1]).max()),
      one_unit_ok_max_norm_deviation=float(norm_dev[ok1].max()),
      scales_ok_cases=int(ok2.sum()), scales_ok_max_norm_deviation=float(norm_dev[ok2].max()),
      one_unit_ok_max_minimum_gap=float(np.abs(col("minimum_gap")[ok1]).max()),
      scales_ok_min_cosine=float(col("min_cosine")[ok2].min()),
      scales_ok_largest_minimum_gap=float(np.abs(col("minimum_gap")[ok2]).max()),
      minimum_gap_vs_coactive_max=first_failure(col("coactive_max"), col("minimum_gap")),
      closed_form_always_low=bool(np.all(loss_err <= 1e-9)),
      largest_loss_error=float(np.abs(loss_err).max()), largest_norm_deviation=float(norm_dev.max()),
      min_cosine_of_exact_minimiser=float(col("min_cosine").min()),
      largest_minimum_gap=float(np.abs(col("minimum_gap")).max()))
  mem = load_json(out_dir / "memorization.json")
  store = {}
  for r in mem["runs"]:
    key = f"sigma={r['sigma']}, p={r['width']}"
    s = store.setdefault(key, dict(sigma=r["sigma"], width=r["width"], spare=r["width"] - len(mem["x_norms"]),
                                   seeds=0, stores_all=0, one_column_each=0, norm_ratio_to_r=[], gap_to_w_mem=[],
                                   gap_to_w_mem_failed=[], gap_to_minimum=[]))
    s["seeds"] += 1
    s["stores_all"] += int(r["stores_all"])
    s["one_column_each"] += int(r["one_column_each"])
    if not r["stores_all"]:
      s["gap_to_w_mem_failed"].append(r["gap_to_w_mem"])
    if r["one_column_each"]:
      s["norm_ratio_to_r"] += list(r["norm_ratio_to_r"])
    if r["stores_all"]:
      s["gap_to_w_mem"].append(r["gap_to_w_mem"])
      check = mem["checks"].get(str(r["sigma"]))
      if check is not None:  # the exact minimiser's loss was computed at this σ
        s["gap_to_minimum"].append(r["loss"] / check["loss_minimum"] - 1.0)
  for s in store.values():
    s["share_storing_all"] = s["stores_all"] / s["seeds"]
    for k in ("norm_ratio_to_r", "gap_to_w_mem", "gap_to_w_mem_failed", "gap_to_minimum"):
      v = s.pop(k)
      s[k + "_range"] = [float(np.min(v)), float(np.max(v))] if v else None
  flat = load_json(out_dir / "flat_cut.json")["cases"]
  cut = []
  for case in flat:
    runs = case["runs"]
    gaps = [r["gap_to_w_gen"] for r in runs]
    expected = bool(np.min(case["eigen_gap"]) >= dt.EIGEN_GAP_LIMIT)  # the current limit, not the one at run time
    cut.append(dict(s1=case["s1"], ratio=case["ratio"], population_eigen_gap=case["population_eigen_gap"],
                    sample_eigen_gap_min=float(np.min(case["eigen_gap"])),
                    sample_eigen_gap_max=float(np.max(case["eigen_gap"])), blocks_expected=expected,
                    kept_eigenvalue_over_sigma2=case["s1"] ** 2 / settings["flat"]["sigma"] ** 2,
                    seeds=len(runs), blocks=sum(r["kind"] == "blocks" for r in runs),
                    other_split=sum(r["kind"] == "blocks, another split" for r in runs),
                    gated=sum(r["kind"] == "gated" for r in runs),
                    gated_below_w_gen=sum(r["kind"] == "gated" and r["gap_to_w_gen"] < -0.001 for r in runs),
                    gap_to_w_gen_range=[float(min(gaps)), float(max(gaps))],
                    gram_error_range=[float(min(r["gram_error"] for r in runs)),
                                      float(max(r["gram_error"] for r in runs))]))
  expected = [c for c in cut if c["blocks_expected"]]
  not_expected = [c for c in cut if not c["blocks_expected"]]
  save_json(path, dict(
      closed_forms=closed, memorization_checks=mem["checks"], memorization_width=list(store.values()),
      flat_cut=cut, eigen_gap_limit=dt.EIGEN_GAP_LIMIT,
      flat_cut_blocks_where_expected=[sum(c["blocks"] for c in expected), sum(c["seeds"] for c in expected)],
      flat_cut_block_structured_where_expected=[sum(c["blocks"] + c["other_split"] for c in expected),
                                                sum(c["seeds"] for c in expected)],
      flat_cut_gap_below_limit_max=max(c["sample_eigen_gap_max"] for c in not_expected),
      flat_cut_gap_above_limit_min=min(c["sample_eigen_gap_min"] for c in expected),
      flat_cut_gated_where_not_expected=[sum(c["gated"] for c in not_expected), sum(c["seeds"] for c in not_expected)]))


def main():
  args = dt.experiment_parser(__doc__.splitlines()[0], "results/finite_noise").parse_args()
  settings = SETTINGS[args.size]
  start = time.time()
  config = dict(settings, size=args.size, specific=(SPECIFIC_ON, SPECIFIC_OFF), gram_tolerance=GRAM_TOLERANCE,
                store=(STORE_COSINE, STORE_NORM), coactive_limit=dt.COACTIVE_LIMIT,
                weighted_coactive_limit=dt.WEIGHTED_COACTIVE_LIMIT, eigen_gap_limit=dt.EIGEN_GAP_LIMIT)
  run_parts(args.out, config, [("closed_forms.json", run_closed_forms),
                               ("memorization.json", run_memorization),
                               ("flat_cut.json", run_flat_cut), ("summary.json", run_summary)], settings)
  print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
  main()
