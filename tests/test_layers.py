"""The apps point one way (README, Layout): patients <- schedules <- clinic | portal | feeds | notices <- pumpcare."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_apps_import_only_the_layers_below_them():
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_check_catches_an_import_upwards(tmp_path):
    """The contract is not vacuous: in a copy of the tree, patients importing schedules breaks it."""
    for name in ("pumpcare", "patients", "schedules", "clinic", "portal", "feeds", "notices"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "patients" / "layer_probe.py").write_text("import schedules.models  # noqa: F401\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "patients.layer_probe -> schedules.models" in result.stdout
