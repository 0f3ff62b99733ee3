"""One look for every figure of the package: colour-blind-safe colours, font sizes, saving.

Colours are Okabe & Ito's eight (distinguishable with every common colour-vision deficiency).
Roles are fixed across figures: memorised samples and memorising models are vermillion,
generalising ones blue, hybrids and other third kinds bluish green, and f_emp orange.

    from dae_theory import plotting
    plotting.use_style()
    fig, ax = plotting.subplots(1, 2)
    ...
    plotting.save_figure(fig, out_dir, "name.png")

``number`` and ``cosine_bound`` format values for titles (read them from the saved results, never
type them), ``show_image`` draws one image, ``histograms`` overlays score distributions. Figure
scripts share one command line: ``--results DIR`` (the saved results they draw) and ``--out DIR``
(the folder the PNG files go to); see ``figure_parser``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dae_theory._src.results_io import _atomic_write

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
GREY = "#999999"

# The cycle of line colours, in order of contrast on white.
PALETTE = (BLACK, VERMILLION, BLUE, BLUISH_GREEN, ORANGE, SKY_BLUE, REDDISH_PURPLE, YELLOW)

MEMORIZED = VERMILLION
GENERALIZED = BLUE
HYBRID = BLUISH_GREEN
EMPIRICAL = ORANGE
REGIME_COLOURS = {"memorization": MEMORIZED, "generalization": GENERALIZED, "hybrid": HYBRID, "boundary": GREY}

# Colours for unordered categories (the modes of a mixture, detectors): ``category(i)`` cycles
# through them, first the five that are not memorised / generalised / f_emp (bluish green marks
# hybrids only where a figure has them); ``line_style(i)`` gives many lines distinct styles from
# those five alone (colour, then dash pattern). Ordered settings (σ, widths, steps) take
# ``sequential(n)``.
CATEGORIES = (SKY_BLUE, REDDISH_PURPLE, BLUISH_GREEN, BLACK, GREY, ORANGE, BLUE, VERMILLION, YELLOW)
ROLE_FREE = CATEGORIES[:5]
DASHES = ("-", "--", ":", "-.")

# Diverging map for signed images (weights, residuals) and a sequential one for magnitudes:
# both readable without red-green contrast.
DIVERGING_CMAP = "RdBu_r"
SEQUENTIAL_CMAP = "viridis"
GREY_CMAP = "gray"

DPI = 130

_RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "lines.markersize": 4,
    "savefig.dpi": DPI,
    "image.interpolation": "nearest",
}


def use_style() -> None:
  """Selects the Agg backend (files only) and sets the package's rcParams and colour cycle."""
  import matplotlib
  matplotlib.use("Agg")
  from cycler import cycler
  matplotlib.rcParams.update(_RC)
  matplotlib.rcParams["axes.prop_cycle"] = cycler(color=PALETTE)


def subplots(*args, **kwargs):
  """``matplotlib.pyplot.subplots`` with the package style applied first."""
  use_style()
  import matplotlib.pyplot as plt
  return plt.subplots(*args, **kwargs)


def figure(**kwargs):
  """``matplotlib.pyplot.figure`` with the package style applied first."""
  use_style()
  import matplotlib.pyplot as plt
  return plt.figure(**kwargs)


def category(i: int) -> str:
  """The i-th colour of ``CATEGORIES`` (cycling)."""
  return CATEGORIES[i % len(CATEGORIES)]


def line_style(i: int) -> dict:
  """Keyword arguments (color, ls) of the i-th of many lines: the five role-free colours solid, then
  dashed, dotted, dash-dotted."""
  return dict(color=ROLE_FREE[i % len(ROLE_FREE)], ls=DASHES[(i // len(ROLE_FREE)) % len(DASHES)])


def sequential(n: int, start: float = 0.0, stop: float = 0.82) -> list:
  """``n`` colours from the sequential map (viridis) for an ordered setting, dark to light; the
  palest yellow end is left out so that every line shows on white."""
  import matplotlib
  cmap = matplotlib.colormaps[SEQUENTIAL_CMAP]
  return [cmap(v) for v in (np.linspace(start, stop, n) if n > 1 else [start])]


def number(value, digits: int = 4) -> str:
  """A number for a title or label: integers with thousands separators ("124,750"), others with at
  most ``digits`` significant digits, scientific below 0.01 without a padded exponent (0.2 → "0.2",
  1e-4 → "1e-4")."""
  if isinstance(value, (bool, np.bool_)):
    return str(bool(value))
  if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()
                                              and abs(value) >= 1000):
    return f"{int(value):,}"
  value = float(value)
  if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e6):
    text = np.format_float_scientific(value, precision=digits - 1, trim="-", exp_digits=1)
    return text.replace(".e", "e")  # numpy keeps the point of a rounded mantissa ("2.e-6")
  return f"{value:.{digits}g}"


def cosine_bound(cosine: float) -> str:
  """"cosine ≥ 0.9876", or for a cosine within 1e-4 of 1 "1 − cosine ≤ 2.5e-6" (4 decimals would
  print 1.0000)."""
  cosine = float(cosine)
  if cosine < 0.9999:
    return f"cosine ≥ {cosine:.4f}"
  return f"1 − cosine ≤ {number(max(1.0 - cosine, 0.0), 2)}"


def show_image(ax, image, shape=(28, 28), *, signed: bool = False, label: str | None = None) -> None:
  """One image without ticks: grey and auto-scaled to its own range (as the authors' figures are), or,
  with ``signed``, on the diverging map symmetric about 0 (weights)."""
  img = np.asarray(image, np.float64).reshape(shape)
  if signed:
    lim = max(float(np.abs(img).max()), 1e-12)
    ax.imshow(img, cmap=DIVERGING_CMAP, vmin=-lim, vmax=lim)
  else:
    lo, hi = float(img.min()), float(img.max())
    ax.imshow(img, cmap=GREY_CMAP, vmin=lo, vmax=max(hi, lo + 1e-6))
  ax.set_xticks([])
  ax.set_yticks([])
  for spine in ax.spines.values():
    spine.set_visible(True)
    spine.set_linewidth(0.5)
  if label is not None:
    ax.set_xlabel(label, labelpad=1, fontsize=7)


def histograms(ax, groups, bins, *, density: bool = True, alpha: float = 0.35) -> None:
  """Overlaid histograms of ``groups``, (values, colour, label) triples, on shared ``bins``: light
  filled bars under an outline in the full colour (overlaps stay readable and the colours keep
  their hue); empty groups are skipped."""
  for values, colour, label in groups:
    values = np.asarray(values, np.float64).ravel()
    if values.size == 0:
      continue
    ax.hist(values, bins, color=colour, density=density, alpha=alpha, lw=0)
    ax.hist(values, bins, color=colour, density=density, histtype="step", lw=1.3, label=label)


def save_figure(fig, out_dir, name: str, *, tight: bool = True) -> Path:
  """Writes ``fig`` to ``out_dir/name`` atomically (a temporary file, then a rename) and closes it.

  Args:
    fig: a matplotlib Figure.
    out_dir: the folder (created if missing).
    name: the file name, e.g. ``"steering.png"``.
    tight: crop to the drawn area (``bbox_inches="tight"``).

  Returns:
    The path written.
  """
  import matplotlib.pyplot as plt
  if not isinstance(name, str) or not name or Path(name).name != name or not Path(name).suffix:
    raise ValueError(f"name must be a file name with an extension and no folders, got {name!r}")
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  path = out_dir / name
  try:
    _atomic_write(path, lambda f: fig.savefig(f, format=path.suffix[1:], dpi=DPI,
                                              bbox_inches="tight" if tight else None))
  finally:
    plt.close(fig)
  print("wrote", path)
  return path


def figure_parser(description: str, results: str) -> argparse.ArgumentParser:
  """The command line every figure script shares: ``--results DIR`` and ``--out DIR``.

  Args:
    description: the script's one-line description.
    results: the default results folder, e.g. ``"results/steering"``.
  """
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--results", default=results, help=f"saved results to draw (default {results})")
  parser.add_argument("--out", default="figures", help="folder for the PNG files (default figures)")
  return parser
