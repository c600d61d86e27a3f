"""The hostile-upload corpus through the real server and Chromium.

Each file is uploaded where a visitor would put it. Afterwards the server still answers,
the page shows one message that names the file (or accepts it), no pickle has run, no
script or dialog has fired, no request has left the server, and the contents of a file
on the server that TorchScript code tried to read appear nowhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

import hostile
from dashboard import server

pytestmark = pytest.mark.browser
expect.set_options(timeout=60_000)
SECRET = "fragility-browser-secret-3c5b"
MODEL_LIMIT_MB = 2
SETTINGS = {"FRAGILITY_MAX_MODEL_MB": str(MODEL_LIMIT_MB), "FRAGILITY_TRIAL_SECONDS": "10"}


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    secret = folder / "secret.txt"
    secret.write_text(SECRET)
    return hostile.Context(secret=secret, marker=folder / "marker", model_limit_mb=MODEL_LIMIT_MB)


@pytest.fixture(scope="module")
def hostile_server():
    """A dashboard on 127.0.0.1 (so TorchScript is on by default) with small model limits."""
    saved = {name: os.environ.get(name) for name in SETTINGS}
    os.environ.update(SETTINGS)
    try:
        process, url = server.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield process, url
    server.stop(process)


@contextlib.contextmanager
def dashboard_page(browser, url: str):
    """A fresh visitor's page, once the dashboard has drawn its Run button."""
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    try:
        page.goto(url)
        page.get_by_role("button", name="Run attack").wait_for(timeout=120_000)
        yield page
    finally:
        page.context.close()


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as answer:
        return answer.status == 200


def settled(page) -> None:
    """Wait until the script run that the last click started has finished, as a person
    does before the next step (a file chosen while the page is still rerunning can be
    dropped by the rerun)."""
    page.wait_for_timeout(250)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=60_000)


def choose(page, label: str, option: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    settled(page)


def uploader(page, label: str):
    return page.get_by_test_id("stFileUploader").filter(has_text=label).locator(
        "input[type=file]")


def upload(page, item: hostile.Item) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    if item.slot == "image":
        choose(page, "Sample", "Upload your own image")
        target = uploader(page, "Image file")
    elif item.slot == "labels":
        target = uploader(page, "Labels")
    else:
        sidebar.get_by_text("Your own file", exact=True).click()
        settled(page)
        if item.slot == "torchscript":
            sidebar.get_by_text("TorchScript", exact=True).click()
            settled(page)
        else:
            choose(page, "Architecture", "bundled")
        target = uploader(page, "Model file")
    target.set_input_files({"name": item.name, "mimeType": "application/octet-stream",
                            "buffer": item.data})


@pytest.mark.parametrize("name", hostile.NAMES)
def test_hostile_upload_through_the_page(browser, hostile_server, context, name):
    process, url = hostile_server
    item = hostile.item(name, context)
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    dialogs, outside = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((url, "data:", "blob:")) else None)
    try:
        page.goto(url)
        page.get_by_role("button", name="Run attack").wait_for(timeout=120_000)
        upload(page, item)
        errors = page.get_by_test_id("stAlertContentError")
        if item.expect is None:
            page.get_by_role("button", name="Run attack").wait_for()
            expect(page.get_by_test_id("stImage").filter(has_text=" map").first).to_be_visible()
            expect(errors).to_have_count(0)
        else:
            shown = errors.filter(has_text=Path(item.name).stem)   # TorchScript: its stem
            shown.first.wait_for(timeout=120_000)
            expect(shown).to_have_count(1)                       # once, not twice
            assert re.search(item.expect, shown.first.inner_text()), shown.first.inner_text()
            expect(page.get_by_test_id("stSidebar").get_by_test_id("stAlert")).to_have_count(0)
        if item.name == hostile.MARKUP_NAME or item.slot == "labels":
            assert page.locator("a[href^='javascript']").count() == 0
            assert page.locator(".katex, img[src='x'], script:has-text('alert')").count() == 0
        if item.name == "markup-labels.txt":      # shown literally, as text
            literal = re.compile("Original: (" + "|".join(map(re.escape, hostile.MARKUP_LABELS))
                                 + r") \(")
            expect(page.get_by_test_id("stImageCaption").filter(has_text=literal)).to_have_count(1)
        text = page.locator("body").inner_text()
        assert SECRET not in page.content() and SECRET not in text
        assert "Traceback" not in text and "/tmp/" not in text
        assert not dialogs and not outside, (dialogs, outside)
    finally:
        page.context.close()
    assert healthy(url) and process.poll() is None
    assert not context.marker.exists()


def shown_caption(page, label: str) -> str:
    """The caption under an uploader as drawn: the text Streamlit writes there is hidden
    (font size 0) and the dashboard's rule draws its own after it."""
    instructions = page.get_by_test_id("stFileUploader").filter(has_text=label).get_by_test_id(
        "stFileUploaderDropzoneInstructions").locator("span")
    hidden = instructions.evaluate("e => getComputedStyle(e).fontSize")
    drawn = instructions.evaluate("e => getComputedStyle(e, '::after').content")
    assert hidden == "0px", hidden
    return drawn.strip('"')


def test_each_uploader_states_its_own_limit_not_the_servers_ceiling(browser, hostile_server):
    _, url = hostile_server
    with dashboard_page(browser, url) as page:
        assert shown_caption(page, "Labels") == "1 MB per file • TXT, JSON"
        choose(page, "Sample", "Upload your own image")
        assert shown_caption(page, "Image file") == \
            "20 MB per file • PNG, JPG, JPEG, WEBP, GIF, BMP, TIF, TIFF"
        page.get_by_test_id("stSidebar").get_by_text("Your own file", exact=True).click()
        settled(page)
        assert shown_caption(page, "Model file") == \
            f"{MODEL_LIMIT_MB} MB per file • PT, PTH, TS, SAFETENSORS, BIN"


def test_after_the_whole_corpus_the_server_still_runs_a_normal_attack(browser, hostile_server):
    """Runs after the corpus above (one worker runs this module in order, on its server)."""
    process, url = hostile_server
    with dashboard_page(browser, url) as page:
        steps = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Steps", exact=True)
        steps.fill("5")
        steps.press("Enter")
        settled(page)
        page.get_by_role("button", name="Run attack").click()
        finished = page.get_by_text(re.compile(r"^Finished 5 steps"))
        failure = page.get_by_test_id("stException").or_(page.get_by_test_id("stAlertContentError"))
        finished.or_(failure).first.wait_for(timeout=300_000)
        assert failure.count() == 0, failure.first.inner_text()
        expect(page.get_by_test_id("stMetric").filter(has_text="Spearman ρ")).to_have_count(1)
    assert healthy(url) and process.poll() is None
