"""Every test starts from the same process-wide state and leaves it as it found it, so that no
outcome depends on the order of the tests or on what another test set globally: torch's thread
counts, deterministic-algorithms flag, default dtype and grad mode, the global random generators
(torch, numpy, random), the environment and the working directory are restored after each test.

``--random-order`` (optionally ``--random-order-seed N``) runs the collected tests in a seeded
random order to find tests that still depend on their neighbours."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch


def pytest_addoption(parser):
    parser.addoption("--random-order", action="store_true", help="run the tests in a seeded random order")
    parser.addoption("--random-order-seed", type=int, default=None, help="seed of --random-order (default: random)")


def pytest_collection_modifyitems(session, config, items):
    if not config.getoption("--random-order"):
        return
    seed = config.getoption("--random-order-seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 16)
    config._random_order_seed = seed
    random.Random(seed).shuffle(items)


def pytest_report_header(config):
    if config.getoption("--random-order"):
        return "random order: rerun this order with --random-order --random-order-seed SEED (SEED printed at the end)"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seed = getattr(config, "_random_order_seed", None)
    if seed is not None:
        terminalreporter.write_line(f"random order seed: {seed} (--random-order --random-order-seed {seed})")


def _global_state() -> dict:
    return {
        "threads": torch.get_num_threads(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "dtype": torch.get_default_dtype(),
        "grad": torch.is_grad_enabled(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
    }


def _restore(state: dict) -> list[str]:
    """Put ``state`` back; return the names of the settings that the test had changed."""
    changed = []
    if torch.get_num_threads() != state["threads"]:
        changed.append("torch.set_num_threads")
        torch.set_num_threads(state["threads"])
    if (torch.are_deterministic_algorithms_enabled() != state["deterministic"]
            or torch.is_deterministic_algorithms_warn_only_enabled() != state["deterministic_warn_only"]):
        changed.append("torch.use_deterministic_algorithms")
        torch.use_deterministic_algorithms(state["deterministic"], warn_only=state["deterministic_warn_only"])
    if torch.get_default_dtype() != state["dtype"]:
        changed.append("torch.set_default_dtype")
        torch.set_default_dtype(state["dtype"])
    if torch.is_grad_enabled() != state["grad"]:
        changed.append("torch.set_grad_enabled")
        torch.set_grad_enabled(state["grad"])
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    random.setstate(state["python_rng"])
    if dict(os.environ) != state["environ"]:
        changed.append("os.environ")
        os.environ.clear()
        os.environ.update(state["environ"])
    if os.getcwd() != state["cwd"]:
        changed.append("the working directory")
        os.chdir(state["cwd"])
    return changed


@pytest.fixture(autouse=True)
def _isolated_global_state():
    """Restore the process-wide settings after each test (see the module docstring)."""
    state = _global_state()
    yield
    _restore(state)
