"""Writes the tables of docs/detection-and-steering.md from the saved results.

Run: .venv/bin/python experiments/write_detection_tables.py --results results --doc docs/detection-and-steering.md
Each table sits between ``<!-- name -->`` and ``<!-- /name -->`` markers and is replaced whole.
With ``--keep-sources DIR`` the summary the tables come from is copied to DIR (docs/results in
``make figures``), and tests/test_docs.py checks the committed tables against it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_diffusion_tables import render, write_tables  # noqa: E402

import dae_theory as dt  # noqa: E402

LABELS = {"std": "Std(h) (the paper's score)", "normalized_std": "Std(h)/‖h‖", "peak_energy_fraction": "max h²/‖h‖²",
          "l4_l2_ratio": "‖h‖₄/‖h‖₂", "inverse_participation": "Σh⁴/(Σh²)²",
          "denoising_error": "denoising error (loss-based)", "displacement": "‖D(x_t) − x_t‖ (noise magnitude)",
          "jacobian_rank": "Jacobian effective rank", "nearest_distance": "nearest-neighbour distance (oracle)"}
SOURCES = ("memorization_detection/summary.json",)



def _strength(value) -> str:
  """A steering strength with 2 decimals; "never" when the curve does not reach one half (saved as inf)."""
  value = float(value)
  return "never" if value == float("inf") else f"{value:.2f}"

def _cell(m) -> str:
  if m is None:
    return "—"
  return f"{m['auroc']:.3f} [{m['auroc_low']:.3f}, {m['auroc_high']:.3f}]"


def _tpr(m) -> str:
  if m is None:
    return "—"
  return f"{m['tpr']:.3f} [{m['tpr_low']:.3f}, {m['tpr_high']:.3f}]"


def detection_table(results: Path) -> str:
  s = dt.load_json(results / "memorization_detection" / "summary.json")
  mixture = max(s["duplicated_mixture"], key=lambda row: row["copies"])
  columns = [("two models, by model", s["two_models"]["by_model"]),
             ("two models, copies only", s["two_models"]["copies_vs_generalizer"]),
             ("duplicated Fashion-MNIST", s["duplicated_fmnist"]["metrics"]),
             (f"duplicated mixture, {mixture['copies']} copies", mixture["metrics"])]
  head = ["detector"] + [f"{name}: AUROC" for name, _ in columns] + [f"{name}: TPR@1%FPR" for name, _ in columns] + [
      "µs / sample"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for key in dt.DETECTORS:
    cells = [LABELS[key]] + [_cell(m[key]) for _, m in columns] + [_tpr(m[key]) for _, m in columns]
    cells.append(f"{1e6 * s['duplicated_fmnist']['seconds_per_sample'][key]:.0f}")
    lines.append("| " + " | ".join(cells) + " |")
  counts = (f"\nSamples: two models {s['two_models']['num_samples']}; duplicated Fashion-MNIST "
            f"{s['duplicated_fmnist']['num_memorized']} memorised of {s['duplicated_fmnist']['num_samples']}; "
            f"mixture {mixture['num_memorized']} memorised of {mixture['num_samples']}.")
  return "\n".join(lines) + counts


def duplication_table(results: Path) -> str:
  s = dt.load_json(results / "memorization_detection" / "summary.json")
  keys = ("std", "normalized_std", "l4_l2_ratio", "jacobian_rank", "nearest_distance")
  head = ["extra copies", "memorised / 1,000", "… on a duplicated point"] + [f"AUROC {LABELS[k]}" for k in keys]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for row in s["duplicated_mixture"]:
    cells = [str(row["copies"]), str(row["num_memorized"]), str(row["memorized_on_duplicate"])]
    cells += [_cell(row["metrics"][k]) for k in keys]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def steering_table(results: Path) -> str:
  s = dt.load_json(results / "memorization_detection" / "summary.json")
  head = ["data", "samples", "n", "a at half carrying the concept", "largest jump of the share (between a)",
          "area under share(a) / a_max", "median move at the smallest a > 0"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  groups = (("generalizing", "all", "generalising model, all"), ("memorizing", "memorized", "memorising model, copies"),
            ("memorizing", "not_memorized", "memorising model, non-copies"))
  for part, data in (("steering_mixture", "mixture"), ("steering_fmnist", "Fashion-MNIST")):
    a = s[part]["strengths"]
    for name, group, label in groups:
      e = s[part][name].get(group)
      if e is None:
        continue
      lo, hi = e["largest_jump_at"]
      cells = [data, label, str(e["num"]), _strength(e["a_half"]), f"{e['largest_jump']:.2f} ({lo:g} → {hi:g})",
               f"{e['area']:.2f}", f"{e['median_distance_to_unsteered'][1]:.3f} (a = {a[1]:g})"]
      lines.append("| " + " | ".join(cells) + " |")
  lines.append("")
  lines.append("| data | memorised samples at a = 0 | " + " | ".join(f"a = {x:g}" for x in s["steering_mixture"]["strengths"])
               + " |")
  lines.append("|" + "---|" * (2 + len(s["steering_mixture"]["strengths"])))
  for part, data in (("steering_mixture", "mixture"), ("steering_fmnist", "Fashion-MNIST")):
    e = s[part]["memorizing"]
    if "memorized_still_on_stored" not in e:
      continue
    lines.append(f"| {data}: still on their training image | {e['memorized_at_start']:.2f} | "
                 + " | ".join(f"{v:.2f}" for v in e["memorized_still_on_stored"]) + " |")
    lines.append(f"| {data}: left it and carry the concept | | "
                 + " | ".join(f"{v:.2f}" for v in e["memorized_left_stored_with_concept"]) + " |")
  acc = s["steering_fmnist"].get("classifier_accuracy")
  return "\n".join(lines) + (f"\n\nFashion-MNIST concept classifier: held-out accuracy {acc:.3f}." if acc else "")


TABLES = {"detection": detection_table, "detection-duplication": duplication_table, "steering": steering_table}


def main():
  write_tables(__doc__.splitlines()[0], "docs/detection-and-steering.md", TABLES, SOURCES)


if __name__ == "__main__":
  main()
