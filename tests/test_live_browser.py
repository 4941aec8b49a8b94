"""The live page in a real headless Chromium (Debian's chromium), driven by Playwright.

A small network trains in a thread of the test, calling the live view's
watcher as main.py's loop does; the browser opens its page, waits for the
first epoch's point on the curves, draws a digit on #pad with the mouse,
reads the class in #answer, pauses and checks that the step count stops,
continues, stops the run from the page, and checks that the page logged no
error. In CI (CI=true) a missing browser or Playwright is a failure, never a
skip; .ci/run installs both.
"""

import os
import shutil
import threading
import time

import pytest
from helpers import FakeStop, watched_run

import live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def playwright_or_skip():
    """Playwright's sync API, or a skip (outside CI) or a failure (in CI) saying what is
    missing."""
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if why is None and not os.path.exists(CHROMIUM):
        why = "Debian's chromium is not installed (apt-get install chromium)"
    if why and os.environ.get("CI"):
        pytest.fail(f"the browser tests must run in CI: {why}")
    if why:
        pytest.skip(why)
    return sync_playwright


@pytest.fixture
def page():
    """A page of headless Chromium, and the list of errors it logged."""
    sync_playwright = playwright_or_skip()
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", lambda m: m.type == "error" and errors.append(m.text))
            tab.on("pageerror", lambda e: errors.append(str(e)))
            yield tab, errors
        finally:
            browser.close()


def steps(tab):
    return int(tab.inner_text("#steps"))


def wait_until(condition, seconds=20):
    """Poll condition() until true: Playwright's wait_for_function evaluates a string in
    the page, which the page's Content-Security-Policy forbids (as it should)."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_the_page_watches_a_run_answers_a_drawing_pauses_and_stops(page, mnist_small):
    tab, errors = page
    X, y = mnist_small
    watcher, stop = live.Live(), FakeStop()
    watcher.serve("127.0.0.1", 0)
    run = threading.Thread(target=watched_run, args=([watcher], X[:1000], y[:1000], X[1000:1400],
                                                     y[1000:1400]),
                           kwargs={"epochs": 100, "pace": 0.01, "stop": stop})
    run.start()
    try:
        tab.goto(watcher.url)
        wait_until(lambda: int(tab.get_attribute("#loss-chart", "data-epochs") or 0) >= 1)
        assert tab.locator("#loss-chart canvas").count() == 1
        box = tab.locator("#pad").bounding_box()
        tab.mouse.move(box["x"] + 80, box["y"] + 60)  # a 7: a bar, then a slanted stroke
        tab.mouse.down()
        tab.mouse.move(box["x"] + 200, box["y"] + 60, steps=8)
        tab.mouse.move(box["x"] + 120, box["y"] + 230, steps=12)
        tab.mouse.up()
        wait_until(lambda: tab.inner_text("#answer").strip().isdigit())
        answer = tab.inner_text("#answer").strip()
        bars = tab.locator("#probs .bar")
        assert bars.count() == 10
        assert [k for k in range(10) if "top" in bars.nth(k).get_attribute("class")] == [int(answer)]
        assert tab.locator("#hidden canvas").count() == 1  # the one hidden layer's activations
        tab.click("#pause")
        wait_until(lambda: tab.inner_text("#status") == "paused")
        time.sleep(1.8)  # the page polls every 1.5 s: a poll since the pause
        paused_at = steps(tab)
        time.sleep(2.0)
        assert steps(tab) == paused_at and watcher._steps == paused_at
        tab.click("#pause")  # now "continue"
        wait_until(lambda: steps(tab) > paused_at)
        tab.click("#stop")
        run.join(20)
        assert not run.is_alive() and stop.set
        wait_until(lambda: tab.inner_text("#status") == "stopped")
        assert errors == []
    finally:
        stop.set = True
        watcher.resume()
        run.join()
        watcher.close()


def test_the_benchmark_of_the_live_page_runs(mnist_small, capsys):
    """bench.py --live's section on a few hundred rows: it prints both timings and a ratio
    (the figure itself is the benchmark's, not asserted)."""
    import argparse

    from test_bench import load_bench

    playwright_or_skip()
    bench = load_bench()
    X, y = mnist_small
    args = argparse.Namespace(live_rounds=1, warmup=0, settle=0.0)
    part = bench.report_live(args, bench.default_config(), X[:300], y[:300], X[300:400],
                             y[300:400])
    out = capsys.readouterr().out
    assert part.startswith("live page ") and part.endswith("x the epoch without")
    assert "epoch without" in out and "epoch with the page" in out and "CPU seconds" in out
