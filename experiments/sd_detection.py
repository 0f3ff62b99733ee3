"""Memorisation detection on Stable Diffusion 1.4 from a hidden layer's spread (paper Sec. 4.1, Table 1).

For users with the SD 1.4 weights on disk and a GPU; nothing is downloaded (``local_files_only``).
Needs PyTorch and diffusers (the ``adapters`` extra) and, for the prompt's text embedding,
transformers.

Run: .venv/bin/python experiments/sd_detection.py --model-path /path/to/stable-diffusion-v1-4 \
       --memorized DIR --generalized DIR --out results/sd_detection [--device cuda] [--dtype float16]
(``--model-path`` is a local copy of ``CompVis/stable-diffusion-v1-4`` in diffusers' layout: unet/,
vae/, text_encoder/, tokenizer/.)

Recipe (the authors' layer, timestep, prompt, pooling and score; the preprocessing is this script's):
every image of the two folders (memorised generations, the positives, and generalised ones) is
centre-cropped, resized to ``--image-size`` (512) and encoded by the VAE (the latent mean times
``scaling_factor``); the latents are re-noised to DDPM timestep 10 of SD's 1000-step
"scaled_linear" schedule (σ ≈ 0.098 in x₀ + σε terms); the UNet runs at that timestep with the
empty prompt; the last SiLU of ``up_blocks.0.resnets.2`` (N, 1280, 8, 8) is max-pooled over space
to (N, 1280) and scored by Std over the channels, beside the other scores of ``dt.CODE_SCORES``
(``dae_theory.torch_hooks`` says why that SiLU call). Each score is oriented by
``dt.HIGHER_MEANS_MEMORIZED`` and summarised by its AUROC and TPR at 1 % FPR with bootstrap
intervals (``dt.layer_detection``).

Writes ``summary.json`` (settings, counts, per-score metrics) and ``scores.npz`` (per-image scores,
labels and file names) into ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import dae_theory as dt
from dae_theory import torch_hooks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
DTYPES = ("float32", "float16", "bfloat16")


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
  return value


def _call(text: str):
  if text == "all":
    return None
  try:
    return int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer (-1: the last call) or 'all', got {text!r}") from None


def _scores(text: str) -> tuple[str, ...]:
  names = tuple(n.strip() for n in text.split(",") if n.strip())
  unknown = [n for n in names if n not in dt.CODE_SCORES]
  if not names or unknown:
    raise argparse.ArgumentTypeError(f"expected comma-separated names from {dt.CODE_SCORES}, got {text!r}")
  return names


def _fpr(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
  if not 0.0 <= value < 1.0:
    raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
  return value


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description="Memorisation detection on Stable Diffusion 1.4 from the spread of a "
                                          "UNet layer (the authors' recipe).")
  p.add_argument("--model-path", type=Path, required=True,
                 help="local folder of CompVis/stable-diffusion-v1-4 in diffusers' layout (never downloaded)")
  p.add_argument("--memorized", type=Path, required=True, help="folder of memorised generated images (positives)")
  p.add_argument("--generalized", type=Path, required=True, help="folder of generalised generated images")
  p.add_argument("--out", type=Path, default=Path("results/sd_detection"), help="results folder")
  p.add_argument("--timestep", type=int, default=torch_hooks.SD_TIMESTEP, help="DDPM timestep of the re-noising")
  p.add_argument("--layer", default=torch_hooks.SD_LAYER, help="UNet submodule whose output is scored")
  p.add_argument("--call", type=_call, default=torch_hooks.SD_CALL,
                 help="which call of the layer per forward pass (-1: the last), or 'all'")
  p.add_argument("--pooling", choices=("max", "mean", "flatten"), default="max", help="pooling over space")
  p.add_argument("--scores", type=_scores, default=dt.CODE_SCORES, help="comma-separated names of dt.CODE_SCORES")
  p.add_argument("--prompt", default="", help="the text prompt of every forward pass (the authors: empty)")
  p.add_argument("--image-size", type=_positive_int, default=512, help="side of the square images fed to the VAE")
  p.add_argument("--batch-size", type=_positive_int, default=16, help="images per VAE and UNet call")
  p.add_argument("--device", default="auto", help="torch device; auto: cuda when available, else cpu")
  p.add_argument("--dtype", choices=DTYPES, default="float32", help="dtype of the VAE, text encoder and UNet")
  p.add_argument("--seed", type=int, default=0, help="seed of the re-noising noise, in [0, 2**32)")
  p.add_argument("--num-bootstrap", type=_positive_int, default=1000, help="bootstrap rounds of the intervals")
  p.add_argument("--fpr", type=_fpr, default=0.01, help="false-positive rate the TPR is read at")
  return p


def parse_args(argv=None) -> argparse.Namespace:
  """The command line; exits with a message on a bad value."""
  p = parser()
  args = p.parse_args(argv)
  if not 0 <= args.timestep < torch_hooks.SD_NUM_TRAIN_TIMESTEPS:
    p.error(f"--timestep must be in [0, {torch_hooks.SD_NUM_TRAIN_TIMESTEPS}), got {args.timestep}")
  if not 0 <= args.seed < 2 ** 32:
    p.error(f"--seed must be in [0, 2**32), got {args.seed}")
  if args.image_size % 8:
    p.error(f"--image-size must be a multiple of 8 (the VAE's downsampling), got {args.image_size}")
  return args


def image_paths(folder) -> list[Path]:
  """The image files of a folder (``IMAGE_SUFFIXES``, any case), sorted by name; at least 2."""
  folder = Path(folder)
  if not folder.is_dir():
    raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
  paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
  if len(paths) < 2:
    raise ValueError(f"folder {str(folder)!r} must hold at least 2 images ({', '.join(IMAGE_SUFFIXES)}), "
                     f"got {len(paths)}")
  return paths


def load_image(path, size: int) -> np.ndarray:
  """One image as (3, size, size) float32 in [−1, 1]: RGB, centre-cropped to a square, resized
  (bicubic) to size × size (the preprocessing of SD's img2img pipelines)."""
  from PIL import Image

  with Image.open(path) as im:
    im = im.convert("RGB")
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    x = np.asarray(im, np.float32) / 127.5 - 1.0
  return np.ascontiguousarray(x.transpose(2, 0, 1))


def load_images(paths, size: int) -> np.ndarray:
  """(N, 3, size, size) float32 in [−1, 1]."""
  return np.stack([load_image(p, size) for p in paths])


def encode_images(vae, paths, *, size: int, batch_size: int):
  """SD latents z₀ = scaling_factor · mean of the VAE posterior of each image file, (N, 4, size/8,
  size/8) float32 on the CPU (images loaded a batch at a time)."""
  import torch

  param = next(vae.parameters())
  scale = float(getattr(vae.config, "scaling_factor", 0.18215))
  out = []
  with torch.no_grad():
    for start in range(0, len(paths), batch_size):
      x = torch.as_tensor(load_images(paths[start:start + batch_size], size)).to(param.device, param.dtype)
      out.append((vae.encode(x).latent_dist.mode() * scale).float().cpu())
  return torch.cat(out)


def prompt_embedding(model_path: Path, prompt: str, device, dtype):
  """(1, 77, 768) CLIP text embedding of ``prompt``, padded to the tokenizer's maximum length as SD's
  pipeline does (the empty prompt by default)."""
  import torch
  from transformers import CLIPTextModel, CLIPTokenizer

  tokenizer = CLIPTokenizer.from_pretrained(model_path, subfolder="tokenizer", local_files_only=True)
  encoder = CLIPTextModel.from_pretrained(model_path, subfolder="text_encoder", local_files_only=True,
                                          torch_dtype=dtype).to(device).eval()
  ids = tokenizer([prompt], padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                  return_tensors="pt").input_ids.to(device)
  with torch.no_grad():
    return encoder(ids)[0]


def score_groups(unet, embedding, memorized_latents, generalized_latents, *,
                 timestep: int = torch_hooks.SD_TIMESTEP, layer: str = torch_hooks.SD_LAYER,
                 call=torch_hooks.SD_CALL, pooling: str = "max", scores=dt.CODE_SCORES, batch_size: int = 16,
                 seed: int = 0, fpr: float = 0.01, num_bootstrap: int = 1000) -> dict:
  """The recipe on the latents of two groups of images: {"metrics": {score: DetectionMetrics},
  "scores": {score: (N,)}, "is_memorized": (N,) bool, "activation_shape": per-sample shape},
  memorised images first. Both groups are re-noised (one noise draw for all N, from ``seed``) and
  run through the UNet together."""
  import torch

  latents = torch.cat([torch.as_tensor(memorized_latents), torch.as_tensor(generalized_latents)])
  acts = torch_hooks.sd_detection_activations(unet, latents, encoder_hidden_states=embedding, timestep=timestep,
                                              layer=layer, call=call, seed=seed, batch_size=batch_size)
  num_mem = len(memorized_latents)
  metrics = dt.layer_detection(acts[:num_mem], acts[num_mem:], layout="NCHW", pooling=pooling, scores=scores,
                               fpr=fpr, num_bootstrap=num_bootstrap, seed=seed)
  per_sample = dt.activation_scores(acts, layout="NCHW", pooling=pooling, scores=scores)
  return {"metrics": metrics, "scores": per_sample, "is_memorized": np.arange(len(latents)) < num_mem,
          "activation_shape": tuple(acts.shape[1:])}


def summary(result: dict, args: argparse.Namespace, *, seconds: float | None = None) -> dict:
  """The JSON summary: settings, counts and per-score metrics (with their orientation)."""
  is_mem = np.asarray(result["is_memorized"])
  settings = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
              for k, v in sorted(vars(args).items())}
  return {
      "settings": settings,
      "sigma_equivalent": torch_hooks.sd_sigma(args.timestep),
      "num_memorized": int(is_mem.sum()),
      "num_generalized": int((~is_mem).sum()),
      "activation_shape": list(result["activation_shape"]),
      "metrics": {name: {**m._asdict(), "higher_means_memorized": dt.HIGHER_MEANS_MEMORIZED[name]}
                  for name, m in result["metrics"].items()},
      "seconds": seconds,
  }


def _device(name: str) -> str:
  import torch

  if name == "auto":
    return "cuda" if torch.cuda.is_available() else "cpu"
  return name


def main(argv=None) -> dict:
  import torch
  from diffusers import AutoencoderKL, UNet2DConditionModel

  args = parse_args(argv)
  start = time.perf_counter()
  mem_paths, gen_paths = image_paths(args.memorized), image_paths(args.generalized)
  if not (args.model_path / "unet").is_dir() or not (args.model_path / "vae").is_dir():
    raise SystemExit(f"--model-path {args.model_path} must be a local diffusers folder with unet/ and vae/")
  device, dtype = _device(args.device), getattr(torch, args.dtype)
  unet = UNet2DConditionModel.from_pretrained(args.model_path, subfolder="unet", local_files_only=True,
                                              torch_dtype=dtype).to(device).eval()
  vae = AutoencoderKL.from_pretrained(args.model_path, subfolder="vae", local_files_only=True,
                                      torch_dtype=dtype).to(device).eval()
  embedding = prompt_embedding(args.model_path, args.prompt, device, dtype)
  latents = [encode_images(vae, paths, size=args.image_size, batch_size=args.batch_size)
             for paths in (mem_paths, gen_paths)]
  result = score_groups(unet, embedding, *latents, timestep=args.timestep, layer=args.layer, call=args.call,
                        pooling=args.pooling, scores=args.scores, batch_size=args.batch_size, seed=args.seed,
                        fpr=args.fpr, num_bootstrap=args.num_bootstrap)
  out = summary(result, args, seconds=time.perf_counter() - start)
  dt.save_json(args.out / "summary.json", out)
  names = [str(p) for p in mem_paths + gen_paths]
  dt.save_npz(args.out / "scores.npz", is_memorized=result["is_memorized"], files=np.asarray(names),
              **{f"score_{k}": v for k, v in result["scores"].items()})
  for name, m in result["metrics"].items():
    print(f"{name:>22}: AUROC {m.auroc:.3f} [{m.auroc_low:.3f}, {m.auroc_high:.3f}]   "
          f"TPR@{100 * m.fpr:g}%FPR {m.tpr:.3f} [{m.tpr_low:.3f}, {m.tpr_high:.3f}]")
  print(f"wrote {args.out / 'summary.json'} and {args.out / 'scores.npz'}")
  return out


if __name__ == "__main__":
  main()
