"""Scores of activations brought from any model: pooling per layout against NumPy by hand, scores
against code_scores, detection of spiky against balanced codes, bad input; the PyTorch adapter on a
tiny random diffusers UNet (hooked tensor checked against the block recomputed by hand, hooks
removed); experiments/sd_detection.py's parsing, image loading and a run on tiny random models."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import dae_theory as dt
from dae_theory._src import activations as act_module

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")


def _map(n=3, c=4, h=2, w=3):
  """(n, c, h, w) activations with distinct values."""
  return np.arange(n * c * h * w, dtype=np.float64).reshape(n, c, h, w) % 7 - 2.5


# ------------------------------------------------------------------------------------------------
# Pooling
# ------------------------------------------------------------------------------------------------


def test_nchw_pooling_by_hand():
  a = _map()
  n, c = a.shape[:2]
  want_max = np.array([[max(a[i, j, y, x] for y in range(2) for x in range(3)) for j in range(c)] for i in range(n)])
  want_mean = np.array([[sum(a[i, j].ravel()) / 6 for j in range(c)] for i in range(n)])
  want_flat = np.array([[a[i, j, y, x] for j in range(c) for y in range(2) for x in range(3)] for i in range(n)])
  np.testing.assert_array_equal(dt.pool_activations(a, layout="NCHW"), want_max)
  np.testing.assert_allclose(dt.pool_activations(a, layout="NCHW", pooling="mean"), want_mean, rtol=1e-12)
  np.testing.assert_array_equal(dt.pool_activations(a, layout="NCHW", pooling="flatten"), want_flat)
  assert dt.pool_activations(a, layout="NCHW").dtype == np.float64


@pytest.mark.parametrize("pooling", ["max", "mean", "flatten"])
def test_nhwc_and_ntc_give_the_codes_of_the_same_map_in_nchw(pooling):
  a = _map()
  want = dt.pool_activations(a, layout="NCHW", pooling=pooling)
  np.testing.assert_allclose(dt.pool_activations(a.transpose(0, 2, 3, 1), layout="NHWC", pooling=pooling), want,
                             rtol=1e-12)
  tokens = a.reshape(3, 4, 6).transpose(0, 2, 1)  # (N, T, C): the 6 positions as tokens
  np.testing.assert_allclose(dt.pool_activations(tokens, layout="NTC", pooling=pooling), want, rtol=1e-12)


def test_ntc_pooling_by_hand():
  t = np.array([[[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0]]])  # (1 sample, 3 tokens, 2 channels)
  np.testing.assert_array_equal(dt.pool_activations(t, layout="NTC"), [[3.0, 5.0]])
  np.testing.assert_allclose(dt.pool_activations(t, layout="NTC", pooling="mean"), [[1.0, 1.0]])
  np.testing.assert_array_equal(dt.pool_activations(t, layout="NTC", pooling="flatten"),
                                [[1.0, 3.0, -1.0, -2.0, 0.0, 5.0]])


@pytest.mark.parametrize("pooling", ["max", "mean", "flatten"])
def test_nc_passes_through(pooling):
  h = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]], np.float32)
  got = dt.pool_activations(h, layout="NC", pooling=pooling)
  np.testing.assert_array_equal(got, h)
  assert got.dtype == np.float64


def test_jax_and_half_precision_inputs():
  a = _map().astype(np.float16)
  want = dt.pool_activations(a.astype(np.float32), layout="NCHW", pooling="mean")
  np.testing.assert_allclose(dt.pool_activations(a, layout="NCHW", pooling="mean"), want, rtol=1e-6)
  np.testing.assert_allclose(dt.pool_activations(jnp.asarray(_map()), layout="NCHW"),
                             dt.pool_activations(_map(), layout="NCHW"), rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Scores and detection
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout,pooling", [("NCHW", "max"), ("NCHW", "mean"), ("NHWC", "flatten"), ("NTC", "max"),
                                            ("NC", "max")])
def test_scores_are_code_scores_of_the_pooled_code(layout, pooling, rng):
  shape = {"NCHW": (5, 6, 3, 2), "NHWC": (5, 3, 2, 6), "NTC": (5, 4, 6), "NC": (5, 6)}[layout]
  a = np.abs(rng.normal(size=shape))
  got = dt.activation_scores(a, layout=layout, pooling=pooling)
  assert tuple(got) == dt.CODE_SCORES
  pooled = dt.pool_activations(a, layout=layout, pooling=pooling)
  for name in dt.CODE_SCORES:
    assert got[name].shape == (5,) and got[name].dtype == np.float64
    np.testing.assert_array_equal(got[name], dt.code_scores(pooled, name), err_msg=name)
  assert list(dt.activation_scores(a, layout=layout, pooling=pooling, scores="l4_l2_ratio")) == ["l4_l2_ratio"]


def _spiky_and_balanced(rng, n=60, c=32, size=4):
  """Memorised maps light one channel (a spike somewhere in space); generalised ones light all
  channels about equally; both with the same total energy scale."""
  base = 0.1 * np.abs(rng.normal(size=(2 * n, c, size, size)))
  spiky, balanced = base[:n].copy(), base[n:].copy()
  for i in range(n):
    spiky[i, rng.integers(c), rng.integers(size), rng.integers(size)] += 3.0
  balanced += np.abs(rng.normal(0.5, 0.05, size=(n, c, 1, 1)))
  return spiky, balanced


def test_spiky_codes_are_detected_and_a_shuffled_control_is_chance(rng):
  spiky, balanced = _spiky_and_balanced(rng)
  metrics = dt.layer_detection(spiky, balanced, layout="NCHW", num_bootstrap=50)
  assert set(metrics) == set(dt.CODE_SCORES)
  m = metrics["std"]
  assert isinstance(m, dt.DetectionMetrics)
  assert m.auroc == 1.0 and m.tpr == 1.0 and (m.num_positive, m.num_negative) == (60, 60)
  # the same samples under shuffled labels: chance
  both = np.concatenate([spiky, balanced])
  order = rng.permutation(len(both))
  control = dt.layer_detection(both[order[:60]], both[order[60:]], layout="NCHW", scores="std", num_bootstrap=50)
  assert 0.35 < control["std"].auroc < 0.65
  # orientation: swapping the groups flags the wrong tail
  assert dt.layer_detection(balanced, spiky, layout="NCHW", scores="std", num_bootstrap=10)["std"].auroc == 0.0


def test_layer_detection_is_detection_metrics_of_the_oriented_scores(rng):
  pos, neg = np.abs(rng.normal(size=(7, 5, 2, 2))), np.abs(rng.normal(size=(9, 5, 3, 3)))  # other spatial size
  got = dt.layer_detection(pos, neg, layout="NCHW", pooling="mean", scores=("std", "normalized_std"), fpr=0.1,
                           num_bootstrap=30, seed=4)
  for name in ("std", "normalized_std"):
    sp = dt.activation_scores(pos, layout="NCHW", pooling="mean", scores=name)[name]
    sn = dt.activation_scores(neg, layout="NCHW", pooling="mean", scores=name)[name]
    assert got[name] == dt.detection_metrics(sp, sn, fpr=0.1, num_bootstrap=30, seed=4)


def test_layers_detection_is_layer_detection_per_layer(rng):
  spiky, balanced = _spiky_and_balanced(rng, n=8, c=6)
  mem = {"conv": spiky, "attn": spiky.reshape(8, 6, 16).transpose(0, 2, 1)}
  gen = {"attn": balanced.reshape(8, 6, 16).transpose(0, 2, 1), "conv": balanced}
  got = dt.layers_detection(mem, gen, layout={"conv": "NCHW", "attn": "NTC"}, scores="std", num_bootstrap=20)
  assert list(got) == ["conv", "attn"]
  assert got["conv"] == dt.layer_detection(spiky, balanced, layout="NCHW", scores="std", num_bootstrap=20)
  assert got["attn"] == got["conv"]  # the same maps, as tokens
  with pytest.raises(ValueError, match=r"memorized.*generalized.*'extra'.*only in generalized"):
    dt.layers_detection(mem, {**gen, "extra": balanced}, layout="NCHW")
  with pytest.raises(ValueError, match=r"'attn'.*only in memorized"):
    dt.layers_detection(mem, {"conv": balanced}, layout="NCHW")
  with pytest.raises(ValueError, match=r"memorized\['attn'\]"):  # the NCHW rank check names the layer
    dt.layers_detection(mem, gen, layout="NCHW")
  with pytest.raises(ValueError, match=r"layout.*missing \['attn'\]"):
    dt.layers_detection(mem, gen, layout={"conv": "NCHW"})


# ------------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the argument, before anything is computed
# ------------------------------------------------------------------------------------------------

GOOD = np.abs(np.random.default_rng(1).normal(size=(4, 3, 2, 2)))
WITH_NAN = GOOD.copy()
WITH_NAN[1, 2, 0, 1] = NAN
WITH_INF = GOOD.copy()
WITH_INF[0, 0, 1, 1] = np.inf

BAD = [
    ("NaN", lambda: dt.pool_activations(WITH_NAN, layout="NCHW"), "activations", "finite"),
    ("inf", lambda: dt.activation_scores(WITH_INF, layout="NCHW"), "activations", "finite"),
    ("no samples", lambda: dt.pool_activations(GOOD[:0], layout="NCHW"), "activations", "empty"),
    ("one memorised sample", lambda: dt.layer_detection(GOOD[:1], GOOD, layout="NCHW"), "memorized", "at least 2"),
    ("one generalised sample", lambda: dt.layer_detection(GOOD, GOOD[:1], layout="NCHW"), "generalized",
     "at least 2"),
    ("unknown layout", lambda: dt.pool_activations(GOOD, layout="NCWH"), "layout", "one of"),
    ("layout not a string", lambda: dt.activation_scores(GOOD, layout=None), "layout", "one of"),
    ("unknown pooling", lambda: dt.pool_activations(GOOD, layout="NCHW", pooling="sum"), "pooling", "one of"),
    ("rank 3 for NCHW", lambda: dt.pool_activations(GOOD[0], layout="NCHW"), "activations",
     "pooling axis W does not exist"),
    ("rank 2 for NTC", lambda: dt.pool_activations(GOOD[:, :, 0, 0], layout="NTC"), "activations",
     "pooling axis|channel axis C does not exist"),
    ("rank 5 for NCHW", lambda: dt.pool_activations(GOOD[..., None], layout="NCHW"), "activations", "more than"),
    ("empty channel axis", lambda: dt.pool_activations(GOOD[:, :0], layout="NCHW"), "activations", "channels"),
    ("empty channel axis NHWC", lambda: dt.pool_activations(GOOD[..., :0], layout="NHWC"), "activations",
     "channels"),
    ("empty position axis", lambda: dt.pool_activations(GOOD[:, :, :0], layout="NCHW"), "activations", "positions"),
    ("booleans", lambda: dt.pool_activations(GOOD > 1, layout="NCHW"), "activations", "real numbers"),
    ("unknown score", lambda: dt.activation_scores(GOOD, layout="NCHW", scores=("std", "entropy")), "scores",
     "entropy"),
    ("no scores", lambda: dt.activation_scores(GOOD, layout="NCHW", scores=()), "scores", "at least one"),
    ("other channels", lambda: dt.layer_detection(GOOD, GOOD[:, :2], layout="NCHW"), "generalized", "units"),
    ("other positions for flatten", lambda: dt.layer_detection(GOOD, GOOD[:, :, :1], layout="NCHW",
                                                               pooling="flatten"), "generalized", "units"),
    ("NaN generalised", lambda: dt.layer_detection(GOOD, WITH_NAN, layout="NCHW"), "generalized", "finite"),
    ("fpr 1", lambda: dt.layer_detection(GOOD, GOOD, layout="NCHW", fpr=1.0), "fpr", r"\[0, 1\)"),
    ("num_bootstrap 0", lambda: dt.layer_detection(GOOD, GOOD, layout="NCHW", num_bootstrap=0), "num_bootstrap",
     ">= 1"),
    ("seed < 0", lambda: dt.layer_detection(GOOD, GOOD, layout="NCHW", seed=-1), "seed", "2\\*\\*32"),
    ("layers not a dict", lambda: dt.layers_detection(GOOD, {"a": GOOD}, layout="NCHW"), "memorized", "dict"),
    ("no layers", lambda: dt.layers_detection({}, {}, layout="NCHW"), "memorized", "at least one layer"),
    ("NaN in one layer", lambda: dt.layers_detection({"a": GOOD, "b": GOOD}, {"a": GOOD, "b": WITH_NAN},
                                                     layout="NCHW"), "generalized['b']", "finite"),
]


@pytest.mark.parametrize("call,arg,what", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_names_the_argument_before_computing(call, arg, what, monkeypatch):
  def never(*args, **kwargs):
    raise AssertionError("computed before checking")

  monkeypatch.setattr(act_module, "_pool", never)
  monkeypatch.setattr(act_module, "code_scores", never)
  monkeypatch.setattr(act_module, "detection_metrics", never)
  with pytest.raises(ValueError) as err:
    call()
  message = str(err.value)
  assert re.search(rf"(?<![\w'\[]){re.escape(arg)}(?![\w\[])", message), message
  assert re.search(what, message), message


# ------------------------------------------------------------------------------------------------
# PyTorch adapter (skipped without torch and diffusers)
# ------------------------------------------------------------------------------------------------


def test_the_adapter_names_the_extra_without_torch(monkeypatch):
  from dae_theory import torch_hooks

  monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
  with pytest.raises(ImportError, match=r"adapters"):
    torch_hooks.collect_activations(object(), ["a"], lambda: None)


def test_the_sd_schedule():
  from dae_theory import torch_hooks

  a = torch_hooks.sd_alphas_cumprod()
  assert a.shape == (1000,) and np.all(np.diff(a) < 0)
  betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
  np.testing.assert_allclose(a[10], np.prod(1 - betas[:11]), rtol=1e-12)
  assert torch_hooks.sd_sigma(10) == pytest.approx(np.sqrt((1 - a[10]) / a[10]))
  assert torch_hooks.sd_sigma(10) == pytest.approx(dt.DEFAULT_SIGMA_DET, rel=0.05)
  with pytest.raises(ValueError, match="timestep"):
    torch_hooks.sd_sigma(1000)
  diffusers = pytest.importorskip("diffusers")
  scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                      beta_schedule="scaled_linear")
  np.testing.assert_allclose(a, scheduler.alphas_cumprod.double().numpy(), rtol=1e-5)


LAST = "up_blocks.0.resnets.1"  # the last resnet of the first up block (layers_per_block = 1)


@pytest.fixture(scope="module")
def unet():
  """A tiny random UNet; torch on one thread meanwhile (its thread pool thrashes on a shared 2-core
  machine: a forward pass of milliseconds then takes seconds)."""
  torch = pytest.importorskip("torch")
  diffusers = pytest.importorskip("diffusers")
  threads = torch.get_num_threads()
  torch.set_num_threads(1)
  torch.manual_seed(0)
  model = diffusers.UNet2DConditionModel(
      sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
      down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
      cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
  yield model.eval()
  torch.set_num_threads(threads)


def _inputs(n, seed=1):
  import torch

  g = torch.Generator().manual_seed(seed)
  return torch.randn(n, 4, 8, 8, generator=g), torch.randn(1, 7, 32, generator=g)


def _no_hooks_left(model):
  return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_collected_activations_are_the_last_silu_of_the_block_by_hand(unet):
  import torch
  import torch.nn.functional as F

  from dae_theory import torch_hooks

  x, c = _inputs(5)
  t = torch.full((5,), 10)

  def run():  # two forward passes: batches of 3 and 2
    with torch.no_grad():
      unet(x[:3], t[:3], encoder_hidden_states=c.expand(3, -1, -1))
      unet(x[3:], t[3:], encoder_hidden_states=c.expand(2, -1, -1))

  acts = torch_hooks.collect_activations(unet, [f"{LAST}.nonlinearity", LAST], run, call=-1)
  assert list(acts) == [f"{LAST}.nonlinearity", LAST]
  silu = acts[f"{LAST}.nonlinearity"]
  assert isinstance(silu, np.ndarray) and silu.shape == (5, 64, 4, 4) and silu.dtype == np.float32
  assert acts[LAST].shape == (5, 64, 4, 4)
  assert _no_hooks_left(unet)

  # An independent second pass: capture the block's inputs and recompute its last SiLU by hand.
  block = unet.up_blocks[0].resnets[1]
  seen = {}
  handle = block.register_forward_pre_hook(lambda m, args: seen.update(x=args[0], temb=args[1]))
  try:
    with torch.no_grad():
      unet(x, t, encoder_hidden_states=c.expand(5, -1, -1))
  finally:
    handle.remove()
  with torch.no_grad():
    hid = block.conv1(F.silu(block.norm1(seen["x"])))
    hid = hid + block.time_emb_proj(F.silu(seen["temb"]))[:, :, None, None]
    by_hand = F.silu(block.norm2(hid)).numpy()
  np.testing.assert_allclose(silu, by_hand, rtol=1e-4, atol=1e-5)
  pooled = by_hand.max(axis=(2, 3))
  scores = dt.activation_scores(silu, layout="NCHW")
  for name in dt.CODE_SCORES:
    np.testing.assert_allclose(scores[name], dt.code_scores(pooled, name), rtol=1e-5, err_msg=name)


def test_calls_of_a_module_used_several_times_per_pass(unet):
  import torch

  from dae_theory import torch_hooks

  x, c = _inputs(2)
  run = lambda: unet(x, torch.full((2,), 10), encoder_hidden_states=c.expand(2, -1, -1))  # noqa: E731
  with torch.no_grad():
    first = torch_hooks.collect_activations(unet, f"{LAST}.nonlinearity", run, call=0)[f"{LAST}.nonlinearity"]
    temb = torch_hooks.collect_activations(unet, f"{LAST}.nonlinearity", run, call={f"{LAST}.nonlinearity": 1})
    assert first.shape == (2, 96, 4, 4)  # input 64 channels + a 32-channel skip
    assert temb[f"{LAST}.nonlinearity"].shape == (2, 128)
    with pytest.raises(ValueError, match=r"different shapes.*call=-1"):
      torch_hooks.collect_activations(unet, f"{LAST}.nonlinearity", run)
    with pytest.raises(ValueError, match=r"call=3.*called 3 time"):
      torch_hooks.collect_activations(unet, f"{LAST}.nonlinearity", run, call=3)
    tensors = torch_hooks.collect_activations(unet, LAST, run, to_numpy=False)  # one call per pass
  assert isinstance(tensors[LAST], torch.Tensor) and tuple(tensors[LAST].shape) == (2, 64, 4, 4)
  assert _no_hooks_left(unet)


def test_hooks_are_removed_when_run_fails(unet):
  from dae_theory import torch_hooks

  def run():
    raise RuntimeError("boom")

  with pytest.raises(RuntimeError, match="boom"):
    torch_hooks.collect_activations(unet, [LAST], run)
  assert _no_hooks_left(unet)


def test_a_wrong_layer_name_is_named_with_close_names(unet):
  from dae_theory import torch_hooks

  wrong = r"layer_names.*'up_blocks\.0\.resnet\.1'.*close names.*'up_blocks\.0\.resnets\.1'"
  with pytest.raises(ValueError, match=wrong):
    torch_hooks.collect_activations(unet, ["up_blocks.0.resnet.1"], lambda: None)
  with pytest.raises(ValueError, match=r"layer\b.*'mid_block\.resnets\.7'"):
    torch_hooks.sd_detection_activations(unet, np.zeros((2, 4, 8, 8), np.float32),
                                         encoder_hidden_states=np.zeros((1, 7, 32), np.float32),
                                         layer="mid_block.resnets.7")
  with pytest.raises(ValueError, match=r"never called"):
    torch_hooks.collect_activations(unet, [LAST], lambda: None)
  with pytest.raises(ValueError, match=r"\brun\b"):
    torch_hooks.collect_activations(unet, [LAST], None)
  with pytest.raises(ValueError, match=r"\bmodule\b"):
    torch_hooks.collect_activations(object(), [LAST], lambda: None)
  assert _no_hooks_left(unet)


def test_sd_detection_activations_renoise_to_the_timestep(unet):
  import torch

  from dae_theory import torch_hooks

  z, c = _inputs(4, seed=3)
  acts = torch_hooks.sd_detection_activations(unet, z, encoder_hidden_states=c, layer=f"{LAST}.nonlinearity",
                                              seed=5)
  assert acts.shape == (4, 64, 4, 4)
  a = torch_hooks.sd_alphas_cumprod()[10]
  noise = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(5))
  zt = float(np.sqrt(a)) * z + float(np.sqrt(1 - a)) * noise
  with torch.no_grad():
    want = torch_hooks.collect_activations(
        unet, f"{LAST}.nonlinearity",
        lambda: unet(zt, torch.full((4,), 10), encoder_hidden_states=c.expand(4, -1, -1)), call=-1)
  np.testing.assert_allclose(acts, want[f"{LAST}.nonlinearity"], rtol=1e-4, atol=1e-5)
  batched = torch_hooks.sd_detection_activations(unet, z.numpy(), encoder_hidden_states=c.numpy(),
                                                 layer=f"{LAST}.nonlinearity", seed=5, batch_size=3)
  np.testing.assert_allclose(batched, acts, rtol=1e-4, atol=1e-5)
  other_t = torch_hooks.sd_detection_activations(unet, z, encoder_hidden_states=c, layer=f"{LAST}.nonlinearity",
                                                 seed=5, timestep=500)
  assert not np.allclose(other_t, acts)
  with pytest.raises(ValueError, match="encoder_hidden_states"):
    torch_hooks.sd_detection_activations(unet, z, encoder_hidden_states=c[0])
  with pytest.raises(ValueError, match="noise"):
    torch_hooks.sd_detection_activations(unet, z, encoder_hidden_states=c, noise=noise[:2])
  with pytest.raises(ValueError, match="latents"):
    torch_hooks.sd_detection_activations(unet, z * NAN, encoder_hidden_states=c)
  with pytest.raises(ValueError, match="timestep"):
    torch_hooks.sd_detection_activations(unet, z, encoder_hidden_states=c, timestep=-1)
  assert _no_hooks_left(unet)


# ------------------------------------------------------------------------------------------------
# experiments/sd_detection.py: its parsing and pure parts, and a run on tiny random models
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script():
  spec = importlib.util.spec_from_file_location("sd_detection", ROOT / "experiments" / "sd_detection.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


REQUIRED = ["--model-path", "m", "--memorized", "a", "--generalized", "b"]


def test_script_arguments(script):
  args = script.parse_args(REQUIRED)
  assert (args.timestep, args.layer, args.call, args.pooling, args.scores) == (
      10, "up_blocks.0.resnets.2.nonlinearity", -1, "max", dt.CODE_SCORES)
  assert (args.prompt, args.image_size, args.dtype, args.out) == ("", 512, "float32", Path("results/sd_detection"))
  args = script.parse_args(REQUIRED + ["--call", "all", "--scores", "std, l4_l2_ratio", "--fpr", "0.05"])
  assert args.call is None and args.scores == ("std", "l4_l2_ratio") and args.fpr == 0.05
  for bad in (["--timestep", "1000"], ["--scores", "std,entropy"], ["--call", "last"], ["--image-size", "500"],
              ["--pooling", "sum"], ["--fpr", "1"], ["--seed", "-1"], ["--batch-size", "0"]):
    with pytest.raises(SystemExit):
      script.parse_args(REQUIRED + bad)
  with pytest.raises(SystemExit):
    script.parse_args(["--memorized", "a", "--generalized", "b"])  # no --model-path


def _write_images(folder, colours, size=(12, 8)):
  from PIL import Image

  folder.mkdir(parents=True, exist_ok=True)
  for i, colour in enumerate(colours):
    Image.new("RGB", size, colour).save(folder / f"img{i}.png")
  return folder


def test_script_images(script, tmp_path):
  from PIL import Image

  folder = _write_images(tmp_path / "imgs", [(255, 0, 0), (0, 255, 255)])
  (folder / "notes.txt").write_text("not an image")
  Image.new("RGB", (4, 4)).save(folder / "UPPER.JPG")
  assert [p.name for p in script.image_paths(folder)] == ["UPPER.JPG", "img0.png", "img1.png"]
  x = script.load_image(folder / "img0.png", 8)
  assert x.shape == (3, 8, 8) and x.dtype == np.float32
  np.testing.assert_allclose(x[0], 1.0)
  np.testing.assert_allclose(x[1:], -1.0)
  # centre crop: a 12 × 8 image whose left and right 2 columns are white keeps only its black middle
  im = Image.new("RGB", (12, 8), (0, 0, 0))
  for y in range(8):
    for xx in (0, 1, 10, 11):
      im.putpixel((xx, y), (255, 255, 255))
  im.save(tmp_path / "framed.png")
  np.testing.assert_allclose(script.load_image(tmp_path / "framed.png", 8), -1.0)
  with pytest.raises(ValueError, match="at least 2 images"):
    script.image_paths(_write_images(tmp_path / "one", [(0, 0, 0)]))
  with pytest.raises(ValueError, match="directory"):
    script.image_paths(tmp_path / "missing")


def test_script_runs_on_tiny_random_models(script, unet, tmp_path, monkeypatch):
  torch = pytest.importorskip("torch")
  diffusers = pytest.importorskip("diffusers")
  torch.manual_seed(0)
  vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",),
                                up_block_types=("UpDecoderBlock2D",), block_out_channels=(8,), latent_channels=4,
                                norm_num_groups=8, layers_per_block=1).eval()
  model = tmp_path / "model"
  unet.save_pretrained(model / "unet")
  vae.save_pretrained(model / "vae")
  embedding = torch.randn(1, 7, 32, generator=torch.Generator().manual_seed(2))
  monkeypatch.setattr(script, "prompt_embedding", lambda path, prompt, device, dtype: embedding.to(device, dtype))
  mem = _write_images(tmp_path / "mem", [(200, 10, 10), (10, 200, 10), (10, 10, 200)])
  gen = _write_images(tmp_path / "gen", [(90, 90, 90), (120, 100, 80)])
  out = tmp_path / "out"
  summary = script.main(["--model-path", str(model), "--memorized", str(mem), "--generalized", str(gen), "--out",
                         str(out), "--image-size", "8", "--layer", f"{LAST}.nonlinearity", "--batch-size", "2",
                         "--num-bootstrap", "20", "--device", "cpu"])
  saved = json.loads((out / "summary.json").read_text())
  assert saved["num_memorized"] == 3 and saved["num_generalized"] == 2
  assert saved["activation_shape"] == [64, 4, 4]
  assert set(saved["metrics"]) == set(dt.CODE_SCORES)
  assert 0.0 <= saved["metrics"]["std"]["auroc"] <= 1.0 and saved["metrics"]["std"]["higher_means_memorized"]
  assert saved["settings"]["layer"] == f"{LAST}.nonlinearity" and saved["sigma_equivalent"] == summary[
      "sigma_equivalent"]
  scores = np.load(out / "scores.npz")
  np.testing.assert_array_equal(scores["is_memorized"], [True, True, True, False, False])
  assert scores["score_std"].shape == (5,) and scores["files"][0].endswith("img0.png")
  # the saved metrics are those of the saved per-image scores
  s = scores["score_std"]
  want = dt.detection_metrics(s[:3], s[3:], num_bootstrap=20, seed=0)
  assert saved["metrics"]["std"]["auroc"] == pytest.approx(want.auroc)
