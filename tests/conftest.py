"""Strict JAX for every test: rank promotion raises (equinox's habit)."""

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
  """Runs a test with 64-bit JAX types (float64 references)."""
  with jax.enable_x64(True):
    yield


@pytest.fixture
def rng():
  return np.random.default_rng(0)


def pytest_collection_modifyitems(items):
  """The longest test, make figures SIZE=fast, goes first: with one pytest-xdist worker per core it
  then runs beside the rest of the suite instead of after it."""
  items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_figures_fast.py")
