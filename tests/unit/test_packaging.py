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


def test_drivers_and_simulator_install_under_ledctl(tmp_path: Path) -> None:
    # Away from the repository (whose folders would otherwise be found on sys.path): the installed
    # project has ledctl.drivers and ledctl.simulator, and nothing named drivers or simulator at the top.
    probe = ("import importlib.util as u, ledctl.drivers, ledctl.simulator; "
             "print(ledctl.drivers.__name__, ledctl.simulator.__name__, "
             "u.find_spec('drivers') is None, u.find_spec('simulator') is None, "
             "u.find_spec('fonts') is None)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ledctl.drivers", "ledctl.simulator", "True", "True", "True"]


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
