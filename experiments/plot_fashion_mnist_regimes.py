"""Figure: memorising and generalising ReLU-DAEs on Fashion-MNIST (columns, PSNR, Std(h), gating).

Run: .venv/bin/python experiments/plot_fashion_mnist_regimes.py --results results/fashion_mnist_regimes --out figures
Writes ``fashion_mnist_regimes.png``, drawn from the saved results of ``fashion_mnist_regimes.py``.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "fashion_mnist_regimes.png"
# name → (what it is, colour); the number of training images is read from the results
MODELS = {"mem_authors": ("memorising (authors' recipe, {n} obtuse images)", plotting.MEMORIZED),
          "mem_closed_form": ("memorising (our closed-form preset, the same {n})", plotting.REDDISH_PURPLE),
          "mem_violating": ("memorising (authors' recipe, {n} random images)", plotting.BLACK),
          "gen_authors": ("generalising (authors' recipe, {n} images)", plotting.GENERALIZED)}
SHORT = {"mem_authors": "mem., authors, obtuse set", "mem_closed_form": "mem., closed-form preset",
         "mem_violating": "mem., authors, random set", "gen_authors": "gen., authors"}
# a column stores a training image when its max cosine with the training set exceeds this
STORED_COSINE = 0.99
# bins of the gating panel with fewer pairs than this are not drawn
MIN_PAIRS = 50


def show_columns(fig, spec, r, title):
  cols = r["example_columns"]
  order = np.argsort(-r["column_norms"])[: cols.shape[0]]
  grid = spec.subgridspec(1, cols.shape[0], wspace=0.05)
  for j in range(cols.shape[0]):
    ax = fig.add_subplot(grid[0, j])
    plotting.show_image(ax, cols[j], signed=True,
                        label=f"‖w‖ {r['column_norms'][order[j]]:.2f}\ncos {r['column_max_cosine'][order[j]]:.2f}")
    if j == 0:
      ax.set_title(title, loc="left")


def column_titles(runs: dict) -> tuple[str, str]:
  mem, gen = runs["mem_authors"], runs["gen_authors"]
  shown = mem["example_columns"].shape[0]
  top = np.argsort(-mem["column_norms"])[:shown]
  stored = int(np.sum(mem["column_max_cosine"][top] > STORED_COSINE))
  rest = mem["column_norms"][top][stored:]
  tail = ("" if not rest.size else f", then a column of norm {rest.max():.2f}" if rest.size == 1
          else f", then {rest.size} columns of norm ≤ {rest.max():.2f}")
  a = (f"(a) memorising model (authors' recipe, {mem['indices'].size} training images), {shown} largest columns: "
       f"{stored} with max cosine > {STORED_COSINE} to a training image (stored images){tail}")
  shown = gen["example_columns"].shape[0]
  cos = gen["column_max_cosine"][np.argsort(-gen["column_norms"])[:shown]]
  b = (f"(b) generalising model (authors' recipe, {gen['indices'].size:,} training images), {shown} largest columns: "
       f"max cosine with the training set {cos.min():.2f}–{cos.max():.2f}; {gen['antipodal_pairs'].shape[0]} "
       f"antipodal pairs among its {gen['column_norms'].size} columns")
  return a, b


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/fashion_mnist_regimes").parse_args()
  res = Path(args.results)
  settings = dt.load_json(res / "config.json")["settings"]
  runs = {name: dt.load_npz(res / f"{name}.npz") for name in MODELS}
  label = {name: text.format(n=f"{runs[name]['indices'].size:,}") for name, (text, _) in MODELS.items()}
  colour = {name: c for name, (_, c) in MODELS.items()}
  sigma = plotting.number(settings["sigma"])
  width = runs["gen_authors"]["column_norms"].size

  fig = plotting.figure(figsize=(15, 9.8))
  outer = fig.add_gridspec(3, 3, height_ratios=[1, 1, 1.6], hspace=0.5, wspace=0.3, top=0.93)
  title_a, title_b = column_titles(runs)
  show_columns(fig, outer[0, :], runs["mem_authors"], title_a)
  show_columns(fig, outer[1, :], runs["gen_authors"], title_b)

  ax = fig.add_subplot(outer[2, 0])
  bar = 0.8 / len(MODELS)
  for i, name in enumerate(MODELS):
    r = runs[name]
    vals = [np.median(r["psnr_train"]), np.median(r["psnr_test"])]
    ax.bar(np.arange(2) + (i - (len(MODELS) - 1) / 2) * bar, vals, bar, color=colour[name], label=label[name])
  noisy = np.median(runs["gen_authors"]["psnr_noisy_test"])
  ax.axhline(noisy, color=plotting.GREY, ls=":", lw=1.2, label=f"noisy input ({noisy:.1f} dB)")
  ax.set_xticks([0, 1], ["noisy training images", "noisy test images"])
  ax.set_ylabel(f"median PSNR of f(x + σε), dB (peak 1, σ = {sigma})")
  ax.set_title("(c) denoising noisy training and test images:\nmedian PSNR of each model")
  top = max(max(np.median(r["psnr_train"]), np.median(r["psnr_test"])) for r in runs.values())
  ax.set_ylim(0, 1.7 * top)
  ax.legend(loc="upper right")
  ax.grid(alpha=0.3, axis="y")

  ax = fig.add_subplot(outer[2, 1])
  values = np.concatenate([runs[n][k] for n in ("mem_authors", "gen_authors") for k in ("std_train", "std_test")])
  bins = np.linspace(0, np.percentile(values, 99.5) * 1.05, 60)
  for name in ("mem_authors", "gen_authors"):
    who = "memorising" if name.startswith("mem") else "generalising"
    ax.hist(runs[name]["std_train"], bins, histtype="step", color=colour[name], lw=1.8, density=True,
            label=f"{who}, noisy training images")
    ax.hist(runs[name]["std_test"], bins, histtype="step", color=colour[name], lw=1.2, ls="--", density=True,
            label=f"{who}, noisy test images")
  ax.set_xlabel(f"Std(h) over the {width} hidden units (the paper's score)")
  ax.set_ylabel("density")
  ax.set_title("(d) Std(h) of the authors' two models on noisy\ntraining (solid) and test (dashed) images")
  ax.legend()
  ax.grid(alpha=0.3)

  ax = fig.add_subplot(outer[2, 2])
  pairs = 0
  for name in MODELS:
    r = runs[name]
    b = r["gating_overlap_by_similarity"]
    pairs = int(b[:, 2].sum())
    keep = b[:, 2] >= MIN_PAIRS
    ax.plot(b[keep, 0], b[keep, 1], marker="o", ms=3, color=colour[name],
            label=f"{SHORT[name]}: ρ = {float(r['gating_spearman']):.2f}")
  ax.set_xlabel("cosine similarity of two clean test images")
  ax.set_ylabel("Jaccard overlap of their active units")
  ax.set_title(f"(e) gating geometry over {pairs:,} pairs of noisy test images\n"
               f"(ρ: Spearman; bins of ≥ {MIN_PAIRS} pairs)")
  ax.legend()
  ax.grid(alpha=0.3)
  fig.suptitle(f"Fashion-MNIST, p = {width}, σ = {sigma} (images centred on the training mean)", fontsize=12)
  plotting.save_figure(fig, args.out, NAME)


if __name__ == "__main__":
  main()
