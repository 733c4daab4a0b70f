// squatpose web page: upload form, job list, job page (progress, then results). Uses only the JSON API.
"use strict";

const POLL_MS = 1000;
const KIND_NAMES = { image: "photo", video: "video", live: "live set" };
const state = { config: null, file: null, timer: null, jobId: null };
const $ = (id) => document.getElementById(id);

// ---------- small helpers (text always goes through textContent, never innerHTML) ----------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function num(value, digits = 1, suffix = "") {
  if (value === null || value === undefined) return "—";
  const text = Number(value).toFixed(digits);
  return `${Number(text) === 0 ? text.replace("-", "") : text}${suffix}`; // no "-0"
}

// the model as a person would name it: the one that comes with squatpose, or a file the user added
function modelName(name) {
  return name === "built-in" ? "Built-in model" : `Your model: ${name.replace(/\.pt$/, "")}`;
}

function bytes(n) {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} kB`;
  return `${n} bytes`;
}

function when(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "";
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    error.status = response.status;
    throw error;
  }
  return body;
}

function show(view) {
  for (const id of ["upload-view", "job-view", "missing-view"]) $(id).hidden = id !== view;
}

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

// ---------- routing: #/ (upload + list) and #/jobs/<id> ----------
function route() {
  stopPolling();
  const match = location.hash.match(/^#\/jobs\/([0-9a-f]{32})$/);
  if (match) openJob(match[1]);
  else openHome();
}

// ---------- upload page ----------
async function loadConfig() {
  state.config = await api("/api/config");
  const select = $("model");
  select.replaceChildren();
  for (const model of state.config.models) {
    const label = modelName(model.name);
    select.append(el("option", { value: model.name, disabled: !model.available },
      model.available ? label : `${label} (not installed)`));
  }
  const firstAvailable = state.config.models.find((m) => m.available);
  if (firstAvailable) select.value = firstAvailable.name;
  $("drop-hint").textContent += `, up to ${bytes(state.config.max_upload_bytes)}`;
}

function pickFile(file) {
  $("upload-error").hidden = true;
  state.file = file || null;
  $("file-name").textContent = file ? `${file.name} (${bytes(file.size)})` : "";
  $("drop").classList.toggle("has-file", Boolean(file));
  $("start").disabled = !file;
  if (file && state.config && file.size > state.config.max_upload_bytes) {
    uploadError(`This file is ${bytes(file.size)}; the limit is ${bytes(state.config.max_upload_bytes)}.`);
    $("start").disabled = true;
  }
}

function uploadError(message) {
  $("upload-error").textContent = message;
  $("upload-error").hidden = false;
}

function upload(event) {
  event.preventDefault();
  if (!state.file) return;
  const form = new FormData();
  form.append("view", $("view").value);
  form.append("model", $("model").value);
  form.append("file", state.file);
  const request = new XMLHttpRequest(); // XHR, not fetch: it reports upload progress
  request.open("POST", "/api/jobs");
  request.responseType = "json";
  request.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      $("upload-bar").value = e.loaded / e.total;
      $("upload-text").textContent = `Uploading… ${Math.round((100 * e.loaded) / e.total)}%`;
    }
  };
  request.onload = () => {
    $("upload-progress").hidden = true;
    $("start").disabled = false;
    if (request.status === 201) {
      pickFile(null);
      $("file").value = "";
      location.hash = `#/jobs/${request.response.id}`;
    } else {
      const detail = request.response && request.response.detail;
      uploadError(typeof detail === "string" ? detail : `Upload failed (HTTP ${request.status}).`);
    }
  };
  request.onerror = () => {
    $("upload-progress").hidden = true;
    $("start").disabled = false;
    uploadError("Upload failed: the server could not be reached or closed the connection.");
  };
  $("upload-error").hidden = true;
  $("upload-progress").hidden = false;
  $("upload-bar").value = 0;
  $("start").disabled = true;
  request.send(form);
}

async function openHome() {
  show("upload-view");
  document.title = "squatpose";
  await refreshJobs();
}

function stateBadge(job) {
  return el("span", { class: `badge ${job.state}`, text: job.state });
}

async function refreshJobs() {
  let jobs = [];
  try {
    jobs = (await api("/api/jobs")).jobs;
  } catch (error) {
    $("no-jobs").textContent = `Could not load the list: ${error.message}`;
    $("no-jobs").hidden = false;
    return;
  }
  const body = $("jobs").querySelector("tbody");
  body.replaceChildren(...jobs.map((job) => el("tr", {},
    el("td", { text: when(job.created) }),
    el("td", { class: "file" }, el("a", { href: `#/jobs/${job.id}`, text: job.upload_name })),
    el("td", { class: "optional", text: KIND_NAMES[job.kind] || job.kind }),
    el("td", { title: job.error || null }, stateBadge(job)),
    el("td", { class: "num", text: job.reps ?? "" }),
    el("td", { class: "row-actions" },
      el("button", { type: "button", class: "small danger", "data-delete": job.id, text: "Delete" })))));
  $("jobs").hidden = jobs.length === 0;
  $("no-jobs").textContent = "None yet.";
  $("no-jobs").hidden = jobs.length > 0;
  if (jobs.some((job) => job.state === "queued" || job.state === "running")) {
    state.timer = setTimeout(refreshJobs, 2 * POLL_MS);
  }
}

async function deleteJob(id) {
  if (!confirm("Delete this analysis and all its files?")) return false;
  try {
    await api(`/api/jobs/${id}`, { method: "DELETE" });
  } catch (error) {
    if (error.status !== 404) { alert(`Could not delete: ${error.message}`); return false; }
  }
  return true;
}

// ---------- job page ----------
async function openJob(id) {
  state.jobId = id;
  show("job-view");
  $("results").replaceChildren();
  $("job-error").hidden = true;
  $("job-progress").hidden = true;
  $("job-title").textContent = "Analysis";
  $("job-state").textContent = "";
  await pollJob(id);
}

async function pollJob(id) {
  if (state.jobId !== id) return;
  let job;
  try {
    job = await api(`/api/jobs/${id}`);
  } catch (error) {
    if (error.status === 404 || error.status === 400) { show("missing-view"); return; }
    $("progress-text").textContent = `Lost contact with the server (${error.message}); retrying…`;
    state.timer = setTimeout(() => pollJob(id), 3 * POLL_MS);
    return;
  }
  if (state.jobId !== id || location.hash !== `#/jobs/${id}`) return;
  renderHead(job);
  if (job.state === "queued" || job.state === "running") {
    renderProgress(job);
    state.timer = setTimeout(() => pollJob(id), POLL_MS);
  } else if (job.state === "failed") {
    $("job-progress").hidden = true;
    $("job-error").replaceChildren(el("strong", { text: "The analysis failed. " }),
      el("span", { id: "error-message", text: job.error || "unknown error" }),
      el("p", { class: "small", text: "Check that the file plays, shows one person with hips, knees and ankles visible, and try again." }));
    $("job-error").hidden = false;
  } else {
    $("job-progress").hidden = true;
    $("results").replaceChildren(job.kind === "image" ? photoResults(job) : videoResults(job));
  }
}

function renderHead(job) {
  document.title = `${job.upload_name} — squatpose`;
  $("job-title").textContent = job.upload_name;
  $("job-state").className = `badge ${job.state}`;
  $("job-state").textContent = job.state;
  const view = job.view === "auto" ? "view detected automatically" : `${job.view} view`;
  const model = modelName(job.model);
  $("job-meta").textContent = job.kind === "live" ? `Live set, ${when(job.created)} · ${view} · ${model}`
    : `${job.kind === "image" ? "Photo" : "Video"}, ${bytes(job.size_bytes)}, `
    + `uploaded ${when(job.created)}${job.kind === "image" ? "" : ` · ${view}`} · ${model}`;
  $("live-save").hidden = job.saved !== false;
}

// A live set's result is kept only when saved (until then it is not listed and goes at the next set).
async function saveLiveSet() {
  try {
    await api(`/api/jobs/${state.jobId}/save`, { method: "POST" });
    $("live-save").hidden = true;
  } catch (error) {
    alert(`Could not save: ${error.message}`);
  }
}

function renderProgress(job) {
  const progress = job.progress || {};
  const bar = $("progress-bar");
  $("job-progress").hidden = false;
  if (job.state === "queued") {
    bar.removeAttribute("value");
    $("progress-text").textContent = "Waiting for a free worker…";
    return;
  }
  if (typeof progress.fraction === "number") bar.value = progress.fraction;
  else bar.removeAttribute("value");
  const elapsed = job.started ? ` · ${Math.max(0, Math.round(Date.now() / 1000 - job.started))} s` : "";
  const frames = progress.total ? `: frame ${progress.done} of ${progress.total}`
    : progress.done ? `: frame ${progress.done}` : "";
  const stage = progress.stage || "working";
  $("progress-text").textContent = `${stage.charAt(0).toUpperCase()}${stage.slice(1)}${frames}${elapsed}`;
}

function section(title, ...children) {
  return el("section", { class: "card" }, el("h2", { text: title }), ...children);
}

function stat(label, value, id) {
  return el("div", { class: "stat" }, el("div", { class: "stat-value", id, text: value }),
    el("div", { class: "stat-label", text: label }));
}

function videoResults(job) {
  const s = job.summary || {};
  const files = job.files || {};
  const view = s.view || {};
  const parts = [];
  parts.push(el("div", { class: "stats" },
    stat("completed repetitions", String(s.reps ?? 0), "rep-count"),
    stat(view.user_set ? "view (as chosen)" : "view (detected)", view.label || "—", "view-used"),
    stat("seconds of video", num(s.duration_s, 1), null),
    stat("unfinished at the end", String((s.partial || []).length), null)));
  if ((s.warnings || []).length) {
    parts.push(el("div", { class: "warn-box", id: "warnings" }, el("strong", { text: "Warnings" }),
      el("ul", {}, s.warnings.map((w) => el("li", { text: w })))));
  }
  const picker = peoplePicker(job);
  if (picker) parts.push(picker);
  parts.push(section("Feedback", feedbackList(s.feedback || [])));
  parts.push(section("Annotated video", videoPlayer(files, s.video_codec, job.kind === "live")));
  if (files["timeline.png"]) {
    parts.push(section("Knee angle and depth over time",
      el("img", { id: "plot", class: "plot", src: files["timeline.png"], alt: "knee angle and depth over time, repetitions marked" }),
      el("p", { class: "small muted", text: "Shaded spans are repetitions; triangles mark where each started and reached its bottom." })));
  }
  parts.push(section("Repetitions", repTable(s)));
  const trunk = trunkCard(s);
  if (trunk) parts.push(trunk);
  if (files["depth_per_rep.png"] && (s.repetitions || []).length) {
    parts.push(section("Depth per repetition",
      el("img", { class: "plot", src: files["depth_per_rep.png"], alt: "thigh angle at the bottom of each repetition" })));
  }
  parts.push(section("Downloads", downloads(files)));
  return el("div", {}, parts);
}

// ---------- several people in the video: click the one to analyse ----------
function peoplePicker(job) {
  const people = (job.summary || {}).people || {};
  const boxes = people.boxes || [];
  const image = (job.files || {})["people.jpg"];
  if (boxes.length < 2 || !image || !people.frame_wh) return null;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const frame = el("div", { class: "people-frame", id: "people" },
    el("img", { src: image, alt: `the video at ${num(people.time_s, 1)} s with the people seen in it` }));
  boxes.forEach((box, i) => {
    const followed = i === people.followed;
    const button = el("button", { type: "button", class: followed ? "person followed" : "person", disabled: followed,
      "aria-label": followed ? `person ${i + 1}, analysed here` : `person ${i + 1}`, text: String(i + 1) });
    placeOver(button, box, people.frame_wh);
    button.addEventListener("click", () => choosePerson(job.id, box, frame, error));
    frame.append(button);
  });
  return section("People in the video",
    el("p", { id: "people-note", text: `${people.count} people were seen; this analysis follows the highlighted one. `
      + "Click another person to analyse them instead." }), frame, error);
}

function placeOver(node, [x, y, w, h], [width, height]) {
  // percentages of the frame, so the box scales with the image; CSSOM, not a style attribute (the CSP forbids those)
  const clamp = (v, total) => Math.min(Math.max(v, 0), total);
  const left = clamp(x, width), top = clamp(y, height);
  node.style.left = `${(100 * left) / width}%`;
  node.style.top = `${(100 * top) / height}%`;
  node.style.width = `${(100 * (clamp(x + w, width) - left)) / width}%`;
  node.style.height = `${(100 * (clamp(y + h, height) - top)) / height}%`;
}

async function choosePerson(jobId, box, frame, error) {
  const buttons = [...frame.querySelectorAll("button.person:not(.followed)")];
  for (const button of buttons) button.disabled = true;
  error.hidden = true;
  try {
    const job = await api(`/api/jobs/${jobId}/person`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ box }) });
    location.hash = `#/jobs/${job.id}`; // its progress, as after an upload
  } catch (e) {
    error.textContent = `Could not start that analysis: ${e.message}`;
    error.hidden = false;
    for (const button of buttons) button.disabled = false;
  }
}

const TONES = { good: ["✓", "good"], fix: ["!", "to work on"], info: ["i", "note"] };

function feedbackList(feedback) {
  if (!feedback.length) return el("p", { class: "muted", text: "No feedback." });
  return el("ul", { class: "feedback", id: "feedback" }, feedback.map((f) => {
    const [icon, meaning] = TONES[f.tone] || TONES.info;
    const why = (f.why || []).length ? el("details", {}, el("summary", { text: "why" }),
      el("ul", {}, f.why.map((w) => el("li", { text: w })))) : null;
    return el("li", { class: `tone-${f.tone || "info"}` },
      el("span", { class: "icon", role: "img", "aria-label": meaning, text: icon }),
      el("span", { class: "tag", text: f.rep ? `Rep ${f.rep}` : "Set" }),
      el("span", { class: "line", text: f.text }), why);
  }));
}

function videoPlayer(files, codec, live) {
  const sources = [];
  if (files["annotated.webm"]) sources.push(el("source", { src: files["annotated.webm"], type: "video/webm" }));
  if (files["annotated.mp4"]) sources.push(el("source", { src: files["annotated.mp4"], type: "video/mp4" }));
  if (!sources.length) {
    return el("p", { class: "muted", text: live ? "A live set keeps no video: the camera's frames are never written to disk."
      : "No annotated video was written." });
  }
  const video = el("video", { id: "result-video", controls: true, playsinline: true, preload: "metadata" }, sources);
  const mp4 = files["annotated.mp4"];
  const unplayable = mp4 && codec && codec !== "h264" && !files["annotated.webm"];
  const note = el("p", { class: "small muted" }, "If the video does not play here, ",
    el("a", { href: mp4 || files["annotated.webm"], download: mp4 ? "annotated.mp4" : "annotated.webm", text: "download it" }),
    unplayable ? ` (it is encoded as '${codec}', which most browsers do not play) and open it in a video player.` : ".");
  video.addEventListener("error", () => note.classList.add("attention"), true);
  return el("div", {}, video, note);
}

const NOTE_LABELS = { depth_verdict: "Depth", knees_in: "Knees" };

function repTable(s) {
  const reps = s.repetitions || [];
  const table = s.rep_table || { columns: [], rows: [] };
  if (!reps.length) return el("p", { class: "muted", id: "no-reps", text: "No completed repetition was found." });
  // the same words as report.html: summary.json carries the table as the report shows it
  const head = el("tr", {}, table.columns.map((label) => el("th", { text: label })));
  const rows = table.rows.map((row) => el("tr", {}, row.map((cell) => el("td", { text: cell }))));
  const grid = el("table", { class: "grid reps", id: "rep-table" }, el("thead", {}, head), el("tbody", {}, rows));
  const reasons = new Map();
  for (const [key, label] of Object.entries(NOTE_LABELS)) {
    const note = reps.map((r) => (r.notes || {})[key]).find(Boolean);
    if (note) reasons.set(label, note);
  }
  const foot = reasons.size ? el("ul", { class: "small muted", id: "rep-notes" },
    [...reasons].map(([label, why]) => el("li", { text: `${label}: ${why}` }))) : null;
  return el("div", {}, el("div", { class: "scroll" }, grid), foot);
}

// ---------- the trunk: shown only when the joint tracks have shoulders ----------
const TRUNK_COLUMNS = [
  ["number", "#", (r) => String(r.number)],
  ["trunk_lean_bottom", "trunk lean at bottom", (r) => withSd(r.trunk_lean_bottom, r.trunk_lean_bottom_sd, 0, "°")],
  ["hip_angle_bottom", "hip angle at bottom", (r) => withSd(r.hip_angle_bottom, r.hip_angle_bottom_sd, 0, "°")],
  ["early_hip_rise", "early rise hips / shoulders", (r) => r.early_hip_rise == null ? "—"
    : `${num(r.early_hip_rise, 2)} / ${num(r.early_shoulder_rise, 2)}`],
  ["shoulder_rise_ratio", "shoulders ÷ hips", (r) => withSd(r.shoulder_rise_ratio, r.shoulder_rise_ratio_sd, 2, "")],
  ["flags", "hips rose first", (r) => r.shoulder_rise_ratio == null ? "—"
    : (r.flags || []).includes("hips_rise_first") ? "yes" : "no"],
];

function withSd(value, sd, digits, unit) {
  return value == null ? "—" : `${num(value, digits, unit)} ± ${num(sd, digits, unit)}`;
}

function trunkCard(s) {
  const trunk = s.trunk || {};
  const reps = s.repetitions || [];
  if (!trunk.shoulders || !reps.length) return null;
  const empty = (key) => key !== "number" && key !== "flags" && reps.every((r) => r[key] == null);
  const columns = TRUNK_COLUMNS.filter(([key]) => !empty(key));
  if (columns.length === 2) { // only "#" and the flag: nothing was measured, say why once
    const why = reps.map((r) => (r.notes || {}).shoulder_rise_ratio).find(Boolean) || "not measured";
    return section("Trunk", el("p", { class: "muted", id: "trunk-line", text: `Trunk lean, hip angle and the early rise: ${why}.` }));
  }
  const missing = TRUNK_COLUMNS.filter(([key]) => empty(key)).map(([key, label]) =>
    `${label}: ${reps.map((r) => (r.notes || {})[key]).find(Boolean) || "not measured"}`);
  const units = s.units || {};
  const flagged = trunk.hips_rise_first_reps || [];
  const line = [
    trunk.trunk_lean_bottom == null ? null : `trunk lean at the bottom ${num(trunk.trunk_lean_bottom, 0, "°")}`,
    trunk.hip_angle_bottom == null ? null : `hip angle ${num(trunk.hip_angle_bottom, 0, "°")}`,
    trunk.shoulder_rise_ratio == null ? null
      : `early in the way up the shoulders rose ${num(trunk.shoulder_rise_ratio, 2)} times as far as the hips`,
  ].filter(Boolean).join("; ");
  const verdict = flagged.length ? `The hips rose before the chest on rep${flagged.length > 1 ? "s" : ""} ${flagged.join(", ")}.`
    : reps.some((r) => r.shoulder_rise_ratio != null) ? "The chest kept up with the hips on every repetition." : "";
  const table = el("table", { class: "grid reps", id: "trunk-table" },
    el("thead", {}, el("tr", {}, columns.map(([key, label]) => el("th", { title: units[key] || null, text: label })))),
    el("tbody", {}, reps.map((r) => el("tr", {}, columns.map(([key, , fmt]) =>
      el("td", { title: (r.notes || {})[key] || null, text: fmt(r) }))))));
  return section("Trunk",
    el("p", { id: "trunk-line", text: `${line ? `Median over the repetitions: ${line}. ` : ""}${verdict}` }),
    el("div", { class: "scroll" }, table),
    el("p", { class: "small muted", text: "Trunk lean: the hip-to-shoulder line from vertical; hip angle: between trunk "
      + "and thigh, 180° = straight. Early rise: how far hips and shoulders rose, in leg lengths, "
      + "while the hips covered the first half of their way up; shoulders ÷ hips clearly under "
      + `${num((s.config && s.config.trunk || {}).min_shoulder_rise_ratio, 1)} means the hips rose first. All need a side view; `
      + "± is one standard deviation." }),
    missing.length ? el("ul", { class: "small muted" }, missing.map((m) => el("li", { text: m }))) : null);
}

const DOWNLOADS = [
  ["report.html", "report (HTML)"], ["summary.json", "summary (JSON)"], ["angles.csv", "angles per frame (CSV)"],
  ["keypoints.csv", "joints per frame (CSV)"], ["annotated.mp4", "annotated video (MP4)"],
  ["timeline.png", "timeline plot (PNG)"], ["depth_per_rep.png", "depth plot (PNG)"],
  ["people.jpg", "the people seen (JPEG)"], ["pose.jpg", "photo with joints (JPEG)"], ["heatmaps.png", "heatmaps (PNG)"], ["result.json", "joints and angles (JSON)"],
];

function downloads(files) {
  const links = DOWNLOADS.filter(([name]) => files[name]).map(([name, label]) =>
    el("li", {}, el("a", { href: files[name], download: name, text: label }),
      name === "report.html" ? el("span", {}, " · ", el("a", { href: files[name], target: "_blank", rel: "noopener", text: "open" })) : null));
  return el("ul", { class: "downloads" }, links);
}

function photoResults(job) {
  const r = job.result || {};
  const files = job.files || {};
  const parts = [];
  if (files["pose.jpg"]) {
    parts.push(section("Joints and knee angles",
      el("img", { id: "pose-image", class: "photo", src: files["pose.jpg"], alt: "the photo with the joints and knee angles drawn" })));
  }
  const angles = r.angles || {};
  parts.push(section("Knee angles", el("table", { class: "grid", id: "angle-table" },
    el("thead", {}, el("tr", {}, ["knee", "angle (180° = straight)", "bend", "confidence"].map((h) => el("th", { text: h })))),
    el("tbody", {}, Object.entries(angles).map(([name, a]) => el("tr", {},
      el("td", { text: name.replace("_knee", "").replaceAll("_", " ") }),
      a ? [el("td", { class: "num", text: num(a.angle, 0, "°") }), el("td", { class: "num", text: num(a.flexion, 0, "°") }),
        el("td", { class: "num", text: num(a.confidence, 2) })]
        : el("td", { colspan: "3", class: "muted", text: "not measurable: hip, knee or ankle not found confidently" }))))),
    el("p", { class: "small muted", text: "A single photo does not tell the camera view; from the front or back the 2D angle understates how far the knee bends." })));
  const joints = r.joints || {};
  parts.push(section("Joints", el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, ["joint", "x", "y", "confidence"].map((h) => el("th", { text: h })))),
    el("tbody", {}, Object.entries(joints).map(([name, j]) => el("tr", {}, el("td", { text: name.replaceAll("_", " ") }),
      el("td", { class: "num", text: num(j.x, 0) }), el("td", { class: "num", text: num(j.y, 0) }),
      el("td", { class: "num", text: num(j.score, 2) })))))));
  if (files["heatmaps.png"]) {
    parts.push(el("details", { class: "card" }, el("summary", { text: "What the model saw (heatmaps)" }),
      el("img", { class: "plot", src: files["heatmaps.png"], alt: "heatmap of each joint" })));
  }
  parts.push(section("Downloads", downloads(files)));
  return el("div", {}, parts);
}

// ---------- wiring ----------
function init() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => pickFile(e.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("dragging"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.remove("dragging"); });
  }
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) pickFile(e.dataTransfer.files[0]); });
  $("upload-form").addEventListener("submit", upload);
  $("jobs").addEventListener("click", async (e) => {
    const id = e.target.getAttribute("data-delete");
    if (id && await deleteJob(id)) { stopPolling(); refreshJobs(); }
  });
  $("save-live").addEventListener("click", saveLiveSet);
  $("delete-job").addEventListener("click", async () => {
    if (state.jobId && await deleteJob(state.jobId)) location.hash = "#/";
  });
  window.addEventListener("hashchange", route);
  loadConfig().catch((error) => uploadError(`Could not reach the server: ${error.message}`));
  route();
}

document.addEventListener("DOMContentLoaded", init);
