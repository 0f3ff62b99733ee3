"""Is Fashion-MNIST (α, β)-separable (Definition 3.1)? Raw [−1, 1] images vs mean-centred ones.

Run: .venv/bin/python experiments/fashion_mnist_separability.py --out results/fashion_mnist_separability \
       [--size fast|default|full]
Writes ``separability.json``. About 20 s on a 2-core CPU (fast: 10,000 images, 20,000 pairs, one greedy
set; full: as default). Reports, for the 10 classes as clusters and for single images
(the memorisation corollary's setting): α, β, cosine statistics of random image pairs, and the
size of a greedily grown set of mutually obtuse images.
"""

from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import save_json


SETTINGS = {"default": dict(n=60_000, pairs=200_000, greedy_candidates=5000, greedy_sets=5),
            "fast": dict(n=10_000, pairs=20_000, greedy_candidates=1000, greedy_sets=1)}
SETTINGS["full"] = SETTINGS["default"]


def report(x: np.ndarray, labels: np.ndarray, s: dict, rng: np.random.Generator) -> dict:
  sep = dt.separability(x, labels)
  unit = x / np.linalg.norm(x, axis=1, keepdims=True)
  a, b = rng.integers(0, x.shape[0], size=(2, s["pairs"]))
  keep = a != b
  cos = np.einsum("nd,nd->n", unit[a[keep]], unit[b[keep]])
  greedy = [len(dt.greedy_obtuse_subset(x, rng.permutation(x.shape[0])[:s["greedy_candidates"]]))
            for _ in range(s["greedy_sets"])]
  return {
      "classes_alpha": sep.alpha, "classes_beta": sep.beta, "classes_obtuse": sep.obtuse,
      "class_mean_cosines": sep.mean_cosines,
      "pair_cosine_median": float(np.median(cos)), "pair_cosine_q05": float(np.quantile(cos, 0.05)),
      "pair_cosine_q95": float(np.quantile(cos, 0.95)), "fraction_obtuse_pairs": float((cos < 0).mean()),
      "greedy_obtuse_set_sizes": greedy,
  }


def main():
  parser = dt.experiment_parser(__doc__.splitlines()[0], "results/fashion_mnist_separability")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  s = SETTINGS[args.size]
  out = {}
  for name, center in (("raw", False), ("centred", True)):
    data = dt.load_fashion_mnist("train", center=center, num=None if s["n"] == 60_000 else s["n"], seed=args.seed)
    out[name] = report(data.x, data.labels, s, np.random.default_rng(args.seed))
    r = out[name]
    print(f"{name:8s} classes: alpha={r['classes_alpha']:.3f} beta={r['classes_beta']:.3f}  "
          f"pairs: median cos={r['pair_cosine_median']:.3f} obtuse={r['fraction_obtuse_pairs']:.3f}  "
          f"greedy obtuse sets: {r['greedy_obtuse_set_sizes']}")
  out["config"] = {"split": "train", **s, "size": args.size, "seed": args.seed, "version": dt.__version__}
  print("wrote", save_json(Path(args.out) / "separability.json", out))


if __name__ == "__main__":
  main()
