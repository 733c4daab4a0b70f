"""End to end: the real server (uvicorn in a subprocess) driven by headless Chromium through Playwright.
Uploads real squat clips (a side, a front and a two-person video) and a photo, follows the progress,
checks the results page against summary.json, and checks that no page is wider than a 390 px phone.
Screenshots at 390 and 1280 px go to derived/web_screens/ (git-ignored): look at them after a change
to the page. Skipped without shared data, /usr/bin/chromium or Playwright."""
from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_or_skip

from helpers.synthetic_squats import render, squat_motion, squat_phase, trunk_lean_deg
from helpers.web_browser import SCREENS, launch_chromium, playwright_or_skip, web_server
from squatpose.analysis import analyze_tracks
from squatpose.joints import LOWER6
from squatpose.report.files import write_outputs
from squatpose.web.jobs import JobStore

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
RESULT_TIMEOUT_MS = 150_000


def downscaled_clip(dest: Path, size_wh: tuple[int, int] = (640, 360), step: int = 1,
                    name: str = "squat_13") -> Path:
    """All of a shared clip (default squat_13.mp4: 2 completed repetitions in 5.4 s, from behind),
    downscaled (and every `step`-th frame) to keep the CPU analysis short, written by OpenCV."""
    source = shared_or_skip("squat_videos", f"{name}.mp4")
    cap = cv2.VideoCapture(str(source))
    fps = (cap.get(cv2.CAP_PROP_FPS) or 30.0) / step
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, size_wh)
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            writer.write(cv2.resize(frame, size_wh, interpolation=cv2.INTER_AREA))
        index += 1
    writer.release()
    cap.release()
    return dest


def page_width(page) -> int:
    """How wide the document is laid out, px (wider than the viewport: the phone scrolls sideways)."""
    return page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def too_wide(page) -> list[str]:
    """The elements that reach past the right edge of the screen (tag#id.class: right edge px), leaving
    out the insides of a box that scrolls by itself."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .filter((e) => !e.parentElement.closest('.scroll'))  // scrolls inside its own box
        .concat([...document.querySelectorAll('body, body *')].filter((e) => !e.closest('.scroll')
          && e.scrollWidth > e.clientWidth + 0.5 && getComputedStyle(e).overflowX === 'visible'))
        .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}: `
                                + `${Math.round(e.getBoundingClientRect().right)}`)""")


def fits_and_shoot(page, name: str, sizes: tuple[dict, ...] = (PHONE, DESKTOP)) -> None:
    """At each size: no wider than the screen, and a full-page screenshot SCREENS/<name>_<width>.png."""
    for size in sizes:
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # the layout settles
        assert page_width(page) <= size["width"], (
            f"{name}: {page_width(page)} px wide on a {size['width']} px screen; too wide: {too_wide(page)}")
        page.screenshot(path=str(SCREENS / f"{name}_{size['width']}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def two_people_clip(dest: Path, side_h: int = 288, step: int = 2) -> Path:
    """Two real squat clips side by side in one frame: squat_13 (a man from behind, left) and squat_17
    (a woman from the side, right), each cropped around the person and downscaled, every `step`-th
    frame of the shorter one (110 frames: 55 at 12 fps), written by OpenCV."""
    caps = [cv2.VideoCapture(str(shared_or_skip("squat_videos", f"{name}.mp4")))
            for name in ("squat_13", "squat_17")]
    crops = ((420, 980), (260, 820))   # x range of each 1280×720 clip that holds its person
    side_w = round((crops[0][1] - crops[0][0]) * side_h / 720)
    writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), 24.0 / step, (2 * side_w, side_h))
    index = 0
    while True:
        read = [cap.read() for cap in caps]
        if not all(ok for ok, _ in read):
            break
        if index % step == 0:
            writer.write(np.hstack([cv2.resize(frame[:, x0:x1], (side_w, side_h),
                                               interpolation=cv2.INTER_AREA)
                                    for (_, frame), (x0, x1) in zip(read, crops)]))
        index += 1
    writer.release()
    for cap in caps:
        cap.release()
    return dest


def box_iou(a: list[float], b: list[float]) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.fixture(scope="module")
def web_root(tmp_path_factory) -> Path:
    """The server's temporary data folder."""
    return tmp_path_factory.mktemp("e2e_data") / "web"


@pytest.fixture(scope="module")
def base_url(web_root):
    """`squatpose.web.server.serve` in a subprocess on a free port with a temporary data folder."""
    with web_server(web_root, web_root.parent.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with playwright_or_skip() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        yield context.new_page()
        browser.close()


@pytest.fixture(scope="module")
def analysed(base_url, page, tmp_path_factory) -> dict:
    """Upload the clip through the page, follow the progress, wait for the results; screenshots of
    each step. Returns the job id and its summary.json as the API serves it."""
    clip = downscaled_clip(tmp_path_factory.mktemp("e2e_clip") / "squat 13.mp4")
    page.goto(base_url + "/")
    page.wait_for_selector("#model option", state="attached")
    page.set_input_files("#file", str(clip))
    assert "squat 13.mp4" in page.text_content("#file-name")
    page.screenshot(path=str(SCREENS / "1_upload.png"), full_page=True)

    page.click("#start")
    page.wait_for_url("**/#/jobs/*")
    job_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_function("""() => /frame \\d+ of \\d+/.test(
                                  document.getElementById('progress-text').textContent)
                              || document.getElementById('rep-count') !== null""", timeout=RESULT_TIMEOUT_MS)
    page.screenshot(path=str(SCREENS / "2_progress.png"), full_page=True)

    page.wait_for_selector("#rep-count, #error-message", timeout=RESULT_TIMEOUT_MS)
    if page.locator("#error-message").count():
        pytest.fail(f"the analysis failed: {page.text_content('#error-message')}")
    summary = page.request.get(f"{base_url}/api/jobs/{job_id}/files/summary.json").json()
    return {"id": job_id, "summary": summary}


def test_results_page_shows_the_analysis(analysed, page) -> None:
    summary = analysed["summary"]
    assert page.text_content("#rep-count").strip() == str(summary["reps"])
    assert page.locator("#rep-table tbody tr").count() == summary["reps"]
    assert page.locator("#feedback > li").count() == len(summary["feedback"])
    assert page.locator("#warnings li").count() == len(summary["warnings"])

    # the plot is loaded and the annotated video can be played by the browser
    page.wait_for_function("() => document.getElementById('plot').complete", timeout=10_000)
    assert page.evaluate("() => document.getElementById('plot').naturalWidth") > 0
    assert page.locator("#result-video").is_visible()
    page.wait_for_function("() => document.getElementById('result-video').readyState >= 1", timeout=20_000)
    video_wh = page.evaluate("() => { const v = document.getElementById('result-video'); return "
                             "[v.videoWidth, v.videoHeight]; }")
    assert video_wh == [640, 360]
    page.screenshot(path=str(SCREENS / "3_results.png"), full_page=True)


def test_full_clip_has_two_repetitions(analysed) -> None:
    """squat_13 has two completed repetitions (verified by eye in reps.json); the page shows 2."""
    assert analysed["summary"]["reps"] == 2


def test_bad_uploads_show_readable_errors(base_url, page, tmp_path, analysed) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    page.goto(base_url + "/")
    page.wait_for_selector("#model option", state="attached")
    page.set_input_files("#file", str(text))
    page.click("#start")
    page.wait_for_selector("#upload-error:not([hidden])")
    assert "not a supported video" in page.text_content("#upload-error")

    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 40)
    page.set_input_files("#file", str(corrupt))
    page.click("#start")
    page.wait_for_selector("#error-message", timeout=60_000)
    message = page.text_content("#error-message")
    assert message.startswith("the uploaded video:") and os.sep + "tmp" not in message
    page.screenshot(path=str(SCREENS / "4_error.png"), full_page=True)

    # delete it from its page; it leaves the list
    job_id = page.url.rsplit("/", 1)[-1]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-job")
    page.wait_for_url(f"{base_url}/#/")
    page.wait_for_selector("#jobs tbody tr")
    assert page.locator(f"#jobs a[href='#/jobs/{job_id}']").count() == 0
    page.screenshot(path=str(SCREENS / "5_list.png"), full_page=True)


def wait_for_results(page) -> None:
    page.wait_for_selector("#rep-count, #error-message", timeout=RESULT_TIMEOUT_MS)
    if page.locator("#error-message").count():
        pytest.fail(f"the analysis failed: {page.text_content('#error-message')}")


def test_clicking_another_person_analyses_them(base_url, page, tmp_path_factory) -> None:
    """Two people in one video: the page shows the frame with a button over each, the followed one
    highlighted; choosing the other (keyboard) starts a new job whose analysis follows that person."""
    clip = two_people_clip(tmp_path_factory.mktemp("e2e_two") / "two of us.mp4")
    page.goto(base_url + "/")
    page.wait_for_selector("#model option", state="attached")
    page.set_input_files("#file", str(clip))
    page.click("#start")
    page.wait_for_url("**/#/jobs/*")
    first_id = page.url.rsplit("/", 1)[-1]
    wait_for_results(page)
    people = page.request.get(f"{base_url}/api/jobs/{first_id}/files/summary.json").json()["people"]
    assert people["count"] == 2 and len(people["boxes"]) >= 2 and people["followed"] is not None
    assert page.text_content("#people-note").startswith(
        "2 people were seen; this analysis follows the highlighted one.")
    buttons = page.locator("#people button.person")
    assert buttons.count() == len(people["boxes"])
    assert page.locator("#people button.person.followed").get_attribute("aria-label") == (
        f"person {people['followed'] + 1}, analysed here")

    # each button lies over its box, scaled with the image (placed by script: the CSP forbids inline styles)
    page.wait_for_function("() => document.querySelector('#people img').complete", timeout=10_000)
    image = page.locator("#people img").bounding_box()
    frame_w, frame_h = people["frame_wh"]
    for i, (x, y, w, h) in enumerate(people["boxes"]):
        shown = buttons.nth(i).bounding_box()
        left, right = max(x, 0) / frame_w, min(x + w, frame_w) / frame_w
        assert (shown["x"] - image["x"]) / image["width"] == pytest.approx(left, abs=0.01)
        assert shown["width"] / image["width"] == pytest.approx(right - left, abs=0.01)
        top, bottom = max(y, 0) / frame_h, min(y + h, frame_h) / frame_h
        assert (shown["y"] - image["y"]) / image["height"] == pytest.approx(top, abs=0.01)
        assert shown["height"] / image["height"] == pytest.approx(bottom - top, abs=0.01)
    page.screenshot(path=str(SCREENS / "6_people.png"), full_page=True)
    fits_and_shoot(page, "results_two_people")
    page.set_viewport_size({"width": 1200, "height": 900})

    chosen = next(i for i in range(len(people["boxes"])) if i != people["followed"])
    buttons.nth(chosen).focus()
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == f"person {chosen + 1}"
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash.startsWith('#/jobs/') && "
                           f"!location.hash.endsWith('{first_id}')")
    second_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_selector("#job-progress:not([hidden]), #rep-count", timeout=RESULT_TIMEOUT_MS)
    page.screenshot(path=str(SCREENS / "7_person_progress.png"), full_page=True)
    wait_for_results(page)
    job = page.request.get(f"{base_url}/api/jobs/{second_id}").json()
    assert job["box"] == people["boxes"][chosen]
    assert job["upload_name"].startswith("two of us.mp4 (person at ")
    again = job["summary"]["people"]
    assert again["followed"] == chosen and again["boxes"] == people["boxes"]
    ious = [box_iou(again["followed_box"], box) for box in people["boxes"]]
    assert max(range(len(ious)), key=ious.__getitem__) == chosen
    assert page.locator("#people button.person.followed").get_attribute("aria-label") == (
        f"person {chosen + 1}, analysed here")
    page.screenshot(path=str(SCREENS / "8_person_chosen.png"), full_page=True)
    fits_and_shoot(page, "results_two_people_chosen")
    first = page.request.get(f"{base_url}/api/jobs/{first_id}").json()   # the first analysis stays as it was
    assert first["state"] == "done" and first["summary"]["people"] == people and "box" not in first


def finished_job(web_root: Path, tmp_path: Path, tracks, name: str) -> str:
    """A finished video job in the running server's data folder, its outputs written by write_outputs from
    an analysis of `tracks` (what a worker writes after the pose model); returns its id."""
    upload = tmp_path / f"{name}.upload"
    upload.write_bytes(b"the video is not read again")
    store = JobStore(web_root)
    record = store.create(upload, "video", ".mp4", view="auto", model="built-in", upload_name=name, size=28)
    analysis = analyze_tracks(tracks)
    write_outputs(analysis, store.jobs_dir / record["id"] / "out", source_name=name, progress=False)
    store.update(record["id"], state="done", reps=analysis.reps, started=time.time(), finished=time.time())
    return record["id"]


def test_trunk_card_with_shoulders_only(base_url, web_root, page, tmp_path) -> None:
    """Joint tracks with shoulders (a squat whose hips rise first) get the trunk card with the numbers
    of summary.json; from the front a line saying why there are none; six-joint tracks no card."""
    phase = squat_phase(2, 30.0)
    tracks = render(squat_motion(phase, lean_deg=trunk_lean_deg(phase, 30.0)), "side", noise_px=1.0)
    job_id = finished_job(web_root, tmp_path, tracks, "hips first.mp4")
    page.goto(f"{base_url}/#/jobs/{job_id}")
    page.wait_for_selector("#trunk-table")
    summary = page.request.get(f"{base_url}/api/jobs/{job_id}/files/summary.json").json()
    assert summary["trunk"]["hips_rise_first_reps"] == [1, 2]
    rows = page.locator("#trunk-table tbody tr")
    assert rows.count() == 2
    first = summary["repetitions"][0]
    cells = rows.nth(0).locator("td").all_text_contents()
    assert cells[1] == f"{first['trunk_lean_bottom']:.0f}° ± {first['trunk_lean_bottom_sd']:.0f}°"
    assert cells[-1] == "yes" and f"{first['shoulder_rise_ratio']:.2f}" in cells[-2]
    assert page.text_content("#trunk-line").endswith("The hips rose before the chest on reps 1, 2.")
    assert any("Your hips rose before your chest on reps 1 and 2" in t
               for t in page.locator("#feedback li").all_text_contents())
    page.screenshot(path=str(SCREENS / "9_trunk.png"), full_page=True)

    front_id = finished_job(web_root, tmp_path,
                            render(squat_motion(phase), "front", noise_px=1.0), "front.mp4")
    page.goto(f"{base_url}/#/jobs/{front_id}")
    page.wait_for_selector("#trunk-line")
    assert page.text_content("#trunk-line").startswith(
        "Trunk lean, hip angle and the early rise: needs a side view")
    assert page.locator("#trunk-table").count() == 0

    six_id = finished_job(web_root, tmp_path, tracks.select(LOWER6), "six joints.mp4")
    page.goto(f"{base_url}/#/jobs/{six_id}")
    page.wait_for_selector("#rep-table")
    assert page.locator("#trunk-table, #trunk-line").count() == 0


def analyse_through_page(page, base_url: str, clip: Path, name: str) -> str:
    """Upload `clip` on a phone-sized page, check the progress page fits it, wait for the results;
    returns the job id."""
    page.set_viewport_size(PHONE)
    page.goto(base_url + "/")
    page.wait_for_selector("#model option", state="attached")
    page.set_input_files("#file", str(clip))
    page.click("#start")
    page.wait_for_url("**/#/jobs/*")
    job_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_selector("#job-progress:not([hidden]), #rep-count, #angle-table", timeout=RESULT_TIMEOUT_MS)
    if page.locator("#job-progress:not([hidden])").count():
        fits_and_shoot(page, f"progress_{name}", (PHONE,))
    page.wait_for_selector("#rep-count, #angle-table, #error-message", timeout=RESULT_TIMEOUT_MS)
    if page.locator("#error-message").count():
        pytest.fail(f"the analysis failed: {page.text_content('#error-message')}")
    return job_id


@pytest.mark.parametrize(("view", "clip"), [("side", "squat_17"), ("front", "squat_24")])
def test_results_speak_plainly_and_fit_a_phone(base_url, page, tmp_path_factory, view: str,
                                               clip: str) -> None:
    """A side clip (squat_17) and a front clip (squat_24, knees pushed out): one feedback line per
    repetition with an icon, its colour and a 'why'; the repetition table in the report's words; the
    title names the user's file; the results page and the report fit a 390 px phone."""
    name = f"my {view} squat.mp4"
    job_id = analyse_through_page(page, base_url,
                                  downscaled_clip(tmp_path_factory.mktemp(f"e2e_{view}") / name,
                                                                  name=clip), view)
    summary = page.request.get(f"{base_url}/api/jobs/{job_id}/files/summary.json").json()
    assert summary["reps"] == 1  # both clips: one completed repetition (reps.json)
    assert page.title() == f"{name} — squatpose" and summary["source"] == name
    items = page.locator("#feedback > li")
    assert items.count() == len(summary["feedback"]) and summary["feedback"][-1]["rep"] == 1
    for i, line in enumerate(summary["feedback"]):
        item = items.nth(i)
        assert item.get_attribute("class") == f"tone-{line['tone']}"
        assert item.locator(".icon").text_content() == {"good": "✓", "fix": "!", "info": "i"}[line["tone"]]
        assert item.locator(".tag").text_content() == ("Set" if line["rep"] is None else f"Rep {line['rep']}")
        assert item.locator(".line").text_content() == line["text"]
        assert item.locator("details").count() == (1 if line["why"] else 0)
    rep = summary["repetitions"][0]
    assert rep["depth_verdict"] in ("below", "parallel", "above") and rep["thigh_angle_sd"] > 0
    if view == "front":  # knees well out over the feet: never "inward"
        assert rep["knees_in"] is False and not any("inward" in f["text"] for f in summary["feedback"])
    cells = [cell.text_content() for cell in page.locator("#rep-table tbody tr").first.locator("td").all()]
    assert cells == summary["rep_table"]["rows"][0]
    page.locator("#feedback details summary").last.click()  # one 'why' open in the screenshots
    fits_and_shoot(page, f"results_{view}")

    page.goto(f"{base_url}/api/jobs/{job_id}/files/report.html")
    assert page.title() == f"Squat analysis — {name}" and page.locator("a").count() == 0
    fits_and_shoot(page, f"report_{view}")


def test_photo_page_and_job_list_fit_a_phone(base_url, page, tmp_path) -> None:
    cap = cv2.VideoCapture(str(shared_or_skip("squat_videos", "squat_17.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 59)  # the bottom of its repetition
    ok, frame = cap.read()
    cap.release()
    assert ok
    photo = tmp_path / "my photo.jpg"
    cv2.imwrite(str(photo), cv2.resize(frame, (640, 360)))
    analyse_through_page(page, base_url, photo, "photo")
    page.wait_for_selector("#angle-table")
    fits_and_shoot(page, "photo")

    page.goto(base_url + "/")
    page.wait_for_selector("#jobs tbody tr")
    assert page.locator("#jobs tbody tr").count() >= 3
    fits_and_shoot(page, "home_with_jobs")
    page.focus("#file")  # the drop zone shows where the keyboard is
    assert page.evaluate("() => getComputedStyle(document.getElementById('drop')).outlineStyle") != "none"
    page.screenshot(path=str(SCREENS / "home_focus_390.png"))
    api = page.locator("nav a", has_text="API").get_attribute("href")
    assert page.request.get(base_url + api).json()["info"]["title"] == "squatpose"  # offline: no CDN page


def test_without_javascript_the_page_says_so(base_url, page) -> None:
    context = page.context.browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        bare = context.new_page()
        bare.goto(base_url + "/")
        assert bare.locator("#noscript").is_visible()
        assert "needs JavaScript" in bare.text_content("#noscript")
        assert page_width(bare) <= PHONE["width"]
        bare.screenshot(path=str(SCREENS / "no_javascript_390.png"), full_page=True)
    finally:
        context.close()
