"""Writes docs/results/<experiment>/summary.json: the numbers docs/findings.md quotes, from saved results.

Run: .venv/bin/python experiments/write_findings.py --results results --keep-sources docs/results
(seconds, after the experiments). For each experiment below whose folder under ``--results`` holds
a run at the default size, a small ``summary.json`` is computed from its saved ``.npz`` / ``.json``
files (fashion_mnist_regimes writes its own summary: it is copied, with the settings it ran at)
into ``--keep-sources``; so is the output of fashion_mnist_separability.py when it is there.
tests/test_docs.py checks every number of docs/findings.md against these files. Experiments
without results, or with results of a ``--size`` other than ``default``, are skipped with a
message, so a smoke run never overwrites the tracked summaries.
"""

import argparse
from pathlib import Path

import numpy as np

import dae_theory as dt


COLUMN_NORM_THRESHOLD = 0.1  # a column "carries weight" above this norm (stored columns have norm ≈ 1)
ONE_HOT_SHARE = 0.95  # a code is one-hot when one unit holds more than this share of ‖h‖²
NO_COPIES = 0.005  # "no longer copies": at most this share of generated samples are copies
LARGE_N = 50  # the Fashion-MNIST sizes whose sample norms and gains are compared


def _by_key(values) -> dict:
  """{f"{v:g}": index} for a list of numbers (JSON keys for σ, n_k, …)."""
  return {f"{float(v):g}": i for i, v in enumerate(values)}


def denoisers_on_mixture(folder: Path) -> dict:
  """f_emp against f_gt: where its error falls below the MMSE, and how many samples it averages."""
  cfg = dt.load_json(folder / "config.json")
  r = dt.load_npz(folder / "curves.npz")
  sizes = r["sizes"]
  rel = r["rel_err"].mean(axis=0)  # (σ, n), mean over seeds
  effective = np.exp(r["entropy"].mean(axis=0))  # exp(mean posterior entropy): samples behind f_emp(y)
  per_sigma = {}
  for j, key in enumerate(_by_key(r["sigmas"])):
    below = np.flatnonzero(rel[j] < 1.0)
    per_sigma[key] = {
        "first_n_below_mmse": int(sizes[below[0]]) if below.size else None,
        "relative_error_at_smallest_n": float(rel[j, 0]),
        "relative_error_at_largest_n": float(rel[j, -1]),
        "effective_samples_at_smallest_n": float(effective[j, 0]),
        "effective_samples_at_largest_n": float(effective[j, -1]),
    }
  c = cfg["curves"]
  return {"setup": {"dim": c["dim"], "num_modes": c["num_modes"], "rank": c["rank"], "seeds": c["seeds"],
                    "scatter_dim": cfg["scatter"]["dim"],
                    "queries": c["queries"], "sigmas": c["sigmas"], "smallest_n": int(sizes[0]),
                    "largest_n": int(sizes[-1]), "scatter_sizes": cfg["scatter"]["sizes"],
                    "scatter_sigma": cfg["scatter"]["sigma"]},
          "per_sigma": per_sigma}


def regimes_on_synthetic_data(folder: Path) -> dict:
  """Cor 3.2 and Cor 3.3 reached by training: stored columns, per-mode errors, the codes."""
  cfg = dt.load_json(folder / "config.json")
  m = dt.load_npz(folder / "memorization.npz")
  g = dt.load_npz(folder / "generalization.npz")
  mem_seeds = len(cfg["memorization"]["seeds"])
  gen_seeds = len(cfg["generalization"]["seeds"])
  mem_codes = [m[f"seed{i}_codes"] for i in range(mem_seeds)]
  gen_codes = [g[f"seed{i}_codes"] for i in range(gen_seeds)]
  norm_dev = [np.abs(m[f"seed{i}_matched_norms"] / m["predicted_norms"] - 1).max() for i in range(mem_seeds)]
  rel = np.stack([g[f"seed{i}_relative_error"] for i in range(gen_seeds)])  # (seeds, modes)
  mp, gp = cfg["memorization_preset"], cfg["generalization_preset"]
  code_stats = lambda codes: {
      "std_median": float(np.median(np.concatenate([np.asarray(dt.representation_std(h)) for h in codes]))),
      "peak_energy_fraction_median": float(np.median(np.concatenate(
          [np.asarray(dt.peak_energy_fraction(h)) for h in codes]))),
  }
  return {
      "memorization": {
          "num_samples": cfg["memorization"]["num"], "dim": cfg["memorization"]["dim"], "width": mp["width"],
          "sigma": mp["sigma"], "lam": mp["lam"], "seeds": mem_seeds,
          "norm_range": cfg["memorization"]["norm_range"], "column_norm_threshold": COLUMN_NORM_THRESHOLD,
          "columns_above_threshold": [int(np.sum(m[f"seed{i}_column_norms"] > COLUMN_NORM_THRESHOLD))
                                      for i in range(mem_seeds)],
          "min_matched_cosine": float(min(m[f"seed{i}_matched_cosine"].min() for i in range(mem_seeds))),
          "max_norm_deviation": float(max(norm_dev)),
          "one_hot_share": ONE_HOT_SHARE,
          "one_hot_fraction_min": min(dt.one_hot_fraction(h, ONE_HOT_SHARE) for h in mem_codes),
          **code_stats(mem_codes)},
      "generalization": {
          "num_modes": cfg["generalization"]["num_modes"], "dim": cfg["generalization"]["dim"],
          "num_samples": cfg["generalization"]["num"], "width": gp["width"], "sigma": gp["sigma"],
          "mean_norm": cfg["generalization"]["mean_norm"], "rank": cfg["generalization"]["rank"],
          "seeds": gen_seeds, "steps": cfg["generalization"]["steps"],
          "relative_error_to_block_maps": rel.tolist(),
          "relative_error_min": float(rel.min()), "relative_error_max": float(rel.max()),
          "relative_error_best_modes_max": float(np.sort(rel, axis=1)[:, :-1].max()),
          "relative_error_worst_mode_min": float(rel.max(axis=1).min()),
          "active_units_mean": float(np.mean([np.mean(np.sum(h > 0, axis=1)) for h in gen_codes])),
          **code_stats(gen_codes)},
  }


def regime_transition(folder: Path) -> dict:
  """Predicted against observed regimes over the sweep in n, and where copying stops."""
  cfg = dt.load_json(folder / "config.json")
  runs = {name: dt.load_npz(folder / f"{name}.npz") for name in cfg["variations"]}
  predicted = np.concatenate([r["predicted"] for r in runs.values()])
  observed = np.concatenate([r["observed"] for r in runs.values()])
  corr = dt.correspondence(predicted.tolist(), observed.tolist())
  decided = predicted != dt.BOUNDARY
  per_mode = lambda r: r["num_samples"] // cfg["data"]["num_modes"]
  excess = {}
  for k in cfg["data"]["samples_per_mode"]:
    vals = np.concatenate([r["f_excess"][per_mode(r) == k] for r in runs.values()])
    excess[str(k)] = [float(vals.min()), float(vals.max())]
  largest = max(cfg["data"]["samples_per_mode"])
  at_largest = lambda r, key: float(np.mean(r[key][per_mode(r) == largest]))
  by_sigma = {f"{float(runs[name]['setting_sigma']):g}": runs[name] for name in ("base", "sigma0.1", "sigma0.5")}
  wide, base = runs["width36"], runs["base"]
  # sizes where p = 9 is predicted to generalise but p = 36 sits on the boundary (n_k ≤ p_k)
  boundary = (wide["predicted"] == dt.BOUNDARY) & (base["predicted"] == "generalization")
  return {
      "setup": {**{k: cfg["data"][k] for k in ("num_modes", "dim", "mean_norm", "rank", "samples_per_mode")},
                "seeds": len(cfg["data"]["seeds"]), "steps": cfg["train"]["steps"],
                "learning_rate": cfg["train"]["learning_rate"], "models": int(predicted.size),
                "widths": sorted({int(r["setting_width"]) for r in runs.values()}),
                "lams": sorted({float(r["setting_lam"]) for r in runs.values()}),
                "sigmas": sorted({float(r["setting_sigma"]) for r in runs.values()})},
      "correspondence": {"decided": corr.decided, "agreeing": int(round(corr.agreement * corr.decided)),
                         "agreement": corr.agreement,
                         "predicted_memorization": int(np.sum(predicted[decided] == "memorization")),
                         "predicted_generalization": int(np.sum(predicted[decided] == "generalization"))},
      "f_excess_by_samples_per_mode": excess,
      "width36_boundary_where_width9_generalizes": {
          "samples_per_mode": sorted({int(k) for k in per_mode(wide)[boundary]}),
          "observed": sorted(set(wide["observed"][boundary].tolist()))},
      "empirical_excess_at_largest_n_by_sigma": {s: at_largest(r, "emp_excess") for s, r in by_sigma.items()},
      "largest_samples_per_mode": largest,
      "test_error_at_largest_n": {"f_width9": at_largest(runs["base"], "f_error"),
                                  "f_width36": at_largest(wide, "f_error"),
                                  "f_emp": at_largest(runs["base"], "emp_error"),
                                  "f_gt": float(runs["base"]["gt_error"]),
                                  "block_maps_width9": float(runs["base"]["mk_error"])},
      "distances_width36_at_largest_n": {k: at_largest(wide, k) for k in ("f_to_gt", "f_to_mk", "f_to_emp",
                                                                           "emp_to_gt")},
  }


def diffusion_transition(folder: Path) -> dict:
  """Copies among generated samples against n (at the last training step), and the diverging models."""
  out = {"no_copies_threshold": NO_COPIES, "large_n": LARGE_N}
  for name in ("mixture", "fashion_mnist"):
    r = dt.load_npz(folder / f"{name}.npz")
    final = r["step"] == r["step"].max()
    sizes = np.unique(r["num_samples"])
    copies = {str(n): [float(r["memorized_scale_free"][final & (r["num_samples"] == n)].min()),
                       float(r["memorized_scale_free"][final & (r["num_samples"] == n)].max())] for n in sizes}
    stop = next(int(n) for n in sizes if max(copies[str(m)][1] for m in sizes if m >= n) <= NO_COPIES)
    entry = {"widths": np.unique(r["width"]).tolist(), "sizes": sizes.tolist(), "last_step": int(r["step"].max()),
             "memorized_at_last_step": copies, "no_copies_from_n": stop,
             "max_copies_from_that_n": max(copies[str(m)][1] for m in sizes if m >= stop),
             "f_emp_sampler_min": float(r["emp_memorized_scale_free"].min())}
    if name == "fashion_mnist":
      # along its own samples the denoiser's gain ⟨x̂₀(s, σ), s⟩/‖s‖² above 1.05: the sampler diverges
      large = final & (r["num_samples"] >= LARGE_N)
      diverging = large & (r["gain"] > 1.05)
      others = large & ~diverging
      entry.update(diverging_sizes=r["num_samples"][diverging].tolist(),
                   diverging_widths=r["width"][diverging].tolist(),
                   diverging_sample_norms=r["sample_norm"][diverging].tolist(),
                   diverging_gains=r["gain"][diverging].tolist(),
                   other_sample_norms=[float(r["sample_norm"][others].min()), float(r["sample_norm"][others].max())],
                   other_gains=[float(r["gain"][others].min()), float(r["gain"][others].max())])
    out[name] = entry
  return out


def fashion_mnist_separability(results: Path) -> dict | None:
  """Definition 3.1 on Fashion-MNIST, raw and centred (the script writes one JSON file)."""
  folder = results / "fashion_mnist_separability"
  found = [results / "fashion_mnist_separability.json"] + sorted(folder.glob("*.json"))
  found = [p for p in found if p.exists() and p.name != "config.json"]
  if not found:
    return None
  r = dt.load_json(found[0])
  out = {"images": r["config"]["n"], "greedy_candidates": r["config"]["greedy_candidates"],
         "classes": len(r["raw"]["class_mean_cosines"])}
  for frame in ("raw", "centred"):
    e = r[frame]
    out[frame] = {"alpha": e["classes_alpha"], "beta": e["classes_beta"], "pair_cosine_median": e["pair_cosine_median"],
                  "fraction_obtuse_pairs": e["fraction_obtuse_pairs"],
                  "greedy_obtuse_set_sizes": [min(e["greedy_obtuse_set_sizes"]), max(e["greedy_obtuse_set_sizes"])]}
  return out


def fashion_mnist_regimes(folder: Path) -> dict:
  """The experiment's own summary.json, with the settings it was run at."""
  summary = dt.load_json(folder / "summary.json")
  settings = dt.load_json(folder / "config.json")["settings"]
  summary["setup"] = {k: settings[k] for k in ("width", "sigma", "num_generalizing")}
  return summary


def hybrid_regime(folder: Path) -> dict:
  """The experiment's own summary.json (Cor 3.4: stored columns beside statistical blocks)."""
  return dt.load_json(folder / "summary.json")


COMPUTED = {
    "denoisers_on_mixture": denoisers_on_mixture,
    "regimes_on_synthetic_data": regimes_on_synthetic_data,
    "regime_transition": regime_transition,
    "diffusion_transition": diffusion_transition,
    "fashion_mnist_regimes": fashion_mnist_regimes,
    "hybrid_regime": hybrid_regime,
}


def _size(folder: Path) -> str:
  cfg = folder / "config.json"
  return dt.load_json(cfg).get("size", "default") if cfg.exists() else "default"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--results", default="results", help="the folder the experiments wrote (default results)")
  parser.add_argument("--keep-sources", default="docs/results",
                      help="where the summaries go, one folder per experiment (default docs/results)")
  args = parser.parse_args()
  results, keep = Path(args.results), Path(args.keep_sources)
  summaries = {}
  for name, summarise in COMPUTED.items():
    folder = results / name
    if not folder.is_dir():
      print(f"{folder}: no results; skipped")
      continue
    if _size(folder) != "default":
      print(f"{folder}: results of --size {_size(folder)}; skipped (docs/results quote the default size)")
      continue
    summaries[name] = summarise(folder)
  separability = fashion_mnist_separability(results)
  if separability is None:
    print(f"{results}: no fashion_mnist_separability results; skipped")
  else:
    summaries["fashion_mnist_separability"] = separability
  for name, summary in summaries.items():
    print("wrote", dt.save_json(keep / name / "summary.json", summary))


if __name__ == "__main__":
  main()
