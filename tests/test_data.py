import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt

needs_fmnist = pytest.mark.skipif(not dt.fashion_mnist_available(),
                                  reason="Debian package dataset-fashion-mnist not installed (make install)")


@pytest.mark.parametrize("num, dim, cosine", [(3, 2, None), (6, 5, None), (6, 20, None), (4, 10, -0.2), (5, 5, 0.3)])
def test_equiangular_directions(num, dim, cosine):
  u = np.asarray(dt.equiangular_directions(jax.random.PRNGKey(0), num, dim, cosine=cosine), np.float64)
  c = -1.0 / (num - 1) if cosine is None else cosine
  gram = u @ u.T
  np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-5, err_msg="every direction must have unit norm")
  np.testing.assert_allclose(gram[~np.eye(num, dtype=bool)], c, atol=1e-5,
                             err_msg=f"every pair of distinct directions must have cosine {c:.4g}")
  if cosine is None:
    np.testing.assert_allclose(u.sum(0), 0.0, atol=1e-5,  # simplex vertices sum to zero
                               err_msg="the default cosine -1/(num-1) gives simplex vertices, which must sum to zero")


def test_equiangular_limits():
  with pytest.raises(ValueError, match="dim must be at least"):
    dt.equiangular_directions(jax.random.PRNGKey(0), 5, 3)
  with pytest.raises(ValueError, match="cosine must lie in"):
    dt.equiangular_directions(jax.random.PRNGKey(0), 4, 10, cosine=-0.5)


def test_obtuse_point_set():
  x = np.asarray(dt.obtuse_point_set(jax.random.PRNGKey(1), 6, 30, norm_range=(2, 4)), np.float64)
  norms = np.linalg.norm(x, axis=1)
  assert ((norms >= 2 - 1e-5) & (norms <= 4 + 1e-5)).all() and norms.std() > 0.1, (
      f"norms must lie in norm_range (2, 4) and vary (std > 0.1), got {norms} with std {norms.std():.3g}")
  cos = (x @ x.T) / np.outer(norms, norms)
  np.testing.assert_allclose(cos[~np.eye(6, dtype=bool)], -0.2, atol=1e-5,
                             err_msg="every pair of distinct points must have the default cosine -0.2")
  sep = dt.separability(x, np.arange(6))
  assert sep.alpha == 0.0 and sep.beta == pytest.approx(-0.2, abs=1e-5) and sep.obtuse, (
      f"one point per cluster: expected alpha 0, beta -0.2 within 1e-5 and obtuse, got alpha {sep.alpha}, "
      f"beta {sep.beta} and obtuse={sep.obtuse}")
  with pytest.raises(ValueError, match="cosine must be < 0"):
    dt.obtuse_point_set(jax.random.PRNGKey(1), 3, 5, cosine=0.1)


def test_gaussian_mixture_geometry():
  mix = dt.gaussian_mixture(jax.random.PRNGKey(2), 3, 20, mean_norm=2.0, rank=2, cov_scale=0.5,
                            weights=(8, 1, 1))
  np.testing.assert_allclose(mix.weights, [0.8, 0.1, 0.1], rtol=1e-6,
                             err_msg="weights (8, 1, 1) must be normalised to (0.8, 0.1, 0.1)")
  mu = np.asarray(mix.means, np.float64)
  np.testing.assert_allclose(np.linalg.norm(mu, axis=1), 2.0, rtol=1e-5,
                             err_msg="every mean must have norm mean_norm = 2")
  np.testing.assert_allclose((mu @ mu.T)[0, 1] / 4, -0.5, atol=1e-5,
                             err_msg="3 equiangular means: the cosine of means 0 and 1 must be -1/2")
  covs = np.asarray(mix.covariances(), np.float64)
  for i, c in enumerate(covs):
    ev = np.linalg.eigvalsh(c)
    np.testing.assert_allclose(ev[-2:], 0.25, rtol=1e-4,
                               err_msg=f"covariance {i}: rank 2, its 2 nonzero eigenvalues must be cov_scale² = 0.25")
    np.testing.assert_allclose(ev[:-2], 0.0, atol=1e-6,
                               err_msg=f"covariance {i}: rank 2, its other eigenvalues must be 0")
  data = dt.sample_mixture(jax.random.PRNGKey(3), mix, 3000, exact_counts=True)
  sep = dt.separability(data.x, data.labels)
  # α ≈ max ‖Σ^{1/2} z‖/‖μ‖ over 3000 draws of a rank-2 law: about 0.5·√(2·log n)/2 ≈ 1
  assert sep.beta < -0.45 and 0.4 < sep.alpha < 1.5, (
      f"expected beta < -0.45 and alpha in (0.4, 1.5), got beta {sep.beta:.4g} and alpha {sep.alpha:.4g}")
  np.testing.assert_array_equal(np.bincount(np.asarray(data.labels)), [2400, 300, 300],
                                err_msg="exact_counts: 3000 draws at weights (0.8, 0.1, 0.1) must give 2400, 300, 300")


def test_duplicate_samples():
  x = jnp.arange(12.0).reshape(4, 3)
  labels = jnp.array([0, 0, 1, 1])
  out = dt.duplicate_samples(x, labels, [1, 3], [2, 1])
  chex.assert_shape(out.x, (7, 3))
  np.testing.assert_array_equal(out.x[4], x[1], err_msg="row 4 must be the first appended copy of row 1")
  np.testing.assert_array_equal(out.x[5], x[1], err_msg="row 5 must be the second appended copy of row 1")
  np.testing.assert_array_equal(out.x[6], x[3], err_msg="row 6 must be the appended copy of row 3")
  np.testing.assert_array_equal(out.labels, [0, 2, 1, 3, 2, 2, 3],
                                err_msg="labels: duplicated rows and their copies must share a new label per row")
  np.testing.assert_array_equal(out.is_duplicate, [False, True, False, True, True, True, True],
                                err_msg="is_duplicate must mark rows 1 and 3 and all their copies")
  with pytest.raises(ValueError, match="indices must lie in"):
    dt.duplicate_samples(x, labels, [4], 1)
  with pytest.raises(ValueError, match="copies must be >= 1"):
    dt.duplicate_samples(x, labels, [0], 0)


def test_separability_by_hand():
  # Cluster 0 around (2, 0), cluster 1 around (-1, 1).
  x = np.array([[2.0, 0.5], [2.0, -0.5], [-1.0, 1.0]])
  sep = dt.separability(x, np.array([0, 0, 1]))
  assert sep.alpha == pytest.approx(0.5 / 2.0), f"alpha must be 0.5 / 2 = 0.25, got {sep.alpha}"
  beta = -2.0 / (2.0 * np.sqrt(2.0))
  assert sep.beta == pytest.approx(beta), f"beta must be -2 / (2·√2) = {beta:.6f}, got {sep.beta}"
  np.testing.assert_allclose(sep.alpha_per_cluster, [0.25, 0.0],
                             err_msg="alpha per cluster must be 0.25 (spread 0.5 around norm 2) and 0 (one point)")
  one = dt.separability(x, np.zeros(3, int))
  assert one.beta == -np.inf, f"a single cluster has no pair of means: beta must be -inf, got {one.beta}"
  with pytest.raises(ValueError, match="labels must have 3 entries"):
    dt.separability(x, np.zeros(2, int))
  with pytest.raises(ValueError, match="mean is the zero vector"):
    dt.separability(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2, int))


@needs_fmnist
def test_fashion_mnist():
  full = dt.load_fashion_mnist("test")
  chex.assert_shape(full.x, (10_000, 784))
  chex.assert_type(full.x, np.float32)
  assert full.x.min() == -1.0 and full.x.max() == 1.0, (
      f"pixels must be scaled to span exactly [-1, 1], got [{full.x.min()}, {full.x.max()}]")
  np.testing.assert_array_equal(np.bincount(full.labels), [1000] * 10,
                                err_msg="the test split must hold 1000 images of each of the 10 classes")
  sub = dt.load_fashion_mnist("train", classes=["Sneaker", "ankle boot"], num=50, seed=3)
  chex.assert_shape(sub.x, (50, 784))
  labels = set(np.unique(sub.labels).tolist())
  assert labels == {7, 9}, f"50 images of Sneaker and ankle boot must hold both labels {{7, 9}}, got {labels}"
  again = dt.load_fashion_mnist("train", classes=[7, 9], num=50, seed=3)
  np.testing.assert_array_equal(sub.x, again.x,
                                err_msg="class names and class numbers with the same seed must give the same images")
  other = dt.load_fashion_mnist("train", classes=[7, 9], num=50, seed=4)
  assert not np.array_equal(sub.indices, other.indices), (
      f"seeds 3 and 4 must draw different images, both drew indices {sub.indices}")
  centred = dt.load_fashion_mnist("train", num=200, seed=1, center=True)
  np.testing.assert_allclose(centred.x.mean(0), 0.0, atol=1e-5, err_msg="center=True: every pixel must have mean 0")
  raw = dt.load_fashion_mnist("train", num=200, seed=1)
  np.testing.assert_allclose(centred.x + centred.mean, raw.x, atol=1e-6,
                             err_msg="centred images plus the recorded mean must give back the raw images")
  with pytest.raises(ValueError, match="unknown class 'sandals'"):
    dt.load_fashion_mnist("train", classes="sandals")
  with pytest.raises(ValueError, match="split must be"):
    dt.load_fashion_mnist("valid")
  with pytest.raises(ValueError, match="num must be at most 6000"):
    dt.load_fashion_mnist("train", classes="bag", num=7000)


def test_fashion_mnist_missing_files_say_how_to_install(tmp_path):
  with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
    dt.load_fashion_mnist("train", root=tmp_path)


def test_idx_reader(tmp_path):
  import gzip
  arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
  header = bytes([0, 0, 8, 3]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
  path = tmp_path / "a-idx3-ubyte.gz"
  with gzip.open(path, "wb") as f:
    f.write(header + arr.tobytes())
  from dae_theory._src.datasets import read_idx
  np.testing.assert_array_equal(read_idx(path), arr, err_msg="read_idx must give back the array written in IDX format")


def test_digits():
  digits = dt.load_digits()
  chex.assert_shape(digits.x, (1797, 64))
  assert digits.shape == (8, 8), f"digits must record the image shape (8, 8), got {digits.shape}"
  assert digits.x.min() == -1.0 and digits.x.max() == 1.0, (
      f"pixels must be scaled to span exactly [-1, 1], got [{digits.x.min()}, {digits.x.max()}]")
  threes = dt.load_digits(classes="3", num=20, seed=0)
  chex.assert_shape(threes.x, (20, 64))
  assert (threes.labels == 3).all(), f"classes='3' must give only label 3, got {np.unique(threes.labels)}"
  with pytest.raises(ValueError, match="unknown class"):
    dt.load_digits(classes="eleven")


def test_greedy_obtuse_subset_by_hand():
  x = np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, 0.1], [0.0, -1.0], [-1.0, -1.0]])
  # in order: keep 0; 1 is acute to 0; keep 2; 3 is orthogonal to 0 (cos 0 is not obtuse); 4 is acute to 2
  np.testing.assert_array_equal(dt.greedy_obtuse_subset(x), [0, 2],
                                err_msg="rows in order: the greedy obtuse subset must be rows 0 and 2")
  np.testing.assert_array_equal(dt.greedy_obtuse_subset(x, [4, 1, 0]), [4, 1],
                                err_msg="rows in the order 4, 1, 0: the greedy obtuse subset must be rows 4 and 1")
  with pytest.raises(ValueError, match="zero row"):
    dt.greedy_obtuse_subset(np.zeros((2, 2)))


def test_interleave_by_label_makes_balanced_prefixes():
  labels = np.repeat([2, 5, 7], 4)
  x = np.arange(12.0)[:, None] * np.ones((1, 3))
  out = dt.interleave_by_label(x, labels)
  np.testing.assert_array_equal(out.labels, np.tile([2, 5, 7], 4), err_msg="labels must cycle 2, 5, 7")
  for m in range(1, 5):
    np.testing.assert_array_equal(np.bincount(out.labels[: 3 * m], minlength=8)[[2, 5, 7]], [m, m, m],
                                  err_msg=f"the first {3 * m} rows must hold each label {m} times")
  np.testing.assert_array_equal(out.x[:, 0], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11],  # order kept within a label
                                err_msg="rows must keep their order within a label")
  with pytest.raises(ValueError, match="equally often"):
    dt.interleave_by_label(x[:11], labels[:11])
