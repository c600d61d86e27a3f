"""Server memory for a large image upload: a flat 6300x6300 PNG, then slider moves.

A flat PNG is small on disk and large when decoded (6300 x 6300 x 3 bytes = 119 MB as
8-bit RGB, 476 MB as float32). The script starts the dashboard, uploads the file in
Chromium, moves the opacity slider (each move reruns the page) and prints the server's
resident memory before the upload and its peak (VmHWM) afterwards.

    .venv/bin/python benchmarks/bench_large_upload.py [--moves 6]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import server  # noqa: E402

SIDE = 6300
TIMEOUT = 300_000   # ms


def flat_png(side: int = SIDE) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def choose_upload(page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Sample").click()
    page.get_by_role("option", name="Upload your own image").click()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=6, help="slider moves after the upload")
    args = parser.parse_args()
    data = flat_png()
    folder = Path(tempfile.mkdtemp(prefix="fragility-bench-"))
    path = folder / "flat-6300.png"
    path.write_bytes(data)
    process, url = server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=server.CHROMIUM,
                                                 args=server.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.get_by_role("button", name="Run attack").wait_for(timeout=TIMEOUT)
            before = memory_mb(process.pid, "VmRSS")
            choose_upload(page)
            start = time.perf_counter()
            uploader = page.get_by_test_id("stFileUploader").filter(has_text="Image file")
            uploader.locator("input[type=file]").set_input_files(str(path))
            page.get_by_test_id("stImage").filter(has_text=" map").first.wait_for(
                timeout=TIMEOUT)
            shown = time.perf_counter() - start
            slider = page.get_by_role("slider", name="Map opacity over the image")
            for move in range(args.moves):
                slider.focus()
                slider.press("ArrowLeft" if move % 2 else "ArrowRight")
                page.wait_for_timeout(150)     # moves overlap the reruns, as a hand does
            page.wait_for_timeout(3000)
            page.get_by_test_id("stImage").filter(has_text=" map").first.wait_for(
                timeout=TIMEOUT)
            after = memory_mb(process.pid, "VmRSS")
            peak = memory_mb(process.pid, "VmHWM")
            browser.close()
    finally:
        server.stop(process)
        path.unlink()
        folder.rmdir()
    print(f"flat {SIDE}x{SIDE} PNG of {len(data) / 1000:.0f} kB, {args.moves} slider moves")
    print(f"server memory before the upload: {before:.0f} MB")
    print(f"server memory after:             {after:.0f} MB")
    print(f"server peak (VmHWM):             {peak:.0f} MB "
          f"(+{peak - before:.0f} MB over the memory before the upload)")
    print(f"upload to first map shown:       {shown:.1f} s")


if __name__ == "__main__":
    main()
