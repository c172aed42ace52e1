"""Shared fixtures: the `nacc` binary the package is compared with, the
repository's assets, and whether a GPU adapter must be there (CI=true)."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"


@pytest.fixture(scope="session")
def nacc_bin() -> str:
    """The command line built from the same checkout (`cargo test` sets
    NACC_BIN to it)."""
    path = os.environ.get("NACC_BIN")
    if not path or not Path(path).is_file():
        pytest.fail("NACC_BIN must name the nacc binary of this checkout (cargo test sets it)")
    return path


def cli(nacc_bin: str, *args: str) -> subprocess.CompletedProcess:
    """`nacc ARGS`, its output captured."""
    return subprocess.run([nacc_bin, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def gpu_or_skip() -> None:
    """A GPU adapter (lavapipe in CI): skipped without one, failed under CI=true."""
    import nacc

    if not nacc.devices():
        if os.environ.get("CI") == "true":
            pytest.fail("no GPU adapter: CI installs lavapipe (mesa-vulkan-drivers), so this must not happen")
        pytest.skip("no GPU adapter (apt-get install mesa-vulkan-drivers gives lavapipe)")
