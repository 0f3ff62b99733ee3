"""Writes the tables of docs/deep-denoisers.md from the saved results of experiments/deep_denoisers.py.

Run: .venv/bin/python experiments/write_deep_tables.py --results results --doc docs/deep-denoisers.md
Each table sits between ``<!-- name -->`` and ``<!-- /name -->`` markers and is replaced whole.
With ``--keep-sources DIR`` the summary the tables come from is copied to DIR (docs/results in
``make figures``), and tests/test_docs.py checks the committed tables against it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_diffusion_tables import render, write_tables  # noqa: E402, F401 (render: tests/test_docs.py)

import dae_theory as dt  # noqa: E402

SOURCES = ("deep_denoisers/summary.json",)
SCORE_LABELS = {"std": "Std", "normalized_std": "Std/‖a‖", "peak_energy_fraction": "max a²/‖a‖²"}
# The per-layer columns: (pooling, score).
LAYER_COLUMNS = (("max", "std"), ("max", "normalized_std"), ("max", "peak_energy_fraction"), ("mean", "std"),
                 ("mean", "normalized_std"))
# The paper's Table 1 row for EDM on CIFAR-10 (Std of a pooled activation; AUROC, TPR at 1 % FPR).
PAPER_EDM = (0.998, 0.984)
# The U-Net layer standing where the authors read SD's first up-sampling block: the decoder's first block.
AUTHORS_ANALOGUE = "dec1.0"


def _summary(results: Path) -> dict:
  return dt.load_json(results / "deep_denoisers" / "summary.json")


def _models(s: dict) -> list[str]:
  """The U-Net, then the MLPs in the experiment's order."""
  return ["unet"] + [f"mlp_{a}" for a in s["setup"]["mlp_archs"]]


def _label(name: str) -> str:
  return "U-Net" if name == "unet" else "MLP " + name.removeprefix("mlp_").replace("_", ", ").replace("no, bias",
                                                                                                      "no bias")




def _stage(key: str) -> str:
  """"n=8,step=500" → "n = 8, 500 steps"."""
  n, step = (int(part.split("=")[1]) for part in key.split(","))
  return f"n = {n:,}, {step:,} steps"


def _pair(m) -> str:
  return "—" if m is None else f"{m['auroc']:.3f} / {m['tpr_at_1pct_fpr']:.3f}"


def memorized_table(results: Path) -> str:
  """Memorised share of the samples per model, n and step."""
  s = _summary(results)
  stages = {}
  for name in _models(s):
    for key, value in s[name]["memorized_fraction"].items():
      n, step = (int(part.split("=")[1]) for part in key.split(","))
      stages.setdefault(name, {})[(n, step)] = value
  sizes = sorted({n for per in stages.values() for n, _ in per})
  head = ["model", "steps"] + [f"n = {n:,}" for n in sizes]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for name, per in stages.items():
    for step in sorted({st for _, st in per}):
      cells = [_label(name), f"{step:,}"] + [f"{per[(n, step)]:.3f}" if (n, step) in per else "" for n in sizes]
      lines.append("| " + " | ".join(cells) + " |")
  setup = s["setup"]
  return "\n".join(lines) + (f"\n\n{setup['num_samples']} samples per model and step; memorised: d₁/d₂ < 1/3 to the "
                             "model's own training images.")


def layers_table(results: Path, name: str = "unet") -> str:
  """Per layer: AUROC / TPR at 1 % FPR of each pooled score, memorised against generalised samples,
  and the max-pooled Std within each model that has both kinds."""
  s = _summary(results)
  entry = s[name]
  det, within = entry["detection"], entry["within_model"]
  head = ["layer"] + [f"{SCORE_LABELS[score]}, {pooling}-pooled" for pooling, score in LAYER_COLUMNS]
  head += [f"Std, max-pooled, within the model of {_stage(stage)}" for stage in within]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for layer in entry["layers"]:
    cells = [layer] + [_pair(det.get(f"{layer}/{pooling}/{score}")) for pooling, score in LAYER_COLUMNS]
    cells += [_pair(w["detection"].get(f"{layer}/max/std")) for w in within.values()]
    lines.append("| " + " | ".join(cells) + " |")
  counts = "; ".join(f"{_stage(stage)}: {w['num_memorized']} memorised, {w['num_other']} not"
                     for stage, w in within.items())
  return "\n".join(lines) + (f"\n\nCells: AUROC / TPR at 1 % FPR. Memorised: {entry['num_memorized']} samples "
                             f"(every stage); generalised: {entry['num_generalized']} (n = all, last step)."
                             + (f" Within one model ({counts})." if counts else ""))


def mlp_table(results: Path) -> str:
  """Per MLP architecture and layer: Std and Std/‖h‖ of h_l, memorised against generalised."""
  s = _summary(results)
  head = ["model", "layer", "Std(h_l)", "Std(h_l)/‖h_l‖", "max h²/‖h‖²", "memorised / generalised samples"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for name in (m for m in _models(s) if m != "unet"):
    entry = s[name]
    for i, layer in enumerate(entry["layers"]):
      cells = [_label(name) if i == 0 else "", layer] + [_pair(entry["detection"].get(f"{layer}/max/{score}"))
                                                          for score in SCORE_LABELS]
      cells.append(f"{entry['num_memorized']} / {entry['num_generalized']}" if i == 0 else "")
      lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n\nCells: AUROC / TPR at 1 % FPR."


def jacobian_table(results: Path) -> str:
  """Effective rank of ∂D/∂y and the absolute cosine of its top singular vector with the nearest
  training image."""
  s = _summary(results)
  head = ["model", "σ", "effective rank: memorised / generalised (median)", "AUROC (low rank)",
          "cosine of u₁ with the nearest image (absolute): memorised / generalised",
          "AUROC (high cosine)"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for name in _models(s):
    det = s[name]["detection"]
    for sigma in s["setup"]["jacobian_sigmas"]:
      rank, cos = det.get(f"jacobian_rank/sigma={sigma:g}"), det.get(f"jacobian_top_cosine/sigma={sigma:g}")
      if rank is None:
        continue
      lines.append(f"| {_label(name)} | {sigma:g} | {rank['median_memorized']:.1f} / {rank['median_generalized']:.1f} "
                   f"| {rank['auroc']:.3f} | {cos['median_memorized']:.2f} / {cos['median_generalized']:.2f} "
                   f"| {cos['auroc']:.3f} |")
  return "\n".join(lines) + f"\n\nThe first {s['setup']['jacobian_samples']} samples of each model and step."


def table1(results: Path) -> str:
  """Beside the paper's Table 1 row for EDM/CIFAR-10: our best layer and the authors' layer by analogy."""
  s = _summary(results)
  det = s["unet"]["detection"]
  scored = {k: v for k, v in det.items() if k.count("/") == 2}
  mlp = [m for m in _models(s) if m != "unet"]
  if not scored or not all(s[m]["detection"] for m in mlp):
    return "No model both memorised and generalised at this size: nothing to compare."
  best = max(scored, key=lambda k: (scored[k]["auroc"], scored[k]["tpr_at_1pct_fpr"]))
  best_std = max((k for k in scored if k.endswith("/max/std")), key=lambda k: scored[k]["auroc"])
  setup = s["setup"]
  def best_mlp(suffix):
    return max(((m, k) for m in mlp for k in s[m]["detection"] if k.endswith(suffix)),
               key=lambda mk: (s[mk[0]]["detection"][mk[1]]["auroc"], s[mk[0]]["detection"][mk[1]]["tpr_at_1pct_fpr"]))
  rows = [("paper: EDM, CIFAR-10 (Table 1)", "not stated", "Std", f"{PAPER_EDM[0]:.3f} / {PAPER_EDM[1]:.3f}"),
          ("ours: U-Net, the decoder's first block (the authors' choice by analogy)", AUTHORS_ANALOGUE,
           "Std, max-pooled", _pair(det.get(f"{AUTHORS_ANALOGUE}/max/std"))),
          ("ours: U-Net, best layer for Std", best_std.split("/")[0], "Std, max-pooled", _pair(scored[best_std])),
          ("ours: U-Net, best layer and score", best.split("/")[0],
           f"{SCORE_LABELS[best.split('/')[2]]}, {best.split('/')[1]}-pooled", _pair(scored[best])),
          *((f"ours: MLPs, best model and layer for {score}", f"{_label(m)}, {k.split('/')[0]}", score,
             _pair(s[m]["detection"][k]))
            for score, (m, k) in (("Std", best_mlp("/max/std")), ("Std/‖h‖", best_mlp("/max/normalized_std"))))]
  sigma_det = setup["sigma_det"]
  rows += [(f"ours: U-Net, baseline: {label}", "", "", _pair(det.get(key))) for key, label in (
      ("baseline/denoising_error", "denoising error ‖D(x_t) − x₀‖² (loss-based)"),
      ("baseline/displacement", "the denoiser's step ‖D(x_t) − x_t‖"),
      (f"jacobian_rank/sigma={sigma_det:g}", "Jacobian effective rank"),
      ("baseline/nearest_distance", "nearest-neighbour distance (an oracle)"))]
  lines = ["| model and data | layer | score | AUROC / TPR at 1 % FPR |", "|---|---|---|---|"]
  lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
  return "\n".join(lines) + (
      f"\n\nOurs: the 8×8 digits; memorised = samples with d₁/d₂ < 1/3 of the models trained on fewer "
      f"images (U-Net: n = {', '.join(f'{n:,}' for n in setup['unet_sizes'][:-1])}; MLPs: n = "
      f"{', '.join(f'{n:,}' for n in setup['mlp_sizes'][:-1])}), generalised = samples of the model trained on all "
      f"{setup['unet_sizes'][-1]:,} (U-Net: {s['unet']['num_memorized']} against {s['unet']['num_generalized']}), "
      f"re-noised to σ = {setup['sigma_det']:g}.")


TABLES = {"deep-memorized": memorized_table, "deep-table1": table1, "deep-unet-layers": layers_table,
          "deep-mlp-layers": mlp_table, "deep-jacobian": jacobian_table}


def main():
  write_tables(__doc__.splitlines()[0], "docs/deep-denoisers.md", TABLES, SOURCES)


if __name__ == "__main__":
  main()
