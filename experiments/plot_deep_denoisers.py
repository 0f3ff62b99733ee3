"""Figure: the spiky/balanced signature layer by layer in deep denoisers (paper Fig 5 layout).

Run: .venv/bin/python experiments/plot_deep_denoisers.py --results results/deep_denoisers --out figures
Writes ``deep_denoisers.png``, drawn from the saved results of ``experiments/deep_denoisers.py``.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import plotting

NAME = "deep_denoisers.png"


def groups(r) -> tuple[np.ndarray, np.ndarray]:
  """(memorised, generalised) masks over (stage, sample): memorised samples of any stage, and the
  samples of the model trained on every image at its last step."""
  final = r["step"] == r["step"].max()
  everything = r["num_samples"] == r["num_samples"].max()
  return r["memorized"].astype(bool), (everything & final)[:, None] & ~r["memorized"].astype(bool)


def layers_of(r) -> list[str]:
  """The recorded layers in forward order (the order the experiment saved them in)."""
  return list(dict.fromkeys(k.split("__")[0] for k in r if k.count("__") == 2))


def label(name: str) -> str:
  """"U-Net", "MLP L3", "MLP L3, residual", "MLP L3, no bias"."""
  return "U-Net" if name == "unet" else "MLP " + name.removeprefix("mlp_").replace("_no_bias", ", no bias").replace(
      "_residual", ", residual")


def paired_boxes(ax, layers, values_mem, values_gen, ylabel):
  """Side-by-side boxes per layer: memorised (vermillion) and generalised (blue) samples."""
  pos = np.arange(len(layers))
  for offset, values, colour in ((-0.18, values_mem, plotting.MEMORIZED), (0.18, values_gen, plotting.GENERALIZED)):
    data = [v if v.size else np.array([np.nan]) for v in values]
    box = ax.boxplot(data, positions=pos + offset, widths=0.32, patch_artist=True, showfliers=False,
                     medianprops=dict(color=plotting.BLACK))
    for patch in box["boxes"]:
      patch.set(facecolor=colour, alpha=0.75)
  ax.set_xticks(pos, layers, rotation=45, ha="right")
  ax.set_ylabel(ylabel)


def main():
  args = plotting.figure_parser(__doc__.splitlines()[0], "results/deep_denoisers").parse_args()
  res = Path(args.results)
  cfg = dt.load_json(res / "config.json")
  summary = dt.load_json(res / "summary.json")
  families = ["unet"] + [f"mlp_{a}" for a in cfg["mlp"]["archs"]]
  data = {name: dt.load_npz(res / f"{name}.npz") for name in families}
  mlp_main = "mlp_L3" if "mlp_L3" in data else families[1]

  fig = plotting.figure(figsize=(15.0, 12.0))
  grid = fig.add_gridspec(3, 3, hspace=0.9, wspace=0.3)

  # (a) memorised fraction against n
  ax = fig.add_subplot(grid[0, 0])
  r = data["unet"]
  steps = sorted(set(r["step"].tolist()))
  for j, step in enumerate(steps):
    sel = r["step"] == step
    ax.plot(r["num_samples"][sel], r["memorized"][sel].mean(axis=1), "o-", color=plotting.sequential(len(steps))[j],
            label=f"U-Net, {plotting.number(int(step))} steps")
  for i, name in enumerate(families[1:]):
    r = data[name]
    ax.plot(r["num_samples"], r["memorized"].mean(axis=1), marker="s", ms=3, label=label(name),
            **plotting.line_style(i))
  ax.set_xscale("log")
  ax.set_xlabel("training images n")
  ax.set_ylabel("memorised samples (d₁/d₂ < 1/3)")
  ax.set_ylim(-0.03, 1.03)
  ax.legend(fontsize=7)
  ax.set_title("(a) where the models stop copying")

  # (b), (c) Std of the max-pooled activations per layer, memorised against generalised samples
  for col, name in ((1, "unet"), (2, mlp_main)):
    ax = fig.add_subplot(grid[0, col])
    r = data[name]
    mem, gen = groups(r)
    layers = layers_of(r)
    paired_boxes(ax, layers, [r[f"{l}__max__std"][mem] for l in layers], [r[f"{l}__max__std"][gen] for l in layers],
                 "Std of activations (max-pooled)" if name == "unet" else "Std of h_l")
    ax.set_yscale("log")
    ax.set_title(f"({'b' if col == 1 else 'c'}) {label(name)}: {int(mem.sum())} memorised vs {int(gen.sum())} "
                 "generalised samples", fontsize=9)
  ax.plot([], [], "s", color=plotting.MEMORIZED, label="memorised samples (every n, every step)")
  ax.plot([], [], "s", color=plotting.GENERALIZED, label="samples of the model trained on all images")
  ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False)

  # (d) per-layer AUROC, U-Net, both poolings and two scores
  ax = fig.add_subplot(grid[1, :2])
  det = summary["unet"]["detection"]
  layers = layers_of(data["unet"])
  combos = [("max", "std"), ("max", "normalized_std"), ("mean", "std"), ("max", "peak_energy_fraction")]
  width = 0.8 / len(combos)
  for j, (pooling, score) in enumerate(combos):
    values = [det.get(f"{l}/{pooling}/{score}", {}).get("auroc", np.nan) for l in layers]
    ax.bar(np.arange(len(layers)) + (j - (len(combos) - 1) / 2) * width, values, width, color=plotting.category(j),
           label=f"{score}, {pooling}-pooled")
  within = summary["unet"]["within_model"]
  if within:  # the stage whose memorised share is nearest one half
    stage = min(within, key=lambda k: abs(within[k]["num_memorized"] - within[k]["num_other"]))
    values = [within[stage]["detection"].get(f"{l}/max/std", {}).get("auroc", np.nan) for l in layers]
    n, step = (part.split("=")[1] for part in stage.split(","))
    ax.plot(np.arange(len(layers)) - 0.3, values, "D", color=plotting.BLACK, ms=4,
            label=f"std, max-pooled, within one model (n = {n}, {plotting.number(int(step))} steps)")
  ax.axhline(0.5, color=plotting.GREY, lw=0.8, ls="--")
  ax.set_xticks(np.arange(len(layers)), layers)
  ax.set_ylim(0, 1.05)
  ax.set_ylabel("AUROC, memorised vs generalised")
  ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
  ax.set_title("(d) U-Net: which layer carries the signature (0.5: chance; 0: reversed)")

  # (e) per-layer AUROC of Std and of Std/‖h‖, MLPs
  ax = fig.add_subplot(grid[1, 2])
  for i, name in enumerate(families[1:]):
    det = summary[name]["detection"]
    layers = layers_of(data[name])
    depth = np.arange(1, len(layers) + 1)
    colour = plotting.category(i)
    ax.plot(depth, [det.get(f"{l}/max/normalized_std", {}).get("auroc", np.nan) for l in layers], marker="o",
            color=colour, label=label(name))
    ax.plot(depth, [det.get(f"{l}/max/std", {}).get("auroc", np.nan) for l in layers], marker="o", ls=":",
            color=colour)
  ax.plot([], [], "k-", label="Std(h_l)/‖h_l‖ (scale-free)")
  ax.plot([], [], "k:", label="Std(h_l) (the paper's score)")
  ax.axhline(0.5, color=plotting.GREY, lw=0.8, ls="--")
  ax.set_xlabel("hidden layer l")
  ax.set_xticks(np.arange(1, 5))
  ax.set_ylabel("AUROC, memorised vs generalised")
  ax.set_ylim(-0.03, 1.05)
  ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
  ax.set_title("(e) MLPs: each layer's scores")

  # (f) Jacobian effective rank at the re-noised samples (App. B.3), at each σ
  ax = fig.add_subplot(grid[2, 0])
  labels, mems, gens = [], [], []
  for name in ("unet", mlp_main):
    r = data[name]
    mem, gen = groups(r)
    j = r["jacobian_rank"].shape[2]
    for k, sigma in enumerate(cfg["jacobian_sigmas"]):
      labels.append(f"{label(name)}, σ = {sigma:g}")
      mems.append(r["jacobian_rank"][:, k][mem[:, :j]])
      gens.append(r["jacobian_rank"][:, k][gen[:, :j]])
  paired_boxes(ax, labels, mems, gens, "effective rank of ∂D/∂y")
  ax.set_title("(f) the denoiser's Jacobian at the re-noised samples")

  # (g) samples: the smallest and the largest n, U-Net, last step
  r = data["unet"]
  shape = tuple(cfg["unet"]["arch"]["image_shape"][:2])
  last = r["step"] == r["step"].max()
  for k, (col, which) in enumerate(((1, r["num_samples"][last].min()), (2, r["num_samples"][last].max()))):
    ax = fig.add_subplot(grid[2, col])
    stage = int(np.flatnonzero(last & (r["num_samples"] == which))[0])
    tiles = np.pad(r["samples"][stage][:16].reshape(4, 4, *shape), ((0, 0), (0, 0), (1, 1), (1, 1)),
                   constant_values=1.0)  # a white frame around each 8×8 sample
    ax.imshow(np.concatenate([np.concatenate(list(row), axis=1) for row in tiles], axis=0), cmap=plotting.GREY_CMAP,
              vmin=-1, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"({'g' if k == 0 else 'h'}) U-Net samples, n = {plotting.number(int(which))}: "
                 f"{r['memorized'][stage].mean():.0%} memorised", fontsize=9)

  fig.suptitle("Deep denoisers on the 8×8 digits: memorisation, and the spiky/balanced signature layer by layer",
               fontsize=12)
  print(f"wrote {plotting.save_figure(fig, args.out, NAME)}")


if __name__ == "__main__":
  main()
