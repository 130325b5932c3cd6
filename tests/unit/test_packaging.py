"""Packaging: every package folder is installed, under ledctl.* only."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import ledctl


def test_every_package_folder_is_listed(repo: Path) -> None:
    meta = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(meta["packages"])
    dirs = meta["package-dir"]
    found = set()
    for package, folder in dirs.items():
        for init in (repo / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(repo / folder).parts
            found.add(".".join((package, *rel)))
    # Subfolders of mapped packages that are themselves mapped elsewhere do not count twice.
    assert found <= listed | set(dirs), sorted(found - listed)
    assert all(p == "ledctl" or p.startswith("ledctl.") for p in listed)


def test_drivers_and_simulator_install_under_ledctl() -> None:
    import ledctl.drivers
    import ledctl.simulator

    assert Path(ledctl.drivers.__file__).parent.name == "drivers"
    assert Path(ledctl.simulator.__file__).parent.name == "simulator"


def test_version_from_both_entry_points() -> None:
    out = subprocess.run([sys.executable, "-m", "ledctl", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"ledctl {ledctl.__version__}"
    script = Path(sys.executable).parent / "ledctl"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"ledctl {ledctl.__version__}"


def test_state_dir_resolution(monkeypatch, tmp_path: Path) -> None:
    from ledctl.state import state_dir

    monkeypatch.delenv("LEDCTL_STATE", raising=False)
    assert state_dir() == Path("var")
    monkeypatch.setenv("LEDCTL_STATE", str(tmp_path / "env"))
    assert state_dir() == tmp_path / "env"
    assert state_dir(tmp_path / "flag") == tmp_path / "flag"
