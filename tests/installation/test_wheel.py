"""The wheel works outside the checkout.

`pip wheel .` from a copy of the sources, installed with `--no-deps` into a fresh virtual
environment that sees the dependencies already installed here (a .pth file pointing at this
interpreter's site-packages: nothing is downloaded). Everything runs from a temporary folder
with no PYTHONPATH, so only the installed package can be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from dashboard import server

from . import live
from .test_served_safely import AROUND_CAP, HOSTILE, expect_safe

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "fragility", "dashboard")
# One worker builds and installs the wheel once for every test of this module.
pytestmark = [pytest.mark.install, pytest.mark.xdist_group("installed-wheel")]


class Installed:
    def __init__(self, wheel: Path, venv: Path, site: Path, work: Path):
        self.wheel, self.venv, self.site, self.work = wheel, venv, site, work
        self.python = venv / "bin" / "python"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}

    def run(self, *command: str | Path, timeout: float = 300) -> str:
        done = subprocess.run([str(part) for part in command], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def python_json(self, code: str) -> dict:
        return json.loads(self.run(self.python, "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"   # a clean copy: no stale build/ or egg-info from the checkout
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir",
                    str(base / "dist"), str(source)], check=True, cwd=base)
    wheel, = (base / "dist").glob("fragility-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site, = (venv / "lib").glob("python*/site-packages")
    # The dependencies (torch, streamlit, ...) come from this interpreter's site-packages,
    # after the venv's own: the installed wheel shadows any fragility found there.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "--ignore-installed", str(wheel)], check=True, cwd=base)
    work = base / "work"
    work.mkdir()
    return Installed(wheel, venv, site, work)


def test_wheel_contents(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for required in ("fragility/assets/models/bundled.safetensors",
                     "fragility/assets/models/MODEL_CARD.md",
                     "fragility/assets/models/bundled-control.safetensors",
                     "fragility/assets/models/MODEL_CARD-control.md",
                     "fragility/assets/images/samples.json",
                     "fragility/assets/images/LICENSES.md",
                     "fragility/assets/images/chelsea.jpg",
                     "fragility/assets/images/shape_star_1_mask.png",
                     "dashboard/app.py", "dashboard/settings.py", "dashboard/server.py",
                     "dashboard/.streamlit/config.toml",
                     "dashboard/views/attack.py", "dashboard/components/figures.py"):
        assert required in names, required
    index = json.loads(zipfile.ZipFile(installed.wheel).read("fragility/assets/images/samples.json"))
    for entry in index:   # every sample the index names is in the wheel
        assert f"fragility/assets/images/{entry['file']}" in names
    assert not any(name.startswith(("tests/", "benchmarks/", "scripts/")) for name in names)
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    assert "License-Expression: MIT" in zipfile.ZipFile(installed.wheel).read(metadata).decode()


def test_an_attack_through_the_api(installed):
    result = installed.python_json("""
import json, fragility as fg
model = fg.load_model("bundled", device="cpu")
sample = fg.samples("synthetic")[0]
image = sample.load(size=model.input_size)
res = fg.attack(model, image, method="gradient", attack="top-k", epsilon=8/255, steps=5,
                mask=sample.load_mask(model.input_size))
print(json.dumps({"module": fg.__file__, "samples": len(fg.samples()),
                  "label": model.label_name(int(res.labels[0])), "truth": sample.label,
                  "steps": res.steps_run, "spearman": res.metrics["spearman"][0].item(),
                  "linf": (res.perturbed - image).abs().max().item()}))
""")
    assert Path(result["module"]).is_relative_to(installed.venv)   # not the checkout's
    assert result["samples"] >= 24 and result["steps"] == 5
    assert result["label"] == result["truth"]                      # the bundled model works
    assert result["linf"] <= 8 / 255 + 1e-6 and -1 <= result["spearman"] <= 1


def test_the_command_line(installed):
    image = installed.site / "fragility" / "assets" / "images" / "shape_star_1.png"
    out = installed.work / "cli"
    installed.run(installed.venv / "bin" / "fragility", "attack", "--image", image,
                  "--steps", "3", "--out", out)
    record = json.loads((out / "result.json").read_text())
    assert record["steps_run"] == 3 and record["labels"]["original"] == "star"
    assert (out / "panel.png").stat().st_size > 0 and (out / "perturbed.png").stat().st_size > 0


def test_the_dashboard_in_apptest(installed):
    page = installed.python_json("""
import json, pathlib, dashboard
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(str(pathlib.Path(dashboard.__file__).parent / "app.py"), default_timeout=120)
at.run()
print(json.dumps({"module": dashboard.__file__, "errors": [e.value for e in at.exception],
                  "buttons": [b.label for b in at.button],
                  "samples": list(at.selectbox(key="image_choice").options)}))
""")
    assert Path(page["module"]).is_relative_to(installed.venv)
    assert page["errors"] == [] and "Run attack" in page["buttons"]
    assert len(page["samples"]) >= 20   # the packaged sample images are offered


@pytest.fixture
def started():
    processes = []
    yield processes
    for process in processes:
        server.stop(process)


def test_fragility_dashboard_serves_safely(installed, started):
    process, url = server.start(launcher=[installed.venv / "bin" / "fragility-dashboard"],
                                cwd=installed.work, env=installed.env)
    started.append(process)
    expect_safe(live.served(url, upload_mb=AROUND_CAP))


def test_plain_streamlit_run_of_the_installed_app_serves_safely(installed, started, tmp_path):
    # From a folder whose own config asks for the opposite: the installed settings win.
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text(HOSTILE)
    app = installed.site / "dashboard" / "app.py"
    process, url = server.start(launcher=[installed.python, "-m", "streamlit", "run", app],
                                cwd=tmp_path, env=installed.env)
    started.append(process)
    expect_safe(live.served(url, upload_mb=AROUND_CAP))
