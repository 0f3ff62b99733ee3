"""Writes the tables of docs/diffusion.md from the saved results, so that every number there is traceable.

Run: .venv/bin/python experiments/write_diffusion_tables.py --results results --doc docs/diffusion.md
Each table sits between ``<!-- name -->`` and ``<!-- /name -->`` markers and is replaced whole.
With ``--keep-sources DIR`` the small result files the tables come from are copied to DIR
(docs/results in ``make figures``), and tests/test_docs.py checks that the committed tables equal
what this script writes from them.
"""

import argparse
import re
import shutil
from pathlib import Path

import numpy as np

import dae_theory as dt

FMNIST_MODELS = {"memorizing": "memorising, 5 raw images", "memorizing_obtuse": "memorising, 5 obtuse centred images",
                 "generalizing": "generalising, 10,000 images", "generalizing_centred": "generalising, centred data",
                 "generalizing_sigma_max_20": "generalising, σ_max = 20"}


def _pct(entry) -> str:
  return f"{entry['fraction']:.1%} [{entry['low']:.1%}, {entry['high']:.1%}]"


def samples_table(results: Path) -> str:
  summary = dt.load_json(results / "diffusion_fashion_mnist" / "summary.json")
  lines = ["| model | σ_max | memorised, unit-norm (ancestral) | memorised, ℓ2 | memorised, unit-norm (Euler) | "
           "median NN cosine | distinct NN / 1,000 | sample norm | from N(0, S + σ_max²I) | training images | "
           "√λ_max(S) | median Std(h) | train s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for name, label in FMNIST_MODELS.items():
    if name not in summary:
      continue
    e = summary[name]
    lines.append(f"| {label} | {e['sigma_max']:g} | {_pct(e['ancestral_memorized_scale_free'])} | "
                 f"{_pct(e['ancestral_memorized'])} | {_pct(e['euler_memorized_scale_free'])} | "
                 f"{e['ancestral_nn_cosine_median']:.3f} | {e['ancestral_distinct_nearest']} | "
                 f"{e['ancestral_sample_norm_median']:.2f} | {e['moment_start_sample_norm_median']:.2f} | "
                 f"{e['data_norm_median']:.2f} | {e['sqrt_top_second_moment']:.1f} | {e['code_std_median']:.3f} | "
                 f"{e['train_seconds']:.0f} |")
  return "\n".join(lines)


def auroc_table(results: Path) -> str:
  summary = dt.load_json(results / "diffusion_fashion_mnist" / "summary.json")
  lines = ["| positives (memoriser's samples) | AUROC of Std(h) | AUROC of Std(h)/‖h‖ |", "|---|---|---|"]
  for name in ("memorizing", "memorizing_obtuse"):
    a = summary[f"auroc_{name}_vs_generalizing"]
    lines.append(f"| {FMNIST_MODELS[name]} | {a['std']:.3f} | {a['normalized_std']:.3f} |")
  return "\n".join(lines)


def transition_table(results: Path, name: str) -> str:
  with np.load(results / "diffusion_transition" / f"{name}.npz") as r:
    r = {k: r[k] for k in r.files}
  steps = np.unique(r["step"])
  head = ["n", "p"] + [f"memorised at step {s}" for s in steps] + [
      "memorised, ℓ2", "f_emp sampler", "test/train error", "agreement (ancestral)", "agreement (Euler)",
      "sample / data norm", "gain at σ = 0.1"]
  extra = name == "mixture"
  if extra:
    head += ["log-lik. vs true samples", "χ² p of mode counts"]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  final = r["step"] == steps.max()
  for n in np.unique(r["num_samples"]):
    for p in np.unique(r["width"]):
      sel = (r["num_samples"] == n) & (r["width"] == p)
      f = sel & final
      i = np.flatnonzero(f)[0]
      cells = [str(n), str(p)] + [f"{r['memorized_scale_free'][sel & (r['step'] == s)][0]:.3f}" for s in steps]
      cells += [f"{r['memorized'][i]:.3f}", f"{r['emp_memorized_scale_free'][i]:.3f}", f"{r['error_ratio'][i]:.2f}",
                f"{r['agreement_relative'][i]:.3f}", f"{r['agreement_relative_euler'][i]:.3f}",
                f"{r['sample_norm'][i]:.2f} / {r['data_norm'][i]:.2f}", f"{r['gain'][i]:.2f}"]
      if extra:
        cells += [f"{r['log_likelihood'][i]:.1f}", f"{r['mode_chi2_p'][i]:.2g}"]
      lines.append("| " + " | ".join(cells) + " |")
  lines.append(f"\nTraining time of the sweeps (both halves): {float(r['train_seconds']):.0f} s.")
  return "\n".join(lines)


SOURCES = ("diffusion_fashion_mnist/summary.json", "diffusion_transition/mixture.npz",
           "diffusion_transition/fashion_mnist.npz")

TABLES = {
    "fmnist-samples": samples_table,
    "fmnist-auroc": auroc_table,
    "transition-mixture": lambda results: transition_table(results, "mixture"),
    "transition-fashion-mnist": lambda results: transition_table(results, "fashion_mnist"),
}


def render(doc: str, results: Path, tables: dict | None = None) -> str:
  """``doc`` with every marked table (of ``tables``, default this script's) replaced by the one the
  results give."""
  for name, make in (TABLES if tables is None else tables).items():
    pattern = re.compile(rf"(<!-- {name} -->\n)(?:.*?\n)?(<!-- /{name} -->)", re.S)
    if not pattern.search(doc):
      raise ValueError(f"the document has no <!-- {name} --> … <!-- /{name} --> block")
    doc = pattern.sub(lambda m: m.group(1) + make(results) + "\n" + m.group(2), doc)
  return doc


def write_tables(description: str, default_doc: str, tables: dict, sources) -> None:
  """The command line shared by the table writers: render ``tables`` into the doc and, with
  ``--keep-sources``, copy the result files they are read from."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--results", default="results")
  parser.add_argument("--doc", default=default_doc)
  parser.add_argument("--keep-sources", help="copy the result files behind the tables to this folder")
  args = parser.parse_args()
  if args.keep_sources:
    for name in sources:
      target = Path(args.keep_sources) / name
      target.parent.mkdir(parents=True, exist_ok=True)
      shutil.copyfile(Path(args.results) / name, target)
  path = Path(args.doc)
  path.write_text(render(path.read_text(), Path(args.results), tables))
  print("wrote", path)


def main():
  write_tables(__doc__.splitlines()[0], "docs/diffusion.md", TABLES, SOURCES)


if __name__ == "__main__":
  main()
