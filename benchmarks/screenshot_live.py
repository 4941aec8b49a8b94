"""A screenshot of the live page in the middle of a training run, for docs/live.md.

    python benchmarks/screenshot_live.py                  # into a new scratch folder
    python benchmarks/screenshot_live.py --out /tmp/shot  # into this folder

Trains `python main.py --LIVE=True` on the first --rows rows of train.csv
(a child process, its runs in the scratch folder), opens its page in
headless Chromium (Debian's chromium, driven by Playwright), draws a 7 on
the pad, waits for --at epochs to finish, and saves the page as live.png in
the scratch folder, as a palette PNG small enough for the repository. Then
stops the run with Ctrl-C. Copy the picture into images/ by hand; nothing
here writes there.
"""

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_BYTES = 200_000


def wait_until(condition, seconds, what):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"error: timed out waiting for {what}")
        time.sleep(0.1)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--out", help="the scratch folder (default: a new temporary one)")
    p.add_argument("--rows", type=int, default=12000, help="rows of train.csv to train on")
    p.add_argument("--epochs", type=int, default=30, help="EPOCHS of the run")
    p.add_argument("--at", type=int, default=6, help="epochs finished when the picture is taken")
    args = p.parse_args(argv)
    from PIL import Image
    from playwright.sync_api import sync_playwright

    out = Path(args.out or tempfile.mkdtemp(prefix="live-shot-"))
    out.mkdir(parents=True, exist_ok=True)
    subset = out / "train-subset.csv"
    with open(ROOT / "train.csv", encoding="utf-8") as src, open(subset, "w", encoding="utf-8") as dst:
        dst.writelines(itertools.islice(src, args.rows + 1))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    child = subprocess.Popen(
        [sys.executable, "-u", str(ROOT / "main.py"), "--LIVE=True", "--LIVE_PORT=0",
         f"--TRAIN_CSV={subset}", f"--RUNS_DIR={out / 'runs'}", f"--EPOCHS={args.epochs}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = next((line.strip() for line in child.stdout if line.startswith("http://")), None)
        if url is None:
            raise SystemExit("error: main.py printed no address")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            tab = browser.new_page(viewport={"width": 1500, "height": 1040})
            tab.goto(url)
            wait_until(lambda: tab.locator("#loss-chart canvas").count(), 60, "the first epoch")
            box = tab.locator("#pad").bounding_box()
            tab.mouse.move(box["x"] + 70, box["y"] + 60)  # a 7
            tab.mouse.down()
            tab.mouse.move(box["x"] + 205, box["y"] + 60, steps=8)
            tab.mouse.move(box["x"] + 125, box["y"] + 235, steps=12)
            tab.mouse.up()
            wait_until(lambda: int(tab.get_attribute("#loss-chart", "data-epochs") or 0)
                       >= args.at, 300, f"epoch {args.at}")
            time.sleep(1.5)  # the epoch's pictures and the pad's new answer
            shot = out / "live-full.png"
            tab.screenshot(path=str(shot), full_page=True)
            browser.close()
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
    picture = out / "live.png"
    with Image.open(shot) as img:
        img = img.convert("RGB")
        img = img.resize((img.width * 2 // 3, img.height * 2 // 3), Image.Resampling.LANCZOS)
        img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(picture, optimize=True)
    size = picture.stat().st_size
    print(f"wrote {picture} ({size:,} bytes{'' if size < MAX_BYTES else ', too large for images/'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
