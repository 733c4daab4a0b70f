"""End to end: the Live page in headless Chromium with a fake camera made from a real shared clip (squat_13,
two repetitions, converted to .y4m at test time with imageio-ffmpeg's ffmpeg), against the real server in a
subprocess. The fake camera loops the clip, so the test stops at the clip's count. Also: a refused camera
and a missing camera get their messages. Screenshots go to /tmp/web_screens/. Skipped without shared data,
/usr/bin/chromium or Playwright."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import shared_or_skip

from helpers.web_browser import SCREENS, launch_chromium, playwright_or_skip, web_server

CLIP_REPS = 2                 # squat_13: two completed repetitions (reps.json)
COUNT_TIMEOUT_MS = 240_000    # the fake camera runs at the clip's rate; the analysis keeps up as it can
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
CUES = ("window.__cues = []; "
        "window.addEventListener('squatpose:cue', (e) => window.__cues.push(e.detail.text));")


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory) -> Path:
    """squat_13.mp4 at 640×360 as a .y4m file, which Chromium's fake camera plays in a loop."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    source = shared_or_skip("squat_videos", "squat_13.mp4")
    dest = tmp_path_factory.mktemp("fake_camera") / "squat_13.y4m"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source), "-vf",
                    "scale=640:360",
                    "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp("live_e2e") / "web"
    with web_server(data, data.parent / "server.log", ready_path="/live") as url:
        yield url


@pytest.fixture(scope="module")
def playwright():
    with playwright_or_skip() as pw:
        yield pw


def browser_page(playwright, extra_args: list[str]):
    browser = launch_chromium(playwright, tuple(extra_args))
    page = browser.new_context(viewport={"width": 1200, "height": 860}).new_page()
    page.add_init_script(CUES)
    return browser, page


def test_live_set_with_a_fake_camera_counts_the_clip_and_speaks(server, camera_clip, playwright) -> None:
    browser, page = browser_page(playwright,
                                 FAKE_CAMERA + [f"--use-file-for-fake-video-capture={camera_clip}"])
    try:
        page.goto(server + "/live")
        page.screenshot(path=str(SCREENS / "live_1_before.png"))
        page.click("#live-start")
        page.wait_for_function("() => Number(document.getElementById('rep-counter').textContent) >= 1",
                               timeout=COUNT_TIMEOUT_MS)
        page.wait_for_function("() => document.getElementById('overlay').width > 0")
        page.screenshot(path=str(SCREENS / "live_2_first_rep.png"))
        page.wait_for_function("() => Number(document.getElementById('rep-counter').textContent) >= "
                               f"{CLIP_REPS}",
                               timeout=COUNT_TIMEOUT_MS)
        page.screenshot(path=str(SCREENS / "live_3_counted.png"))
        counted = int(page.text_content("#rep-counter"))
        cues = page.evaluate("() => window.__cues")
        # one cue per repetition, as the event says
        assert counted == CLIP_REPS and len(cues) == CLIP_REPS, cues
        assert [li.strip() for li in page.locator("#cue-log li").all_text_contents()] == cues
        assert cues[0].startswith("Rep 1: ")
        assert page.text_content("#verdict").startswith(f"Rep {CLIP_REPS}: ")

        page.click("#live-stop")   # the camera loops the clip: stop at its count
        page.wait_for_url("**/#/jobs/*", timeout=60_000)
        page.wait_for_selector("#rep-count, #error-message", timeout=150_000)
        assert page.locator("#error-message").count() == 0, page.text_content("#error-message")
        assert int(page.text_content("#rep-count")) == CLIP_REPS
        assert page.is_visible("#live-save") and "A live set keeps no video" in page.text_content("#results")
        page.screenshot(path=str(SCREENS / "live_4_result.png"), full_page=True)
        job_id = page.url.rsplit("/", 1)[-1]
        assert all(j["id"] != job_id for j in page.request.get(server + "/api/jobs").json()["jobs"])
        page.click("#save-live")
        page.wait_for_selector("#live-save", state="hidden")
        assert any(j["id"] == job_id for j in page.request.get(server + "/api/jobs").json()["jobs"])
    finally:
        browser.close()


@pytest.mark.parametrize("args, words, shot", [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "The camera was refused",
     "live_5_refused.png"),
    ([], "No camera was found", "live_6_no_camera.png"),
])
def test_camera_refused_or_missing_gets_a_clear_message(server, playwright, args, words, shot) -> None:
    browser, page = browser_page(playwright, args)
    try:
        page.goto(server + "/live")
        page.click("#live-start")
        page.wait_for_selector("#live-message:not([hidden])", timeout=30_000)
        page.wait_for_function("() => "
                               f"document.getElementById('live-message').textContent.includes({words!r})",
                               timeout=30_000)
        assert page.is_enabled("#live-start") and not page.is_enabled("#live-stop")
        page.screenshot(path=str(SCREENS / shot))
    finally:
        browser.close()
