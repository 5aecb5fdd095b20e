"""The README's commands run as written, in order, from a fresh clone: setup first, then the environment it
made is entered before any bare chromatize / pip / python command."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BARE = re.compile(r"^(chromatize|pip|python|torchrun)\b")
ACTIVATE = re.compile(r"^(\.|source) \.venv/bin/activate\b")


def shell_lines():
    """Every command line of the README's ```bash blocks, in order."""
    inside = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            yield line.strip()


def test_setup_then_activation_before_any_bare_command():
    lines = list(shell_lines())
    setup = next(i for i, line in enumerate(lines) if line.startswith("bash scripts/setup.sh"))
    activate = next((i for i, line in enumerate(lines) if ACTIVATE.match(line)), None)
    assert activate is not None and setup < activate, "the README never enters .venv after setup"
    early = [line for line in lines[:activate] if BARE.match(line)]
    assert not early, f"run before .venv is entered: {early}"
