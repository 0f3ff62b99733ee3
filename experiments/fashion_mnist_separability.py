"""Is Fashion-MNIST (α, β)-separable (Definition 3.1)? Raw [−1, 1] images vs mean-centred ones.

Run: .venv/bin/python experiments/fashion_mnist_separability.py --out results/fashion_mnist_separability.json
Takes about 20 s on a 2-core CPU. Reports, for the 10 classes as clusters and for single images
(the memorisation corollary's setting): α, β, cosine statistics of random image pairs, and the
size of a greedily grown set of mutually obtuse images.
"""

import argparse

import numpy as np

import dae_theory as dt
from dae_theory import save_json


def report(x: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> dict:
  sep = dt.separability(x, labels)
  unit = x / np.linalg.norm(x, axis=1, keepdims=True)
  a, b = rng.integers(0, x.shape[0], size=(2, 200_000))
  keep = a != b
  cos = np.einsum("nd,nd->n", unit[a[keep]], unit[b[keep]])
  greedy = [len(dt.greedy_obtuse_subset(x, rng.permutation(x.shape[0])[:5000])) for _ in range(5)]
  return {
      "classes_alpha": sep.alpha, "classes_beta": sep.beta, "classes_obtuse": sep.obtuse,
      "class_mean_cosines": sep.mean_cosines,
      "pair_cosine_median": float(np.median(cos)), "pair_cosine_q05": float(np.quantile(cos, 0.05)),
      "pair_cosine_q95": float(np.quantile(cos, 0.95)), "fraction_obtuse_pairs": float((cos < 0).mean()),
      "greedy_obtuse_set_sizes": greedy,
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="results/fashion_mnist_separability.json")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  out = {}
  for name, center in (("raw", False), ("centred", True)):
    data = dt.load_fashion_mnist("train", center=center)
    out[name] = report(data.x, data.labels, np.random.default_rng(args.seed))
    r = out[name]
    print(f"{name:8s} classes: alpha={r['classes_alpha']:.3f} beta={r['classes_beta']:.3f}  "
          f"pairs: median cos={r['pair_cosine_median']:.3f} obtuse={r['fraction_obtuse_pairs']:.3f}  "
          f"greedy obtuse sets: {r['greedy_obtuse_set_sizes']}")
  out["config"] = {"split": "train", "n": 60000, "pairs": 200000, "greedy_candidates": 5000, "seed": args.seed}
  print("wrote", save_json(args.out, out))


if __name__ == "__main__":
  main()
