import subprocess
import sys

from chromatize.cli import main


def test_models_lists_every_family(capsys):
    from chromatize.registry import list_models

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in list_models(kind=None):
        assert name in out


def test_python_m_entry_point():
    r = subprocess.run([sys.executable, "-m", "chromatize", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "chromatize" in r.stdout


def test_import_is_side_effect_free():
    code = "import sys, chromatize; assert 'torch' not in sys.modules, 'torch imported at package import'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
