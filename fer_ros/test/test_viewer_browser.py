"""The viewer's page in a real headless browser: Debian's chromium, driven by playwright.

playwright is pointed at the system's /usr/bin/chromium; its own browser download needs the
internet and is never used. Outside CI a machine without chromium skips this test and says
why; in CI (CI=true) a missing browser fails it, since .ci/run installs chromium first.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from fer_ros.perception.expressions.labels import EMOTIONS
from fer_ros.viewer.broadcast import Broadcast
from fer_ros.viewer.server import start_viewer
from ros_harness import NodeProcess, executable, wait_until
from viewer_client import answers, free_port, get, sse_events

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 30.0
LABEL_TIMEOUT_MS = 10_000


def browser_or_skip() -> None:
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"Debian's chromium ({CHROMIUM}; apt-get install chromium)")
    if find_spec("playwright") is None:
        missing.append("playwright (pip install -r requirements-test.txt)")
    if not missing:
        return
    reason = "the browser test needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: in CI it must run (.ci/run installs chromium)")
    pytest.skip(reason)


def test_the_page_shows_the_live_image_and_the_faces(ros_env, tmp_path):
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    port = free_port()
    bringup = NodeProcess([*executable("fer"), "bringup", "--seconds", "90", "--view",
                           str(port)], ros_env, tmp_path / "bringup.log")
    try:
        assert wait_until(lambda: answers(port), START_TIMEOUT), bringup.output
        # The pipeline has started once results with faces flow; the 10 s are the page's.
        events = sse_events(get(port, "/events", timeout=START_TIMEOUT))
        assert any(e["faces"] for e in events)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                outside: list[str] = []
                page.on("request", lambda r: None if r.url.startswith(
                    f"http://127.0.0.1:{port}/") else outside.append(r.url))
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                label = page.locator("#faces li .label").first
                label.wait_for(timeout=LABEL_TIMEOUT_MS)
                assert label.inner_text().lower() in EMOTIONS
                assert page.locator("#faces li .emoji").first.inner_text().strip()
                assert page.locator("#faces li .confidence").first.inner_text().endswith("%")
                live = page.locator("#live")
                assert wait_until(lambda: live.evaluate("img => img.naturalWidth") == 640, 10)
                first = live.screenshot()
                changed = wait_until(lambda: live.screenshot() != first, 10, interval=0.3)
                assert changed, "the image did not change in 10 s"
                page.wait_for_timeout(1500)  # a few timeline redraws
                page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
                assert not errors, errors
                assert not outside, f"the page asked for something elsewhere: {outside}"
            finally:
                browser.close()
    finally:
        code, _ = bringup.stop(timeout=15)
    assert code == 0 and "Traceback" not in bringup.output, bringup.output


@pytest.mark.parametrize("ci", ["true", None], ids=["in CI", "elsewhere"])
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere_saying_why(monkeypatch, tmp_path,
                                                                      ci):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "chromium")
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected) as caught:
        browser_or_skip()
    assert f"Debian's chromium ({tmp_path / 'chromium'}; apt-get install chromium)" \
        in str(caught.value)


def test_a_new_page_starts_with_the_last_minute_and_survives_a_nan_result():
    """The server alone (no ROS): a minute of results before the page opens fills its
    timeline at once; a result whose numbers are NaN breaks nothing in the page."""
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    broadcast = Broadcast()
    scores = dict.fromkeys(EMOTIONS, 0.1)
    for tenth in range(300):
        broadcast.publish_event({"stamp": 100 + tenth / 10, "frame_id": "", "faces": [
            {"face_id": 4, "label": "sad", "confidence": 0.8, "box": [1, 2, 3, 4],
             "scores": scores}]})
    server = start_viewer("127.0.0.1", 0, broadcast)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(server.url, wait_until="domcontentloaded")
                label = page.locator("#faces li .label").first
                label.wait_for(timeout=LABEL_TIMEOUT_MS)
                assert label.inner_text().lower() == "sad", "the faces come from the history"
                assert page.evaluate("history.get(4).length") == 300, \
                    "the timeline holds the last minute"
                broadcast.publish_event({"stamp": 131.0, "frame_id": "", "faces": [
                    {"face_id": 4, "label": "happy", "confidence": float("nan"),
                     "box": [1, 2, 3, 4], "scores": dict.fromkeys(EMOTIONS, float("nan"))}]})
                page.locator("#faces li .label", has_text="happy").wait_for(
                    timeout=LABEL_TIMEOUT_MS)
                assert page.locator("#faces li .confidence").first.inner_text() == "? %"
                page.wait_for_timeout(500)  # two timeline redraws with the NaN result
                assert not errors, errors
            finally:
                browser.close()
    finally:
        server.stop()
