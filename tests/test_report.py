"""The build report: report.md + report.html rendered from the build folder; the HTML screenshotted
in headless Chromium shows every figure (counted by each figure's signature colour)."""
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sqzfpga.report.plots import COLOURS
from sqzfpga.report.page import write_report

pytestmark = pytest.mark.xdist_group("default_build")  # uses the shared default build (conftest)

WIDTH, HEIGHT = 1280, 7000  # tall enough for the whole report of the default model


def screenshot(html: Path, png: Path) -> np.ndarray:
    """Headless Chromium's screenshot of `html` (WIDTH x HEIGHT), as an RGB array."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (Debian package `chromium`; scripts/system-packages.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--disable-background-networking", "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
             "--hide-scrollbars", "--force-device-scale-factor=1", f"--window-size={WIDTH},{HEIGHT}",
             f"--screenshot={png}", html.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]
    img = Image.open(png)
    assert img.format == "PNG" and img.size == (WIDTH, HEIGHT), (img.format, img.size)
    return np.asarray(img.convert("RGB")).astype(int)


def colour_pixels(img: np.ndarray, hex_colour: str, tol: int = 8) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int(np.all(np.abs(img - rgb) <= tol, axis=-1).sum())


def test_report_files_and_screenshot_show_every_figure(default_build, tmp_path):
    out, _ = default_build
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    # self-contained: figures inline, no scripts, nothing fetched from elsewhere
    imgs = re.findall(r"<img [^>]*>", html)
    assert len(imgs) == len(COLOURS) and all('src="data:image/png;base64,' in i for i in imgs)
    assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)
    for name in COLOURS:
        assert f"](report/{name}.png)" in md and (out / "report" / f"{name}.png").stat().st_size > 5000
    # the content the issue asks for, in both
    for text in (md, html):
        for needle in ("Model and target", "Fit against the part", "Accuracy", "Layers", "Value ranges",
                       "RTL dataflow", "Reproduce", "python -m sqzfpga build --part xc7z020 --board pynq-z2",
                       "python -m sqzfpga rtlsim --build", "python -m sqzfpga synth --build", "fire1", "bottleneck"):
            assert needle in text, needle

    shot = screenshot(out / "report.html", tmp_path / "report.png")
    print(f"\nscreenshot: {tmp_path / 'report.png'}")
    seen = {name: colour_pixels(shot, c) for name, c in COLOURS.items()}
    assert all(n >= 10_000 for n in seen.values()), seen  # every figure is drawn, in view
    # the check has teeth: the same page without its <img> tags has none of those colours
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<img [^>]*>", "", html))
    shot = screenshot(bare, tmp_path / "bare.png")
    gone = {name: colour_pixels(shot, c) for name, c in COLOURS.items()}
    assert all(n < 50 for n in gone.values()), gone


def test_report_fills_in_rtl_results_and_escapes_names(default_build, tmp_path):
    """Rendered again from the folder's files alone: RTL simulation and synthesis results appear,
    missing ones say how to get them; a model file name never reaches the HTML unescaped."""
    out, _ = default_build
    d = tmp_path / "b"
    (d / "rtl").mkdir(parents=True)
    for f in ("build.json", "report.json", "rtl/rtl.json"):
        shutil.copy(out / f, d / f)
    facts = json.loads((d / "report.json").read_text())
    facts["model"]["file"] = "/m/<img src=x onerror=alert(1)>.pt"
    (d / "report.json").write_text(json.dumps(facts))
    write_report(d)
    html, md = (d / "report.html").read_text(), (d / "report.md").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;.pt" in html
    rtlsim_section = md.split("## RTL simulation")[1].split("##")[0]
    assert "Not run: `python -m sqzfpga rtlsim --build" in rtlsim_section
    assert "Synthesis not run: `python -m sqzfpga synth --build" in md
    # no timing estimate: frames/s at the requested clock, said so, and how to get an estimate
    assert "MHz** (requested; clock not analysed: `python -m sqzfpga synth --build" in md
    assert "cycles per frame (RTL plan)" in md
    assert "batch-1 latency (first pixel in to last score out): not measured: `python -m sqzfpga rtlsim" in md

    (d / "rtlsim.json").write_text(json.dumps({
        "images": 20, "exact": True, "mismatching_values": 0, "accuracy": 0.95, "cycles_per_frame": 31400.0,
        "latency_cycles": 60000, "requested_clock_mhz": 100.0, "clock_mhz": 100.0,
        "clock_source": "requested, not analysed", "fmax_mhz": None, "fps": 3184.7, "latency_us": 600.0,
        "planned_cycles_per_frame": 31360}))
    (d / "rtl" / "timing.json").write_text(json.dumps({
        "part": "xc7z020", "route_ns_per_net": 0.45, "fmax_mhz": 80.0, "stages": {},
        "critical_path": {"stage": "l2_conv1", "ns": 12.5, "levels": 7, "start": "a.Q[0]", "end": "b.D[0]"}}))
    (d / "rtl" / "synth.json").write_text(json.dumps({
        "lut": 40000, "lut_as_memory": 5000, "ff": 50000, "bram36": 90.5, "ramb36": 80, "ramb18": 21, "dsp": 125,
        "part": "xc7z020", "fits": True, "synth_s": 100.0}))
    write_report(d)
    html, md = (d / "report.html").read_text(), (d / "report.md").read_text()
    assert "| RTL simulation (20 verification images) | 95.00% |" in md
    assert "20 images back to back on Verilator: all outputs equal to the C simulation" in md
    assert "| LUT | 53,200 | 47,880 |" in md and "| 40,000 (75%) |" in md and "Synthesis not run" not in md
    assert "Yosys synth_xilinx (100.0 s): <b>fits</b>" in html
    # an estimate below the requested clock: frames/s and latency at fmax, from the simulated cycles
    assert "- clock used: **80.0 MHz** (the estimated fmax; 100 MHz requested); estimated fmax 80.0 MHz, critical " \
        "path 12.5 ns in l2_conv1" in md
    assert "**2,548 frames/s** at 80.0 MHz = 31,400.0 cycles per frame (RTL simulation)" in md  # 80e6 / 31400
    assert "**750.0 us** at 80.0 MHz = 60,000 cycles (RTL simulation)" in md
    assert "clock not analysed" not in md and "3,185 frames/s" not in md
