"""The exact population loss: eq. (6) with the noise expectation E_ε done in closed form.

For one clean sample x the pre-activations of the ReLU-DAE (eq. 5) on a noisy input are Gaussian,

    u = W1ᵀ(x + σε) ~ N(m, C),   m = W1ᵀx,   C = σ² W1ᵀW1,
    s_j = σ‖w_j‖,   ρ_jk = cos(w_j, w_k),   a_j = m_j / s_j,

so E_ε‖W2 u₊ − x‖² depends only on the mean μ = E[u₊] and the covariance K = Cov(u₊) of the
rectified Gaussian:

    E_ε‖W2 u₊ − x‖² = ‖W2 μ − x‖² + Σ_jk (W2ᵀW2)_jk K_jk
                    ( = Σ_jk (W2ᵀW2)_jk E[u_j₊u_k₊] − 2 xᵀW2 μ + ‖x‖² ).

Moments (φ, Φ standard normal pdf/cdf, Φ₂ the bivariate normal cdf, r = √(1 − ρ²)):

    E[u₊]       = m Φ(a) + s φ(a)
    E[u₊²]      = (m² + s²) Φ(a) + m s φ(a)
    E[u_j₊u_k₊] = (m_j m_k + ρ s_j s_k) Φ₂(a_j, a_k; ρ)
                  + m_k s_j φ(a_j) Φ(b_kj) + m_j s_k φ(a_k) Φ(b_jk) + s_j s_k r φ(a_j) φ(b_kj),
                  b_kj = (a_k − ρ a_j) / r,   b_jk = (a_j − ρ a_k) / r

(the last from Rosenbaum's (1961) moments of the truncated bivariate normal, substituted back to
u = m + s z). A zero column (s_j = 0) has u_j = 0 deterministically; at ρ = ±1 (parallel or
antipodal columns) Φ(b) becomes a step (½ where the numerator is 0, which is the limit for exactly
parallel columns) and the r-terms vanish.

Numerics. The uncentred form above cancels badly at a memorising minimiser (E[u_i₊²] ≈ ‖x_i‖²
against Var ≈ σ²‖w_i‖²), so the loss uses the centred form ‖W2μ − x‖² + Σ (W2ᵀW2)∘K with K computed
without the subtraction: Φ₂(a_j, a_k) − Φ(a_j)Φ(a_k) comes straight from the quadrature
(Genz's correlation integral), Φ(b) − Φ(a) is taken on the side where both are small. At W_mem
at paper scale (d = 1024, p = 100, n = 5, ‖x‖ ≈ 20, σ = 0.2, λ = 1e-3) float32 then agrees with
float64 to 3e-7 relative; the uncentred form was 5e-3 off.
Gradients come from a custom JVP (Price's theorem: ∂E[u_j₊u_k₊]/∂C_jk = Φ₂(a_j, a_k; ρ),
∂/∂C_jj = ½ p_{u_j}(0) E[u_k₊ | u_j = 0]) that stays finite and exact at ρ = ±1, where
differentiating the closed form term by term divides by r.

Cost: O(n (d p + p²)) with 40 Gauss–Legendre nodes per pair of units. Functions on one sample
are batched with ``jax.vmap``; ``population_loss`` does that over the rows of x.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from dae_theory._src import checks
from dae_theory._src.loss import _check_loss_args, weight_penalty
from dae_theory._src.model import HIGHEST, DAEParams

_TWO_PI = 2.0 * np.pi
_SQRT_2PI = float(np.sqrt(_TWO_PI))  # Python floats are weakly typed: float32 stays float32
_INV_SQRT_2PI = 1.0 / _SQRT_2PI
# Φ(−40) ≈ 4e-350 underflows in float64: clamping |h|, |k| (and the standardised means a) there
# changes no value and only zeroes derivatives that are below the smallest float anyway.
_CLAMP = 40.0
# Gauss–Legendre nodes on (0, 2) and weights (sum 2): Genz's 20-point rule, used for every |ρ|
# (TVPACK switches to 6 and 12 points for |ρ| < 0.3 and < 0.75; 20 is at least as accurate).
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)
_NODES = 1.0 + _GL_X
_WEIGHTS = _GL_W
_BIG_RHO = 0.925  # Genz: above this |ρ| the asin substitution loses accuracy; expand around ρ = ±1


def _phi(x):
  return jnp.exp(-0.5 * x * x) * _INV_SQRT_2PI


_Phi = jax.scipy.special.ndtr


@functools.cache
def _jit(fn):
  """One compiled wrapper per internal function (public entry points convert their inputs first)."""
  return jax.jit(fn)


def _float_args(*args):
  """Arrays of one floating dtype, broadcast to one shape (explicitly: rank promotion may raise)."""
  args = [np.asarray(a) if isinstance(a, (list, tuple)) else a for a in args]
  dtype = jnp.result_type(*args)
  if not jnp.issubdtype(dtype, jnp.floating):
    dtype = jnp.result_type(float)
  return jnp.broadcast_arrays(*(jnp.asarray(a, dtype) for a in args))


def _checked_float_args(names: tuple[str, ...], args, *, nonnegative=(), infinite_ok=()):
  """``_float_args`` after host checks: real entries, no NaN (no ±inf unless in ``infinite_ok``),
  ``nonnegative`` ones ≥ 0 (when concrete), and shapes that broadcast."""
  arrays = []
  for name, a in zip(names, args):
    a = checks.as_array(name, a)
    checks.check_array(name, a, ndim=a.ndim)
    if checks.is_concrete(a):
      v = np.asarray(a, np.float64)
      if np.isnan(v).any() or (name not in infinite_ok and np.isinf(v).any()):
        raise ValueError(f"{name} must be " + ("free of NaN" if name in infinite_ok else "finite")
                         + ", but it holds " + ("NaN" if name in infinite_ok else "NaN or inf"))
      if name in nonnegative and (v < 0).any():
        raise ValueError(f"{name} must be >= 0 (a standard deviation), got a minimum of {v.min()}")
    arrays.append(a)
  try:
    np.broadcast_shapes(*(np.shape(a) for a in arrays))
  except ValueError:
    shapes = ", ".join(str(tuple(np.shape(a))) for a in arrays)
    raise ValueError(f"{', '.join(names[:-1])} and {names[-1]} must broadcast to one shape, "
                     f"got shapes {shapes}") from None
  return _float_args(*arrays)


def _one_minus_sq_root(rho):
  """r = √(1 − ρ²) as √((1 − ρ)(1 + ρ)), and whether r > 0."""
  r = jnp.sqrt(jnp.maximum((1.0 - rho) * (1.0 + rho), 0.0))
  return r, r > 0


def _ratio(num, r, pos):
  """num / r, with the r → 0 limit ±inf (0 when num = 0) where r = 0."""
  inf = jnp.asarray(jnp.inf, num.dtype)
  limit = jnp.where(num > 0, inf, jnp.where(num < 0, -inf, jnp.zeros_like(num)))
  return jnp.where(pos, num / jnp.where(pos, r, 1.0), limit)


# ----------------------------------------------------------------------------------------------
# Bivariate normal cdf
# ----------------------------------------------------------------------------------------------


def _bvn_parts(h, k, rho):
  """(Φ₂(h, k; ρ), Φ₂(h, k; ρ) − Φ(h)Φ(k)) for same-shape arrays, |ρ| ≤ 1; no custom derivative.

  Genz (2004), "Numerical computation of rectangular bivariate and trivariate normal and t
  probabilities", Stat. Comput. 14: TVPACK's BVND, written for the upper orthant
  P(X > dh, Y > dk) with dh = −h, dk = −k. Both branches are evaluated and one is selected.
  """
  dtype = h.dtype
  h = jnp.clip(h, -_CLAMP, _CLAMP)
  k = jnp.clip(k, -_CLAMP, _CLAMP)
  shape1 = (1,) * h.ndim + (-1,)
  nodes = jnp.asarray(_NODES, dtype).reshape(shape1)
  weights = jnp.asarray(_WEIGHTS, dtype).reshape(shape1)
  col = lambda v: v[..., None]
  dh, dk = -h, -k

  # |ρ| < 0.925: Φ₂ − Φ(h)Φ(k) = (1/2π) ∫_0^{asin ρ} exp(−(h² + k² − 2hk sin θ) / (2 cos² θ)) dθ.
  small = jnp.abs(rho) < _BIG_RHO
  hk = dh * dk
  hs = 0.5 * (dh * dh + dk * dk)
  half_asin = 0.5 * jnp.arcsin(jnp.where(small, rho, 0.0))
  sn = jnp.sin(col(half_asin) * nodes)
  quad = jnp.sum(weights * jnp.exp((sn * col(hk) - col(hs)) / (1.0 - sn * sn)), axis=-1)
  diff_small = half_asin * quad / _TWO_PI

  # |ρ| ≥ 0.925: for ρ < 0 flip k (Y → −Y), integrate the remainder around ρ = 1 in x = √(1 − t²).
  neg = rho < 0
  kk = jnp.where(neg, -dk, dk)
  hk2 = dh * kk
  inner = jnp.abs(rho) < 1.0
  as_ = jnp.where(inner, (1.0 - rho) * (1.0 + rho), 1.0)  # ρ = ±1: the remainder is 0 (masked)
  a = jnp.sqrt(as_)
  bs = (dh - kk) ** 2
  c = (4.0 - hk2) / 8.0
  d = (12.0 - hk2) / 80.0
  rem = a * jnp.exp(-0.5 * (bs / as_ + hk2)) * (1.0 - c * (bs - as_) * (1.0 - d * bs) / 3.0 + c * d * as_ * as_)
  b = jnp.sqrt(bs)
  # One Φ evaluation for every tail needed (fewer copies of erfc to compile).
  cdf_h, cdf_k, sf_h, sf_k, tail_b = _Phi(jnp.stack([h, k, -h, -k, -b / a]))
  hk_ok = hk2 > -100.0
  tail = (jnp.exp(-0.5 * jnp.where(hk_ok, hk2, 0.0)) * _SQRT_2PI * tail_b * b
          * (1.0 - c * bs * (1.0 - d * bs) / 3.0))
  rem = rem - jnp.where(hk_ok, tail, 0.0)
  half_a = 0.5 * a
  xs = (col(half_a) * nodes) ** 2
  rs = jnp.sqrt(1.0 - xs)
  expo = -0.5 * (col(bs) / xs + col(hk2))  # ≤ 0 since bs/xs + hk ≥ h² − hk + k² ≥ 0
  ok = expo > -100.0
  expo = jnp.where(ok, expo, 0.0)
  ep = jnp.exp(expo - col(hk2) * xs / (2.0 * (1.0 + rs) ** 2)) / rs
  sp = jnp.exp(expo) * (1.0 + col(c) * xs * (1.0 + 5.0 * col(d) * xs))
  rem = rem + jnp.sum(jnp.where(ok, col(half_a) * weights * (ep - sp), 0.0), axis=-1)
  rem = jnp.where(inner, -rem / _TWO_PI, 0.0)

  # In Genz's variables: Φ(−dh) = Φ(h), Φ(dh) = Φ(−h); Φ(±kk) = Φ(∓k) for ρ > 0, Φ(±k) for ρ < 0.
  cdf_kk, sf_kk = jnp.where(neg, cdf_k, sf_k), jnp.where(neg, sf_k, cdf_k)  # Φ(kk), Φ(−kk)
  q_hi = jnp.minimum(cdf_h, sf_kk)  # Φ(−max(dh, kk))
  cdf_lo = jnp.minimum(sf_h, cdf_kk)  # Φ(min(dh, kk))
  between = jnp.where(dh < 0, cdf_kk - sf_h, cdf_h - sf_kk)  # Φ(−dh) − Φ(−kk), from the small tails
  p_big = jnp.where(~neg, q_hi + rem, jnp.where(dh >= kk, -rem, between - rem))
  diff_big = jnp.where(~neg, q_hi * cdf_lo + rem,
                       jnp.where(dh >= kk, -rem - cdf_h * cdf_kk, -sf_kk * sf_h - rem))

  p = jnp.clip(jnp.where(small, diff_small + cdf_h * cdf_k, p_big), 0.0, 1.0)
  return p, jnp.where(small, diff_small, diff_big)


@jax.custom_jvp
def _bvn_cdf(h, k, rho):
  return _bvn_parts(h, k, rho)[0]


@_bvn_cdf.defjvp
def _bvn_cdf_jvp(primals, tangents):
  h, k, rho = primals
  dh, dk, drho = tangents
  r, pos = _one_minus_sq_root(rho)
  b_kh = _ratio(k - rho * h, r, pos)
  b_hk = _ratio(h - rho * k, r, pos)
  # ∂Φ₂/∂h = φ(h) Φ((k − ρh)/r), ∂Φ₂/∂ρ = φ₂(h, k; ρ) = φ(h) φ((k − ρh)/r) / r (0 at |ρ| = 1).
  density = jnp.where(pos, _phi(h) * _phi(b_kh) / jnp.where(pos, r, 1.0), 0.0)
  tangent = _phi(h) * _Phi(b_kh) * dh + _phi(k) * _Phi(b_hk) * dk + density * drho
  return _bvn_cdf(h, k, rho), tangent


def bivariate_normal_cdf(h, k, rho) -> jax.Array:
  """Φ₂(h, k; ρ) = P(Z₁ ≤ h, Z₂ ≤ k) for standard normals with correlation ρ.

      Φ₂(h, k; ρ) = Φ(h)Φ(k) + (1/2π) ∫_0^ρ exp(−(h² − 2thk + k²) / (2(1 − t²))) / √(1 − t²) dt

  Genz's (2004) method (TVPACK ``BVND``): 20-point Gauss–Legendre quadrature of this integral in
  θ = asin t for |ρ| < 0.925, and of the remainder around ρ = ±1 after an asymptotic expansion
  above; ρ = ±1 exactly give Φ(min(h, k)) and max(0, Φ(h) − Φ(−k)). In float64 the absolute
  error against adaptive quadrature is ≤ 1e-15 over |h|, |k| ≤ 8, |ρ| ≤ 1 (tested to 1e-10 in
  tests/test_population.py); float32 inputs are computed in float32.

  Elementwise with broadcasting, jit-able. ρ is clipped to [−1, 1] (computed correlations round
  past it); |h|, |k| > 40 are clamped to 40 (no float64 value changes). Derivatives are exact
  (custom JVP): ∂/∂h = φ(h) Φ((k − ρh)/√(1−ρ²)), likewise in k, and ∂/∂ρ = φ₂(h, k; ρ), the
  bivariate density (taken as 0 at ρ = ±1, where it is a delta).

  Args:
    h, k: upper limits, broadcastable arrays.
    rho: correlation, broadcastable.

  Returns:
    Φ₂ in the common floating dtype and broadcast shape.
  """
  return _bvn_cdf_clipped(*_checked_float_args(("h", "k", "rho"), (h, k, rho), infinite_ok=("h", "k")))


@jax.jit
def _bvn_cdf_clipped(h, k, rho):
  return _bvn_cdf(jnp.clip(h, -_CLAMP, _CLAMP), jnp.clip(k, -_CLAMP, _CLAMP), jnp.clip(rho, -1.0, 1.0))


# ----------------------------------------------------------------------------------------------
# Moments of the rectified Gaussian
# ----------------------------------------------------------------------------------------------


def _std_ratio(m, s):
  """a = m/s (clamped to ±40) where s > 0, with a safe denominator; and the mask s > 0."""
  pos = s > 0
  s_safe = jnp.where(pos, s, 1.0)
  return jnp.clip(m / s_safe, -_CLAMP, _CLAMP), s_safe, pos


def _relu_mean(m, s):
  a, s_safe, pos = _std_ratio(m, s)
  return jnp.where(pos, m * _Phi(a) + s_safe * _phi(a), jax.nn.relu(m))


def _relu_second_moment(m, s):
  a, s_safe, pos = _std_ratio(m, s)
  return jnp.where(pos, (m * m + s_safe * s_safe) * _Phi(a) + m * s_safe * _phi(a), jax.nn.relu(m) ** 2)


def _relu_variance(m, s):
  """Var(u₊) = s² [a² Φ(a)Φ(−a) + Φ(a) + a φ(a)(Φ(−a) − Φ(a)) − φ(a)²], 0 at s = 0."""
  a, s_safe, pos = _std_ratio(m, s)
  cdf, sf, pdf = _Phi(a), _Phi(-a), _phi(a)
  var = s_safe * s_safe * (a * a * cdf * sf + cdf + a * pdf * (sf - cdf) - pdf * pdf)
  return jnp.where(pos, var, 0.0)


def relu_mean(m, s) -> jax.Array:
  """E[u₊] = m Φ(m/s) + s φ(m/s) for u ~ N(m, s²); m₊ at s = 0. Elementwise, s ≥ 0."""
  return _jit(_relu_mean)(*_checked_float_args(("m", "s"), (m, s), nonnegative=("s",)))


def relu_second_moment(m, s) -> jax.Array:
  """E[u₊²] = (m² + s²) Φ(m/s) + m s φ(m/s) for u ~ N(m, s²); m₊² at s = 0. Elementwise, s ≥ 0."""
  return _jit(_relu_second_moment)(*_checked_float_args(("m", "s"), (m, s), nonnegative=("s",)))


def _relu_cov_parts(m1, m2, s1, s2, rho):
  """Cov(u1₊, u2₊) for s1, s2 > 0, |ρ| ≤ 1 (same shapes), and the pieces of its derivative."""
  a1 = jnp.clip(m1 / s1, -_CLAMP, _CLAMP)
  a2 = jnp.clip(m2 / s2, -_CLAMP, _CLAMP)
  r, pos = _one_minus_sq_root(rho)
  d21, d12 = a2 - rho * a1, a1 - rho * a2
  b21, b12 = _ratio(d21, r, pos), _ratio(d12, r, pos)
  # One Φ evaluation for all the tails (fewer copies of erfc to compile).
  p21, p12, q21, q12, big1, big2, sf1, sf2 = _Phi(jnp.stack([b21, b12, -b21, -b12, a1, a2, -a1, -a2]))
  g21, g12 = r * _phi(b21), r * _phi(b12)  # r φ(b); 0 at r = 0 (φ(±inf) = 0)
  f1, f2 = _phi(a1), _phi(a2)
  both, both_c = _bvn_parts(a1, a2, rho)  # Φ₂(a1, a2; ρ) and Φ₂ − Φ(a1)Φ(a2)
  # Φ(b) − Φ(a) from the tails on the side where both are small (no cancellation of 1s).
  e21 = jnp.where(b21 + a2 > 0, sf2 - q21, p21 - big2)  # Φ(b21) − Φ(a2)
  e12 = jnp.where(b12 + a1 > 0, sf1 - q12, p12 - big1)  # Φ(b12) − Φ(a1)
  cov = (m1 * m2 * both_c + rho * s1 * s2 * both + m2 * s1 * f1 * e21 + m1 * s2 * f2 * e12
         + s1 * s2 * f1 * (g21 - f2))
  return cov, (a1, a2, d21, d12, p21, p12, g21, g12, f1, f2, big1, big2, e21, e12, both, both_c)


@jax.custom_jvp
def _relu_cov(m1, m2, s1, s2, rho):
  return _relu_cov_parts(m1, m2, s1, s2, rho)[0]


@_relu_cov.defjvp
def _relu_cov_jvp(primals, tangents):
  """Price's theorem for E[u1₊u2₊] minus the product rule for E[u1₊]E[u2₊] (∂μ/∂m = Φ(a), ∂μ/∂s = φ(a)).

  ∂E/∂m1 = E[1{u1>0} u2₊] = m2 Φ₂ + s2 (φ(a2)Φ(b12) + ρ φ(a1)Φ(b21));
  ∂E/∂s1 (ρ fixed) = φ(a1) E[u2₊ | u1 = 0] + ρ s2 Φ₂,  E[u2₊ | u1 = 0] = s2 (d21 Φ(b21) + r φ(b21));
  ∂E/∂ρ = s1 s2 Φ₂.
  """
  m1, m2, s1, s2, rho = primals
  dm1, dm2, ds1, ds2, drho = tangents
  cov, (a1, a2, d21, d12, p21, p12, g21, g12, f1, f2, big1, big2, e21, e12, both, both_c) = _relu_cov_parts(*primals)
  c_m1 = m2 * both_c + s2 * f2 * e12 + rho * s2 * f1 * p21
  c_m2 = m1 * both_c + s1 * f1 * e21 + rho * s1 * f2 * p12
  c_s1 = f1 * s2 * (d21 * p21 + g21 - a2 * big2 - f2) + rho * s2 * both
  c_s2 = f2 * s1 * (d12 * p12 + g12 - a1 * big1 - f1) + rho * s1 * both
  c_rho = s1 * s2 * both
  return cov, c_m1 * dm1 + c_m2 * dm2 + c_s1 * ds1 + c_s2 * ds2 + c_rho * drho


def _relu_cross_covariance(m1, m2, s1, s2, rho):
  """Cov(u1₊, u2₊) on same-shape arrays; 0 where either s is 0 (that u is constant)."""
  both = (s1 > 0) & (s2 > 0)
  cov = _relu_cov(m1, m2, jnp.where(both, s1, 1.0), jnp.where(both, s2, 1.0), jnp.clip(rho, -1.0, 1.0))
  return jnp.where(both, cov, 0.0)


def relu_cross_moment(m1, m2, s1, s2, rho) -> jax.Array:
  """E[u1₊ u2₊] for (u1, u2) Gaussian with means m, standard deviations s ≥ 0, correlation ρ.

      E[u1₊u2₊] = (m1 m2 + ρ s1 s2) Φ₂(a1, a2; ρ) + m2 s1 φ(a1) Φ(b21) + m1 s2 φ(a2) Φ(b12)
                  + s1 s2 √(1−ρ²) φ(a1) φ(b21),
      a_i = m_i/s_i,  b21 = (a2 − ρ a1)/√(1−ρ²),  b12 = (a1 − ρ a2)/√(1−ρ²).

  Rosenbaum's (1961) truncated-bivariate-normal moments in u = m + s z. Where s1 or s2 is 0 that
  u is constant and the moment is E[u1₊]E[u2₊]; at ρ = ±1 the limit is taken (Φ(b) a step).
  Computed as Cov(u1₊, u2₊) + E[u1₊]E[u2₊] with the covariance free of cancellation; exact,
  finite derivatives everywhere with s > 0 (custom JVP, Price's theorem). Elementwise with
  broadcasting, jit-able.
  """
  return _jit(_relu_cross_moment)(*_checked_float_args(("m1", "m2", "s1", "s2", "rho"), (m1, m2, s1, s2, rho),
                                                       nonnegative=("s1", "s2")))


def _relu_cross_moment(m1, m2, s1, s2, rho):
  return _relu_cross_covariance(m1, m2, s1, s2, rho) + _relu_mean(m1, s1) * _relu_mean(m2, s2)


# ----------------------------------------------------------------------------------------------
# Per-sample moments and error, the loss
# ----------------------------------------------------------------------------------------------


class HiddenMoments(NamedTuple):
  """Moments of the hidden code h = [W1ᵀ(x + σε)]₊ over ε ~ N(0, I) for one clean sample x.

  Attributes:
    mean: (p,) E[h_j].
    cov: (p, p) Cov(h_j, h_k); a zero column has a zero row and column.
  """

  mean: jax.Array
  cov: jax.Array

  @property
  def second(self) -> jax.Array:
    """(p, p) E[h_j h_k] = cov + mean meanᵀ."""
    return self.cov + self.mean[:, None] * self.mean[None, :]


def _column_geometry(w1):
  """Column norms (p,) and pairwise cosines (p, p): 0 on the diagonal and for zero columns."""
  sq = jnp.sum(w1 * w1, axis=0)
  nz = sq > 0
  norm = jnp.where(nz, jnp.sqrt(jnp.where(nz, sq, 1.0)), 0.0)
  p = w1.shape[1]
  pair = nz[:, None] & nz[None, :] & ~jnp.eye(p, dtype=bool)
  gram = jnp.matmul(w1.T, w1, precision=HIGHEST)
  denom = jnp.where(pair, norm[:, None] * norm[None, :], 1.0)
  return norm, jnp.where(pair, jnp.clip(gram / denom, -1.0, 1.0), 0.0)


def _hidden_moments(params: DAEParams, x, sigma) -> HiddenMoments:
  norm, rho = _column_geometry(params.w1)
  m = jnp.dot(x, params.w1, precision=HIGHEST)
  s = sigma * norm
  p = m.shape[0]
  mj, mk = jnp.broadcast_arrays(m[:, None], m[None, :])
  sj, sk = jnp.broadcast_arrays(s[:, None], s[None, :])
  off = _relu_cross_covariance(mj, mk, sj, sk, rho)
  var = _relu_variance(m, s)
  eye = jnp.eye(p, dtype=bool)
  return HiddenMoments(_relu_mean(m, s), jnp.where(eye, jnp.diag(var), off))


def _population_error(params: DAEParams, x, sigma):
  mom = _hidden_moments(params, x, sigma)
  w2 = params.decoder
  resid = jnp.dot(w2, mom.mean, precision=HIGHEST) - x
  gram2 = jnp.matmul(w2.T, w2, precision=HIGHEST)
  return jnp.sum(resid * resid) + jnp.sum(gram2 * mom.cov)


_hidden_moments_jit = jax.jit(_hidden_moments)
_population_error_jit = jax.jit(_population_error)


def _check_params(params) -> None:
  if not isinstance(params, DAEParams):
    raise ValueError(f"params must be a DAEParams, got {type(params).__name__}")
  checks.check_array("params.w1", params.w1, ndim=2)
  checks.check_finite("params.w1", params.w1)
  if params.w2 is not None:
    if tuple(params.w2.shape) != tuple(params.w1.shape):
      raise ValueError(f"params.w2 must have the shape of params.w1 {tuple(params.w1.shape)}, "
                       f"got {tuple(params.w2.shape)}")
    checks.check_finite("params.w2", params.w2)


def hidden_moments(params: DAEParams, x_i, sigma) -> HiddenMoments:
  """Mean and covariance of the hidden code [W1ᵀ(x_i + σε)]₊ over ε ~ N(0, I_d), in closed form.

  u = W1ᵀ(x_i + σε) ~ N(W1ᵀx_i, σ²W1ᵀW1); see the module docstring for the moments.

  Args:
    params: ReLU-DAE weights, w1 of shape (d, p).
    x_i: one clean sample, (d,) (vmap for batches).
    sigma: noise level σ > 0.

  Returns:
    ``HiddenMoments`` with mean (p,) and cov (p, p).
  """
  return _hidden_moments_jit(params, _check_one_sample(params, x_i, sigma), sigma)


def _check_one_sample(params, x_i, sigma) -> jax.Array:
  """Checks (params, one sample x_i (d,), σ > 0) before tracing; returns x_i as an array."""
  _check_params(params)
  x_i = checks.check_array("x_i", x_i, ndim=1)
  checks.check_dim("x_i", x_i, 0, params.w1.shape[0], "the input dimension d of params.w1")
  checks.check_finite("x_i", x_i)
  checks.check_scalar("sigma", sigma, positive=True)
  return jnp.asarray(x_i)


def population_error(params: DAEParams, x_i, sigma) -> jax.Array:
  """E_ε‖f(x_i + σε) − x_i‖² for one clean sample, ε ~ N(0, I_d), in closed form (eq. 6's data term).

      E_ε‖W2 u₊ − x‖² = ‖W2 μ − x‖² + Σ_jk (W2ᵀW2)_jk Cov(u_j₊, u_k₊),   μ = E[u₊],
      u = W1ᵀ(x + σε) ~ N(W1ᵀx, σ² W1ᵀW1).

  Args:
    params: ReLU-DAE weights (tied or untied), (d, p).
    x_i: one clean sample, (d,) (vmap for batches).
    sigma: noise level σ > 0.

  Returns:
    The scalar expected squared error.
  """
  return _population_error_jit(params, _check_one_sample(params, x_i, sigma), sigma)


@jax.jit
def _population_loss(params, x, sigma, lam, weights):
  per_sample = jax.vmap(_population_error, in_axes=(None, 0, None))(params, x, sigma)
  if weights is None:
    data = jnp.mean(per_sample)
  else:
    weights = jnp.asarray(weights, per_sample.dtype)
    data = jnp.sum(weights * per_sample) / jnp.sum(weights)
  return data + lam * weight_penalty(params)


def population_loss(params: DAEParams, x, sigma, lam, *, weights=None) -> jax.Array:
  """Eq. (6) with the expectation over ε exact: (1/n) Σ_i E_ε‖f(x_i + σε) − x_i‖² + λ Σ_l ‖W_l‖²_F.

  The per-sample term is ``population_error`` (closed form through Φ, φ and Φ₂; module
  docstring); a tied W is penalised on both sides (``weight_penalty``). Same arguments and
  conventions as ``dae_loss``; where that estimates the expectation from noise draws, this is its
  limit. O(n (d p + p²)) work; jit-able and differentiable (finite gradients with zero columns,
  identical or antipodal columns; at a zero column of a tied W the gradient is 0, the loss being
  homogeneous of degree 2 there).

  Args:
    params: ReLU-DAE weights, (d, p), tied or untied.
    x: clean training samples, (n, d).
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0 (paper convention).
    weights: optional (n,) non-negative sample weights; the data term becomes Σ_i w_i e_i / Σ_i w_i.

  Returns:
    The scalar loss.
  """
  _check_params(params)
  x, _ = _check_loss_args(params, x, None, sigma, lam, weights)
  return _population_loss(params, jnp.asarray(x), sigma, lam, weights)


# ----------------------------------------------------------------------------------------------
# Minimising the exact loss
# ----------------------------------------------------------------------------------------------


class PopulationMinimum(NamedTuple):
  """Result of ``minimize_population_loss``.

  Attributes:
    params: the final ``DAEParams`` (same structure and dtype as the start).
    loss: population loss there.
    grad_norm: Euclidean norm of its gradient over all weights.
    iterations: L-BFGS iterations taken.
    converged: grad_norm ≤ gtol.
  """

  params: DAEParams
  loss: float
  grad_norm: float
  iterations: int
  converged: bool


@functools.partial(jax.jit, static_argnames=("memory_size",))
def _lbfgs(params, x, sigma, lam, gtol, max_iter, *, memory_size: int):
  fun = lambda w: _population_loss(w, x, sigma, lam, None)
  opt = optax.lbfgs(memory_size=memory_size)  # default: zoom line search (strong Wolfe)
  value_and_grad = optax.value_and_grad_from_state(fun)

  def step(carry):
    w, state = carry
    value, grad = value_and_grad(w, state=state)
    updates, state = opt.update(grad, state, w, value=value, grad=grad, value_fn=fun)
    return optax.apply_updates(w, updates), state

  def keep_going(carry):
    _, state = carry
    count = otu.tree_get(state, "count")
    return (count == 0) | ((count < max_iter) & (otu.tree_norm(otu.tree_get(state, "grad")) > gtol))

  w, state = jax.lax.while_loop(keep_going, step, (params, opt.init(params)))
  # The line search leaves the value and gradient at the accepted iterate in the state.
  return w, otu.tree_get(state, "value"), otu.tree_norm(otu.tree_get(state, "grad")), otu.tree_get(state, "count")


def minimize_population_loss(params: DAEParams, x, sigma, lam, *, gtol: float = 1e-9, max_iter: int = 1000,
                             memory_size: int = 10) -> PopulationMinimum:
  """Local minimiser of ``population_loss`` from ``params`` by L-BFGS (``optax.lbfgs``, zoom line search).

  Runs in the dtype of the inputs (call under ``jax.enable_x64(True)`` for float64). Stops when
  the gradient norm ‖∇L‖₂ over all weights is at most ``gtol`` or after ``max_iter`` iterations,
  and warns (``RuntimeWarning``) when it is still above ``gtol``. A zero column of a tied W has
  zero gradient and stays exactly zero. Compiled once per shape, dtype and ``memory_size``.

  Args:
    params: starting weights, (d, p), tied or untied.
    x: (n, d) training samples.
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0.
    gtol: absolute tolerance on the gradient norm (float64: 1e-9 is reached in ~30 iterations on
      the tests' memorisation geometries, whose losses are O(1)).
    max_iter: iteration cap.
    memory_size: L-BFGS history length.

  Returns:
    ``PopulationMinimum``.
  """
  _check_params(params)
  x, _ = _check_loss_args(params, x, None, sigma, lam, None)
  checks.check_scalar("gtol", gtol, positive=True)
  max_iter = checks.check_int("max_iter", max_iter)
  memory_size = checks.check_int("memory_size", memory_size)
  dtype = checks.float_dtype(x, params.w1)
  cast = lambda v: jnp.asarray(v, dtype)
  w, value, gnorm, count = _lbfgs(jax.tree.map(cast, params), cast(x), cast(sigma), cast(lam), cast(gtol),
                                  jnp.asarray(max_iter, jnp.int32), memory_size=memory_size)
  result = PopulationMinimum(w, float(value), float(gnorm), int(count), bool(gnorm <= gtol))
  if not result.converged:
    warnings.warn(f"L-BFGS on the population loss did not converge: gradient norm {result.grad_norm:.3g} > "
                  f"gtol = {gtol:.3g} after {result.iterations} iterations (max_iter = {max_iter})",
                  RuntimeWarning, stacklevel=2)
  return result


def _x64_context():
  """``jax.enable_x64(True)`` where JAX has it, else a no-op context (float32)."""
  enable = getattr(jax, "enable_x64", None)
  if enable is None:
    enable = getattr(getattr(jax, "experimental", None), "enable_x64", None)
  return enable(True) if enable is not None else contextlib.nullcontext()


# ----------------------------------------------------------------------------------------------
# A trained model against the theory's solutions
# ----------------------------------------------------------------------------------------------


class ClosedFormGap(NamedTuple):
  """Exact eq. (6) losses (``population_loss``, float64) of a model and of the theory's solutions
  on the same samples, σ and λ; NaN where a solution is not defined.

  Attributes:
    trained: the loss of the given params.
    memorization_closed_form: Cor 3.2's one-active-unit value ``memorization_loss`` (not exact).
    memorization: the exact loss at W_mem (``memorization_weights``), defined for p ≥ n and
      nλ < min ‖x_i‖².
    memorization_minimum: the exact loss at the exact minimiser reached from W_mem
      (``memorization_weights(exact=True)``); NaN with ``exact_minimum=False``.
    generalization: the exact loss at W_gen (``generalization_weights``, Cor 3.3), with labels.
    gap_memorization, gap_memorization_minimum, gap_generalization: trained / reference − 1.
    best_theory: the name of the lowest of memorization, memorization_minimum, generalization
      ("" when none is defined).
    gap: trained / (lowest theory loss) − 1. Negative: training found a lower loss than every
      solution of the theory that was evaluated (NaN when none is defined).
  """

  trained: float
  memorization_closed_form: float
  memorization: float
  memorization_minimum: float
  generalization: float
  gap_memorization: float
  gap_memorization_minimum: float
  gap_generalization: float
  best_theory: str
  gap: float


def closed_form_gap(params: DAEParams, x, sigma, lam, *, labels=None, width: int | None = None, rule: str = "equal",
                    exact_minimum: bool = True, gtol: float = 1e-9, max_iter: int = 1000) -> ClosedFormGap:
  """Compares a (trained) model with the theory's solutions by their exact eq. (6) losses.

  All losses are ``population_loss`` on the same x, σ, λ in float64: the expectation over ε is
  exact, so a negative ``gap`` is a lower loss and not noise. The references are W_mem (Cor 3.2,
  eq. 9), the exact minimiser reached from it (``memorization_weights(exact=True)``, L-BFGS) and,
  with ``labels``, W_gen (Thm 3.1 / Cor 3.3, ``generalization_weights`` with ``rule``), all at
  width p (default: the params' width). Cost: a few population losses of n samples, and an L-BFGS
  run for the exact minimiser (compiled once per shape).

  Args:
    params: ``DAEParams`` (tied or untied), (d, p).
    x: (n, d) the samples the model was trained on.
    sigma: noise level σ > 0.
    lam: weight decay λ ≥ 0.
    labels: (n,) cluster labels for W_gen, or None.
    width: p of the theory's solutions (default ``params.width``).
    rule: ``allocate_width`` rule of W_gen.
    exact_minimum: also compute the exact minimiser from W_mem.
    gtol, max_iter: its stopping rule.

  Returns:
    ``ClosedFormGap``.
  """
  from dae_theory._src import theory

  _check_params(params)
  x, _ = _check_loss_args(params, x, None, sigma, lam, None)
  x = np.asarray(x, np.float64)
  width = params.w1.shape[1] if width is None else checks.check_int("width", width)
  n = x.shape[0]
  if labels is not None:
    labels = checks.check_array("labels", labels, ndim=1, floating=False)
    checks.check_dim("labels", labels, 0, n, "one label per sample")
  if rule not in ("equal", "proportional"):
    raise ValueError(f"rule must be 'equal' or 'proportional', got {rule!r}")
  if not isinstance(exact_minimum, (bool, np.bool_)):
    raise ValueError(f"exact_minimum must be True or False, got {exact_minimum!r}")
  checks.check_scalar("gtol", gtol, positive=True)
  max_iter = checks.check_int("max_iter", max_iter)
  nan = float("nan")
  sq = np.sum(x * x, axis=1)
  with _x64_context():
    f64 = lambda a: jnp.asarray(np.asarray(a, np.float64))
    loss = lambda w1, w2=None: float(_population_loss(DAEParams(f64(w1), None if w2 is None else f64(w2)), f64(x),
                                                      float(sigma), float(lam), None))
    trained = loss(params.w1, params.w2)
    closed = mem = mem_min = gen = nan
    if width >= n and n * lam < sq.min():
      closed = theory.memorization_loss(x, sigma, lam)
      w_mem = theory.memorization_weights(x, sigma, lam, n)  # zero columns change no loss
      mem = loss(w_mem)
      if exact_minimum:
        mem_min = minimize_population_loss(DAEParams(f64(w_mem)), f64(x), float(sigma), float(lam), gtol=gtol,
                                           max_iter=max_iter).loss
    if labels is not None:
      gen = loss(theory.generalization_weights(x, labels, sigma, lam, width, rule=rule)[0])
  refs = {"memorization": mem, "memorization_minimum": mem_min, "generalization": gen}
  rel = lambda ref: trained / ref - 1.0 if np.isfinite(ref) else nan
  finite = {k: v for k, v in refs.items() if np.isfinite(v)}
  best = min(finite, key=finite.get) if finite else ""
  return ClosedFormGap(trained, closed, mem, mem_min, gen, rel(mem), rel(mem_min), rel(gen), best,
                       rel(finite[best]) if best else nan)
