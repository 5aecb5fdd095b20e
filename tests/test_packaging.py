"""Install surface: supported Pythons declared in pyproject, and setup.sh taking torch from a chosen index."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_supported_pythons_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions = sorted(int(m.group(1)) for c in project["classifiers"]
                      if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c)))
    assert versions == [10, 11, 12, 13] and project["requires-python"] == ">=3.10"
    assert sys.version_info[:2] >= (3, versions[0])


@pytest.mark.parametrize("index", [None, "https://download.pytorch.org/whl/cpu"])
def test_setup_takes_the_torch_index_from_the_environment(tmp_path, index):
    """setup.sh run with a stand-in python3 whose venv's pip only records its arguments."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text('#!/bin/sh\nmkdir -p .venv/bin\n'
                    'printf \'pip() { printf "%%s|" "$@" >> pip.log; echo >> pip.log; }\\n\' > .venv/bin/activate\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("TORCH_INDEX_URL", None)
    if index:
        env["TORCH_INDEX_URL"] = index
    subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, env=env, check=True)
    first = (tmp_path / "pip.log").read_text().splitlines()[0].rstrip("|").split("|")
    assert first == ["install", "-q", "torch==2.13.0", *(["--index-url", index] if index else [])]
