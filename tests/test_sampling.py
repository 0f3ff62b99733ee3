"""Diffusion samplers (dae_theory/_src/sampling.py) against answers known in closed form.

- f_emp drives every sample onto a training point (memorisation, paper eq. 3);
- f_gt of a Gaussian mixture reproduces the mixture (per-mode means, covariances, frequencies);
- for one Gaussian the deterministic samplers follow the exact probability-flow solution;
- the update formulas match a NumPy float64 transcription step for step;
- reproducibility, hooks, aux snapshots and argument checks.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from dae_theory._src import sampling as smp
from dae_theory._src.data import equiangular_directions
from dae_theory._src.empirical import empirical_denoiser
from dae_theory._src.mixture import GaussianMixture, gmm_denoiser, gmm_posterior, wiener_denoiser
from dae_theory._src.sampling import Trajectory, geometric_sigmas, sample, sample_trajectory

METHODS = ("ancestral", "euler", "heun")
GRID60 = (2.0, 0.02, 60)  # the authors' default grid


def shrink(x, s):
  """Wiener denoiser of N(0, I): x / (1 + σ²); σ-dependent, so a wrong σ shows."""
  return x / (1.0 + s * s)


# ------------------------------------------------------------------------------------------------
# The grid.


def test_geometric_sigmas_is_the_authors_grid():
  g = np.asarray(geometric_sigmas(*GRID60))
  chex.assert_shape(g, (61,))
  chex.assert_type(g, np.float32)
  assert g[0] == np.float32(2.0) and g[-2] == np.float32(0.02) and g[-1] == 0.0, (
      f"the grid must run 2.0 ... 0.02, then 0, got {g[0]} ... {g[-2]}, {g[-1]}")
  ratios = g[1:-1] / g[:-2]
  np.testing.assert_allclose(ratios, (0.02 / 2.0) ** (1 / 59), rtol=1e-5, err_msg="the grid must be geometric")


def test_geometric_sigmas_float64(x64):
  g = geometric_sigmas(80.0, 0.01, 5, dtype=jnp.float64)
  chex.assert_type(g, jnp.float64)
  np.testing.assert_allclose(np.asarray(g)[:-1], np.geomspace(80.0, 0.01, 5), rtol=1e-15,
                             err_msg="float64 grid must match np.geomspace")


# ------------------------------------------------------------------------------------------------
# 1. f_emp memorises.


@pytest.mark.parametrize("method", ["ancestral", "euler"])
def test_empirical_denoiser_memorizes(method):
  """n = 50 points in [−1, 1]^20, 512 samples on the 60-level grid: ≥ 99 % land on a training point.

  Memorised: ‖s − x_nn‖ / ‖x_nn‖ < 1e-2 for the nearest training point x_nn. (The last step lands on
  f_emp(x, 0.02), a softmax over logits spread by ~‖x_i − x_j‖²/2σ² ≈ 10⁴: one-hot to float32.)
  """
  train = jax.random.uniform(jax.random.PRNGKey(1), (50, 20), minval=-1.0, maxval=1.0)
  out = sample(lambda x, s: empirical_denoiser(x, train, s), jax.random.PRNGKey(2), (512, 20),
               geometric_sigmas(*GRID60), method=method)
  s, t = np.asarray(out, np.float64), np.asarray(train, np.float64)
  dist = np.linalg.norm(s[:, None, :] - t[None], axis=-1)
  nn = dist.argmin(1)
  rel = dist[np.arange(len(s)), nn] / np.linalg.norm(t[nn], axis=1)
  frac = (rel < 1e-2).mean()
  assert frac >= 0.99, f"at least 99 % of samples must land on a training point (rel < 1e-2), got {frac:.1%}"
  # and they spread over the training set (expected ~50 of 50)
  hit = len(np.unique(nn))
  assert hit >= 30, f"samples must land on at least 30 of the 50 training points, got {hit}"


# ------------------------------------------------------------------------------------------------
# 2. f_gt of a Gaussian mixture reproduces the mixture.


def _three_mode_mixture():
  """d = 4, ρ = (0.5, 0.3, 0.2); means of norm 3 on a regular simplex (5.2 apart); covariances:
  full rank (eigenvalues 0.5 … 0.05, rotated), rank one plus isotropic (0.4 uuᵀ + 0.05 I), diagonal."""
  rng = np.random.default_rng(0)
  d = 4
  means = 3.0 * np.asarray(equiangular_directions(jax.random.PRNGKey(3), 3, d), np.float64)
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  u = rng.normal(size=(d, 1))
  u /= np.linalg.norm(u)
  covs = np.stack([q @ np.diag([0.5, 0.3, 0.15, 0.05]) @ q.T, 0.4 * u @ u.T + 0.05 * np.eye(d),
                   np.diag([0.1, 0.3, 0.2, 0.4])])
  rho = np.array([0.5, 0.3, 0.2])
  mixture = GaussianMixture.from_covariances(*(jnp.asarray(a, jnp.float32) for a in (means, rho, covs)))
  return mixture, means, covs, rho


@pytest.mark.parametrize("method, grid", [
    ("ancestral", (80.0, 0.02, 300)),  # first order: variance bias ≈ +2.5 % here (+11.5 % with 100 levels)
    ("heun", (80.0, 0.002, 60)),       # second order: within ~0.01 of the 300-level samples (std ≥ 0.2)
])
def test_gmm_denoiser_samples_the_mixture(method, grid):
  """n = 4000 samples of f_gt's sampler, assigned to modes by the posterior at σ = 0.05.

  Tolerances (n_k ≈ 2000, 1200, 800):
  - mode frequencies: χ² test against ρ with p > 1e-3 (frequencies off by 3 points, e.g.
    (0.53, 0.27, 0.2), give χ² ≈ 19, p ≈ 7e-5; the same sampler started at the authors' σ_max = 2
    instead of 80 fails with p ≈ 1e-39 at n = 6000);
  - per-mode means: every entry within 4 SE = 4 √(Σ_ii / n_k) of μ_k (≤ 0.09, under a sixth of a std);
  - per-mode covariances: every entry within 4 SE = 4 √((Σ_ii Σ_jj + Σ_ij²) / n_k) of Σ_k (the
    Wishart standard error; 4 SE is 13–20 % of Σ_ii on the diagonal).
  σ_max = 80 makes the mismatch of the N(0, σ_max² I) start negligible (KL ≈ ‖Σ_k ρ_k μ_k‖² / 2σ_max²
  ≈ 5e-5). The ancestral grid is fine because that sampler is first order: for a Gaussian mode its
  variance comes out inflated by ≈ 1.07 h (h the log-step; +11.5 % with 100 levels 80 → 0.002,
  +5 to 7 % on the authors' 60-level grid, +2.0 to 2.8 % here), from V' = (1 − δ/V)² V + δ.
  """
  mixture, means, covs, rho = _three_mode_mixture()
  n = 4000
  out = sample(lambda x, s: gmm_denoiser(x, mixture, s), jax.random.PRNGKey(0), (n, 4), geometric_sigmas(*grid),
               method=method)
  s = np.asarray(out, np.float64)
  labels = np.asarray(gmm_posterior(out, mixture, 0.05).responsibilities).argmax(1)
  counts = np.bincount(labels, minlength=3)
  p = scipy.stats.chisquare(counts, rho * n).pvalue
  assert p > 1e-3, f"mode counts must pass a chi2 test against rho * n = {rho * n} (p > 1e-3), got {counts}, p = {p:.3g}"
  for k in range(3):
    sk = s[labels == k]
    nk = len(sk)
    var = np.diag(covs[k])
    mean_se = np.sqrt(var / nk)
    assert (np.abs(sk.mean(0) - means[k]) < 4 * mean_se).all(), (
        f"mode {k}: sample mean must lie within 4 SE of mu_k, got errors in SE {(sk.mean(0) - means[k]) / mean_se}")
    cov_se = np.sqrt((np.outer(var, var) + covs[k] ** 2) / nk)
    assert (np.abs(np.cov(sk.T) - covs[k]) < 4 * cov_se).all(), (
        f"mode {k}: sample covariance must lie within 4 SE of Sigma_k, got errors in SE\n"
        f"{(np.cov(sk.T) - covs[k]) / cov_se}")


# ------------------------------------------------------------------------------------------------
# 3. One Gaussian: the deterministic samplers solve the probability-flow ODE.


def _gaussian():
  rng = np.random.default_rng(1)
  d = 4
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))
  cov = q @ np.diag([2.0, 0.7, 0.2, 0.05]) @ q.T
  mu = np.array([0.5, -1.0, 0.3, 2.0])
  return mu, cov, rng


def _sqrtm(a):
  w, v = np.linalg.eigh(a)
  return (v * np.sqrt(w)) @ v.T


def _flow_error(method, num, smax=80.0, smin=0.01):
  """Errors of x(σ_min) and of the final sample against the exact solution: ‖a − b‖ / ‖b‖ per sample,
  the worst of 16 (float64)."""
  mu, cov, rng = _gaussian()
  d = mu.shape[0]
  x_t = mu + smax * rng.normal(size=(16, d))
  eye = np.eye(d)
  # x(σ) − μ = (Σ + σ²I)^{1/2} c solves dx/dσ = (x − D(x, σ))/σ = σ (Σ + σ²I)^{-1} (x − μ).
  exact = mu + (x_t - mu) @ (_sqrtm(cov + smin ** 2 * eye) @ np.linalg.inv(_sqrtm(cov + smax ** 2 * eye))).T
  final = np.asarray(wiener_denoiser(exact, mu, cov, smin))  # the last step: σ_min → 0 lands on D(x, σ_min)
  traj = sample_trajectory(lambda x, s: wiener_denoiser(x, mu, cov, s), None, (16, d),
                           geometric_sigmas(smax, smin, num, dtype=jnp.float64), method=method,
                           x_init=jnp.asarray(x_t), snapshot_sigmas=smin)
  chex.assert_type(traj.x, jnp.float64)
  assert float(traj.sigmas[0]) == smin, f"the snapshot must be at sigma_min = {smin}, got {float(traj.sigmas[0])}"
  rel = lambda a, b: float((np.linalg.norm(np.asarray(a) - b, axis=1) / np.linalg.norm(b, axis=1)).max())
  return rel(traj.x[0], exact), rel(traj.samples, final)


def test_heun_follows_the_gaussian_flow(x64):
  """Heun, 256 geometric levels 80 → 0.01: x(σ_min) and the final sample within 1e-3 relative
  (measured 1.9e-4); and halving the step cuts the error ≈ 4× (second order; measured 4.1)."""
  at_min, final = _flow_error("heun", 256)
  assert at_min < 1e-3 and final < 1e-3, (
      f"Heun must follow the flow within 1e-3 relative, got {at_min:.3g} at sigma_min and {final:.3g} at the end")
  coarse, fine = _flow_error("heun", 40)[0], _flow_error("heun", 79)[0]
  assert 3.0 < coarse / fine < 5.0, f"halving Heun's step must cut the error 3 to 5x (second order), got {coarse / fine:.3g}x"


def test_euler_follows_the_gaussian_flow(x64):
  """DDIM / Euler, 8000 levels 80 → 0.01: within 1e-3 relative (measured 3.3e-4; first order, so
  2000 levels give 1.3e-3)."""
  at_min, final = _flow_error("euler", 8000)
  assert at_min < 1e-3 and final < 1e-3, (
      f"Euler must follow the flow within 1e-3 relative, got {at_min:.3g} at sigma_min and {final:.3g} at the end")


# ------------------------------------------------------------------------------------------------
# The update formulas, step by step, against a NumPy float64 transcription.


def _reference(method, key, x0, sigmas, denoise, clamp=None):
  """The module docstring's formulas in float64; ancestral noise from fold_in(split(key)[1], i)."""
  x = np.asarray(x0, np.float64)
  clipped = False
  k_steps = jax.random.split(key)[1]
  for i in range(len(sigmas) - 1):
    s, t = float(sigmas[i]), float(sigmas[i + 1])
    den = denoise(x, s)
    if t == 0:
      x = den
    elif method == "ancestral":
      delta = s * s - t * t
      z = np.asarray(jax.random.normal(jax.random.fold_in(k_steps, i), x.shape, jnp.float32), np.float64)
      x = x + delta * (den - x) / s ** 2 + np.sqrt(delta) * z
    elif method == "euler":
      x = x + (1 - t / s) * (den - x)
    else:
      slope = (x - den) / s
      x_euler = x + (t - s) * slope
      slope2 = (x_euler - denoise(x_euler, t)) / t
      x = x + (t - s) * (slope + slope2) / 2
    if clamp is not None:
      clipped = clipped or bool(((x < clamp[0]) | (x > clamp[1])).any())
      x = np.clip(x, *clamp)
  return x, clipped


@pytest.mark.parametrize("method", METHODS)
def test_steps_match_the_formulas(method):
  """Float32 sampler vs float64 transcription on a 12-level grid, from the key's starting noise,
  with a σ-dependent denoiser and a clamp that binds: within 1e-5 (float32 rounding over 12 steps)."""
  key = jax.random.PRNGKey(5)
  sigmas = geometric_sigmas(3.0, 0.05, 12)
  x0 = 3.0 * jax.random.normal(jax.random.split(key)[0], (64, 5))  # σ₀ N(0, I) from split(key)[0]
  clamp = (-2.5, 2.5)
  x_init = None if method == "ancestral" else x0  # (the key-derived start costs a compile of the PRNG)
  got = sample(shrink, key, (64, 5), sigmas, method=method, clamp=clamp, x_init=x_init)
  want, clipped = _reference(method, key, x0, np.asarray(sigmas, np.float64), shrink, clamp)
  assert clipped, "set-up: the clamp (-2.5, 2.5) must bind somewhere in the reference run"
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5,
                             err_msg=f"{method}: float32 sampler must match the float64 formulas")


def test_different_denoisers_are_not_cached_together():
  """Two calls with different denoisers (same everything else) each get their own answer."""
  sigmas = geometric_sigmas(2.0, 0.1, 5)
  x0 = jnp.ones((2, 3))
  for a in (0.5, 0.9, 0.5):
    got = sample(lambda x, s: a * x, None, (2, 3), sigmas, method="euler", x_init=x0)
    want, _ = _reference("euler", jax.random.PRNGKey(0), x0, np.asarray(sigmas, np.float64), lambda x, s: a * x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6,
                               err_msg=f"denoiser a*x with a={a} must not reuse another denoiser's compilation")


# ------------------------------------------------------------------------------------------------
# 4. Reproducibility and the trajectory.


def test_same_key_same_samples_other_key_other_samples():
  sigmas = geometric_sigmas(*GRID60)
  a = sample(shrink, jax.random.PRNGKey(0), (32, 6), sigmas)
  b = sample(shrink, jax.random.PRNGKey(0), (32, 6), sigmas)
  c = sample(shrink, jax.random.PRNGKey(1), (32, 6), sigmas)
  assert np.array_equal(a, b), "the same key must give bit-identical samples"
  assert not np.allclose(a, c), "another key must give other samples"
  traj = sample_trajectory(shrink, jax.random.PRNGKey(0), (32, 6), sigmas, snapshot_steps=[0])
  # sample_trajectory's run is sample's, bit for bit
  assert np.array_equal(traj.samples, a), "sample_trajectory's samples must equal sample's bit for bit"


@pytest.mark.parametrize("method", METHODS)
def test_trajectory_final_samples_equal_sample_bit_for_bit(method):
  """With f_emp (a streamed, fused denoiser), a clamp and a hook: identical bits (the x_init = None
  path is compared in the test above)."""
  train = jax.random.normal(jax.random.PRNGKey(1), (40, 8))
  denoise = lambda x, s: empirical_denoiser(x, train, s)
  hook = lambda i, s, t, x, den: 0.99 * den
  sigmas = geometric_sigmas(2.0, 0.05, 15)
  x0 = 2.0 * jax.random.normal(jax.random.PRNGKey(3), (24, 8))
  kw = dict(method=method, clamp=(-2.0, 2.0), step_hook=hook)
  traj = sample_trajectory(denoise, jax.random.PRNGKey(4), (24, 8), sigmas, x_init=x0, snapshot_steps=[0, 7], **kw)
  assert isinstance(traj, Trajectory), f"expected a Trajectory, got {type(traj).__name__}"
  # the first snapshot at σ₀ is x_init
  assert np.array_equal(traj.x[0], x0), "the first snapshot (at sigma_0) must be x_init"
  assert np.array_equal(sample(denoise, jax.random.PRNGKey(4), (24, 8), sigmas, x_init=x0, **kw), traj.samples), (
      f"{method}: sample_trajectory's samples must equal sample's bit for bit")
  np.testing.assert_allclose(traj.denoised[0], hook(0, 2.0, 0.0, x0, denoise(x0, sigmas[0])), rtol=1e-5, atol=1e-6,
                             err_msg="the first recorded prediction must be the hooked denoiser output at sigma_0")


@pytest.mark.parametrize("method", METHODS)
def test_the_python_loop_takes_the_scans_steps(method):
  """loop="python" (one jitted step called per level) gives the scan's samples up to rounding,
  with a clamp and a hook, from x_init and from the key's own start."""
  train = jax.random.normal(jax.random.PRNGKey(1), (40, 8))
  denoise = lambda x, s: empirical_denoiser(x, train, s)
  hook = lambda i, s, t, x, den: 0.99 * den
  sigmas = geometric_sigmas(2.0, 0.05, 15)
  kw = dict(method=method, clamp=(-2.0, 2.0), step_hook=hook)
  for x_init in (None, 2.0 * jax.random.normal(jax.random.PRNGKey(3), (24, 8))):
    scan = sample(denoise, jax.random.PRNGKey(4), (24, 8), sigmas, x_init=x_init, **kw)
    python = sample(denoise, jax.random.PRNGKey(4), (24, 8), sigmas, x_init=x_init, loop="python", **kw)
    np.testing.assert_allclose(python, scan, rtol=1e-5, atol=1e-5,
                               err_msg=f"{method}: the Python loop must take the scan's steps")


def test_trajectory_snapshots_snap_to_the_grid():
  sigmas = geometric_sigmas(*GRID60)
  g = np.asarray(sigmas)
  kw = dict(method="euler", x_init=jnp.arange(12.0).reshape(4, 3))
  traj = sample_trajectory(shrink, None, (4, 3), sigmas, snapshot_sigmas=[g[5] * 1.01, 1e-9, g[0], g[5], 100.0], **kw)
  np.testing.assert_array_equal(traj.steps, [0, 5, 59],  # sorted by step, repeats dropped
                                err_msg="snapshot sigmas must snap to steps 0, 5, 59, sorted, repeats dropped")
  np.testing.assert_array_equal(traj.sigmas, g[[0, 5, 59]],  # 1e-9 → σ_min, 100 → σ_max
                                err_msg="snapshot sigmas must be grid levels (1e-9 -> sigma_min, 100 -> sigma_max)")
  chex.assert_shape([traj.x, traj.denoised], (3, 4, 3))
  assert traj.aux is None, f"without has_aux there must be no aux, got {traj.aux}"
  every = sample_trajectory(shrink, None, (4, 3), sigmas, **kw)
  chex.assert_shape(every.x, (60, 4, 3))
  np.testing.assert_array_equal(every.steps, np.arange(60), err_msg="by default every step is recorded")
  assert np.array_equal(every.x[np.array([0, 5, 59])], traj.x) and np.array_equal(every.samples, traj.samples), (
      "selected snapshots and samples must equal those of the full trajectory bit for bit")
  # The last step lands on the last recorded prediction.
  assert np.array_equal(every.samples, every.denoised[-1]), "the samples must be the last recorded prediction"


def test_sample_under_a_users_jit():
  """Wrapped in jax.jit over the key (to reuse one compilation; the checks run at trace time)."""
  sigmas = geometric_sigmas(*GRID60)
  draw = jax.jit(lambda key: sample(shrink, key, (16, 5), sigmas))
  for seed in (3, 4):
    key = jax.random.PRNGKey(seed)
    x0 = 2.0 * jax.random.normal(jax.random.split(key)[0], (16, 5))
    want, _ = _reference("ancestral", key, x0, np.asarray(sigmas, np.float64), shrink)
    np.testing.assert_allclose(draw(key), want, rtol=1e-5, atol=1e-5,
                               err_msg=f"jitted sampler (seed {seed}) must match the float64 formulas")


# ------------------------------------------------------------------------------------------------
# 5. The step hook.


@pytest.mark.parametrize("method", METHODS)
def test_identity_hook_changes_nothing(method):
  sigmas = geometric_sigmas(*GRID60)
  x0 = jnp.linspace(-4.0, 4.0, 80).reshape(16, 5)
  a = sample(shrink, jax.random.PRNGKey(0), (16, 5), sigmas, method=method, x_init=x0)
  b = sample(shrink, jax.random.PRNGKey(0), (16, 5), sigmas, method=method, x_init=x0,
             step_hook=lambda i, s, t, x, den: den)
  assert np.array_equal(a, b), f"{method}: the identity hook must change no bit"


def test_constant_hook_makes_euler_end_at_the_constant():
  c = jnp.linspace(-1.0, 1.0, 5)
  hook = lambda i, s, t, x, den: jnp.broadcast_to(c, x.shape)
  out = sample(shrink, None, (16, 5), geometric_sigmas(*GRID60), method="euler", step_hook=hook,
               x_init=jnp.ones((16, 5)))
  assert np.array_equal(out, np.broadcast_to(c, (16, 5))), f"euler must end exactly at the hook's constant {c}"


def test_hook_sees_the_step_and_its_levels():
  """A hook returning σ (resp. the step index) everywhere: euler ends on σ_{N−2} (resp. N − 2)."""
  sigmas = geometric_sigmas(*GRID60)
  kw = dict(method="euler", x_init=jnp.ones((4, 3)))
  by_sigma = sample(shrink, None, (4, 3), sigmas, step_hook=lambda i, s, t, x, den: jnp.full_like(x, s), **kw)
  by_step = sample(shrink, None, (4, 3), sigmas, step_hook=lambda i, s, t, x, den: jnp.full_like(x, i.astype(x.dtype)),
                   **kw)
  by_next = sample(shrink, None, (4, 3), sigmas, step_hook=lambda i, s, t, x, den: jnp.full_like(x, t), **kw)
  assert (np.asarray(by_sigma) == np.asarray(sigmas)[-2]).all(), (
      f"a hook returning s must end on sigma_(N-2) = {np.asarray(sigmas)[-2]}, got {np.unique(np.asarray(by_sigma))}")
  assert (np.asarray(by_step) == 59.0).all(), (
      f"a hook returning i must end on step 59, got {np.unique(np.asarray(by_step))}")
  assert (np.asarray(by_next) == 0.0).all(), f"a hook returning t must end on 0, got {np.unique(np.asarray(by_next))}"


# ------------------------------------------------------------------------------------------------
# 7. Auxiliary outputs (e.g. a network's hidden code).


@pytest.mark.parametrize("method", ["heun"])
def test_aux_snapshots(method):
  w = jax.random.normal(jax.random.PRNGKey(1), (6, 9))

  def denoise(x, s):
    h = jax.nn.relu(jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST))  # (m, 9)
    return shrink(x, s), {"h": h, "sq": jnp.sum(x * x, axis=1), "sigma": s}

  sigmas = geometric_sigmas(*GRID60)
  x0 = 2.0 * jax.random.normal(jax.random.PRNGKey(2), (10, 6))
  traj = sample_trajectory(denoise, None, (10, 6), sigmas, method=method, has_aux=True, x_init=x0,
                           snapshot_steps=[0, 30, 59])
  chex.assert_shape([traj.aux["h"], traj.aux["sq"], traj.aux["sigma"]], [(3, 10, 9), (3, 10), (3,)])
  np.testing.assert_array_equal(traj.aux["sigma"], traj.sigmas, err_msg="aux sigma must be the snapshot levels")
  want_h = jax.nn.relu(jnp.matmul(traj.x, w, precision=jax.lax.Precision.HIGHEST))
  np.testing.assert_allclose(traj.aux["h"], want_h, rtol=1e-5, atol=1e-5, err_msg="aux code at each snapshot")
  np.testing.assert_allclose(traj.aux["sq"], jnp.sum(traj.x ** 2, axis=2), rtol=1e-5, err_msg="aux |x|^2")
  plain = sample(lambda x, s: denoise(x, s)[0], None, (10, 6), sigmas, method=method, x_init=x0)
  assert np.array_equal(plain, traj.samples), "has_aux must not change the samples"


# ------------------------------------------------------------------------------------------------
# 6. Bad input raises ValueError naming the argument, before anything is compiled.


def _ok():
  return dict(denoise=shrink, key=jax.random.PRNGKey(0), shape=(4, 3), sigmas=[2.0, 1.0, 0.5, 0.0])


def _as_tuple(x, s):
  return shrink(x, s), x


BAD = [
    ("sigmas", dict(sigmas=[[2.0, 1.0, 0.0]])),                 # not 1-D
    ("sigmas", dict(sigmas=[1.0, 2.0, 0.0])),                   # not decreasing
    ("sigmas", dict(sigmas=[2.0, 1.0, 1.0, 0.0])),              # not strictly decreasing
    ("sigmas", dict(sigmas=np.array([1.0, 1.0 - 1e-12, 0.0]))),  # equal once cast to float32
    ("sigmas", dict(sigmas=[2.0, -1.0, -2.0])),                 # negative
    ("sigmas", dict(sigmas=[2.0, 1.0, 0.1])),                   # does not end in 0
    ("sigmas", dict(sigmas=[0.0])),                             # fewer than 2 levels
    ("sigmas", dict(sigmas=[np.nan, 1.0, 0.0])),
    ("shape", dict(shape=(0, 3))),                              # no samples
    ("shape", dict(shape=(4, -3))),
    ("shape", dict(shape=(4,))),
    ("shape", dict(shape=(4, 3.0))),
    ("shape", dict(shape=(True, 3))),
    ("shape", dict(shape=12)),
    ("x_init", dict(x_init=jnp.zeros((4, 2)))),
    ("x_init", dict(x_init=jnp.zeros((12,)))),
    ("x_init", dict(x_init=jnp.full((4, 3), jnp.nan))),
    ("method", dict(method="ddpm")),
    ("clamp", dict(clamp=(1.0, -1.0))),
    ("clamp", dict(clamp=(1.0, 1.0))),
    ("clamp", dict(clamp=(0.0,))),
    ("clamp", dict(clamp=(-1.0, np.inf))),
    ("clamp", dict(clamp="[-1, 1]")),
    ("denoise", dict(denoise=lambda x, s: x[:, :2])),          # output shape differs from input
    ("denoise", dict(denoise=lambda x, s: x.sum(0))),
    ("denoise", dict(denoise=lambda x, s: x.astype(jnp.int32))),
    ("denoise", dict(denoise="f_emp")),
    ("denoise", dict(denoise=lambda x, s: x * float(s))),      # needs a concrete σ
    ("denoise.*has_aux", dict(denoise=_as_tuple)),             # a tuple without has_aux
    ("step_hook", dict(step_hook=lambda i, s, t, x, den: den[0])),
    ("step_hook", dict(step_hook=3)),
    ("key", dict(key=None)),                                   # ancestral needs noise
    ("key", dict(key=None, method="euler")),                   # no x_init: the start is random
    ("key", dict(key=jnp.zeros((3, 2), jnp.uint32))),
    ("key", dict(key=[0, 1])),
]


@pytest.mark.parametrize("match, change", BAD, ids=[f"{m.split('.')[0]}-{i}" for i, (m, _) in enumerate(BAD)])
def test_bad_input_raises_before_compiling(match, change, monkeypatch):
  monkeypatch.setattr(smp, "_run", lambda *a, **k: pytest.fail("compiled before the checks raised"))
  args = {**_ok(), **change}
  with pytest.raises(ValueError, match=match):
    sample(args.pop("denoise"), args.pop("key"), args.pop("shape"), args.pop("sigmas"), **args)
  args = {**_ok(), **change}
  with pytest.raises(ValueError, match=match):
    sample_trajectory(args.pop("denoise"), args.pop("key"), args.pop("shape"), args.pop("sigmas"), **args)


BAD_TRAJECTORY = [
    ("denoise.*has_aux", dict(has_aux=True)),                  # has_aux but an array comes back
    ("denoise.*has_aux", dict(has_aux=True, denoise=lambda x, s: (x, x, x))),
    ("denoise", dict(has_aux=True, denoise=lambda x, s: (x[:, 0], x))),
    ("has_aux", dict(has_aux=1)),
    ("snapshot_steps", dict(snapshot_steps=[3])),               # step 3 is σ = 0: Trajectory.samples
    ("snapshot_steps", dict(snapshot_steps=[-1])),
    ("snapshot_steps", dict(snapshot_steps=[])),
    ("snapshot_steps", dict(snapshot_steps=[0.5])),
    ("snapshot_sigmas", dict(snapshot_sigmas=[0.0])),
    ("snapshot_sigmas", dict(snapshot_sigmas=[-1.0, 1.0])),
    ("snapshot_sigmas", dict(snapshot_sigmas=[1.0], snapshot_steps=[1])),
]


@pytest.mark.parametrize("match, change", BAD_TRAJECTORY,
                         ids=[f"{m.split('.')[0]}-{i}" for i, (m, _) in enumerate(BAD_TRAJECTORY)])
def test_bad_trajectory_input_raises_before_compiling(match, change, monkeypatch):
  monkeypatch.setattr(smp, "_run", lambda *a, **k: pytest.fail("compiled before the checks raised"))
  args = {**_ok(), **change}
  with pytest.raises(ValueError, match=match):
    sample_trajectory(args.pop("denoise"), args.pop("key"), args.pop("shape"), args.pop("sigmas"), **args)


@pytest.mark.parametrize("match, args", [
    ("sigma_max", (0.02, 2.0, 60)),
    ("sigma_max", (2.0, 2.0, 60)),
    ("sigma_min", (2.0, 0.0, 60)),
    ("sigma_max", (np.inf, 0.02, 60)),
    ("num", (2.0, 0.02, 1)),
    ("num", (2.0, 0.02, 60.0)),
    ("num", (1.0, 1.0 - 1e-9, 3)),  # levels not distinct in float32
])
def test_geometric_sigmas_bad_input(match, args):
  with pytest.raises(ValueError, match=match):
    geometric_sigmas(*args)
  with pytest.raises(ValueError, match="dtype"):
    geometric_sigmas(2.0, 0.02, 60, dtype=jnp.int32)
