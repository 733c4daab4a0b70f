// squatpose Live page: the browser's camera → JPEG frames over a WebSocket → count, depth and a cue per rep.
// Only one frame is in flight at a time: the server analyses the newest frame it has and drops older ones.
"use strict";

const MAX_WIDTH = 640;          // frames are sent at most this wide
const JPEG_QUALITY = 0.7;
const MIN_SCORE = 0.53;         // joints less sure than this are not drawn (the analysis' own threshold)
const GAUGE_MAX = 0.7;          // depth at the bottom of the gauge
const PARALLEL_DEPTH = 0.5;     // the gauge's parallel mark (about thighs parallel)
const REPLY_TIMEOUT_MS = 3000;  // a frame without a reply this long is given up, the next one is sent
const $ = (id) => document.getElementById(id);
const live = { ws: null, stream: null, running: false, waiting: false, sentAt: 0, joints: [], grab: null };

function message(text, bad = false) {
  const box = $("live-message");
  box.hidden = !text;
  box.textContent = text || "";
  box.classList.toggle("bad", bad);
}

function cameraError(error) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return "This browser offers no camera here: the page needs localhost or HTTPS (see docs/live.md for a phone).";
  }
  switch (error && error.name) {
    case "NotAllowedError": case "SecurityError":
      return "The camera was refused. Allow it for this page (the camera icon in the address bar) and press Start again.";
    case "NotFoundError": case "OverconstrainedError":
      return "No camera was found. Connect one and press Start again.";
    case "NotReadableError": case "AbortError":
      return "The camera is in use by another program or could not be started. Close that program and press Start again.";
    default:
      return `The camera could not be started: ${error && error.message ? error.message : error}`;
  }
}

async function start() {
  message("");
  $("live-start").disabled = true;
  try {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("no mediaDevices");
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    message(cameraError(error), true);
    $("live-start").disabled = false;
    return;
  }
  const video = $("camera");
  video.srcObject = live.stream;
  video.hidden = false;
  await video.play();
  $("stage-hint").hidden = true;
  $("rep-counter").textContent = "0";
  $("cue-log").replaceChildren();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  live.ws = new WebSocket(`${scheme}://${location.host}/api/live?view=${encodeURIComponent($("live-view").value)}`);
  live.ws.binaryType = "arraybuffer";
  live.ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  live.ws.onclose = onClose;
  live.ws.onerror = () => message("The connection to the server failed.", true);
  message("Connecting…");
}

function stopCamera() {
  if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
  live.stream = null;
}

function stop() {
  live.running = false;
  $("live-stop").disabled = true;
  stopCamera();
  if (live.ws && live.ws.readyState === WebSocket.OPEN) {
    live.ws.send(JSON.stringify({ type: "stop" }));
    message("Finishing the set…");
  }
}

function onClose(event) {
  live.running = false;
  stopCamera();
  $("live-stop").disabled = true;
  $("live-start").disabled = false;
  if (event.code !== 1000 && event.reason) message(`The server closed the connection: ${event.reason}`, true);
}

// ---------- sending frames: one in flight; a new one as soon as the last is answered ----------
function pump() {
  if (!live.running) return;
  const video = $("camera");
  const stale = live.waiting && performance.now() - live.sentAt > REPLY_TIMEOUT_MS;
  if ((!live.waiting || stale) && video.videoWidth && live.ws.bufferedAmount === 0) sendFrame(video);
  setTimeout(pump, 10);
}

function sendFrame(video) {
  const width = Math.min(video.videoWidth, MAX_WIDTH);
  const height = Math.round(video.videoHeight * width / video.videoWidth);
  live.grab = live.grab || document.createElement("canvas");
  live.grab.width = width;
  live.grab.height = height;
  live.grab.getContext("2d").drawImage(video, 0, 0, width, height);
  live.waiting = true;
  live.sentAt = performance.now();
  const captured = new Float64Array([live.sentAt]);   // the frame's time, ms (little-endian on every browser platform)
  live.grab.toBlob((jpeg) => {
    if (jpeg && live.running && live.ws.readyState === WebSocket.OPEN) live.ws.send(new Blob([captured.buffer, jpeg]));
    else live.waiting = false;
  }, "image/jpeg", JPEG_QUALITY);
}

// ---------- what the server says ----------
function onMessage(msg) {
  if (msg.type === "status") message(msg.message === "loading the model" ? "Loading the model…" : msg.message);
  else if (msg.type === "ready") {
    live.joints = msg.joints || [];
    live.running = true;
    $("live-stop").disabled = false;
    message("Step into view: hips, knees and feet in the picture.");
    pump();
  } else if (msg.type === "frame") {
    live.waiting = false;
    showState(msg.state);
    for (const event of msg.events) onEvent(event);
    $("live-stats").textContent = `latency ${Math.round(msg.latency_ms)} ms · ${msg.dropped} frames dropped`;
  } else if (msg.type === "error") {
    live.waiting = false;
    message(msg.message, true);
  } else if (msg.type === "summary") {
    $("rep-counter").textContent = String(msg.reps);
  } else if (msg.type === "result") {
    if (msg.job) location.href = `/#/jobs/${msg.job}`;
    else message(msg.message, true);
  }
}

function onEvent(event) {
  switch (event.event) {
    case "person_found": message(""); break;
    case "person_lost": message("Nobody in view: step back so that hips, knees and feet are in the picture."); break;
    case "people": message(event.count >= 2 ? `${event.count} people in view: the count follows one of them. Ask the others to step out of the picture.` : ""); break;
    case "bottom": setVerdict(`Bottom: ${event.verdict}`, deepEnough(event)); break;
    case "rep_completed": {
      $("rep-counter").textContent = String(event.rep);
      const good = deepEnough(event);
      setVerdict(`Rep ${event.rep}: ${event.verdict}${event.descent_s !== null && event.descent_s < 1 ? " (a fast way down)" : ""}`,
        good);
      cue(`Rep ${event.rep}: ${good ? "good depth" : good === false ? "a bit deeper" : "done"}`);
      break;
    }
    case "rep_not_counted": setVerdict(`Not counted: ${event.reason}`, false); break;
    default: break;
  }
}

// The report's verdict where the thigh angle gives one: below and about parallel are deep enough.
function deepEnough(event) {
  if (event.depth_verdict) return event.depth_verdict !== "above";
  return event.below_parallel;
}

function setVerdict(text, good) {
  const verdict = $("verdict");
  verdict.textContent = text;
  verdict.classList.toggle("good", good === true);
  verdict.classList.toggle("short", good === false);
}

// The cue is logged on the page and announced as a window event (squatpose:cue), then spoken if switched on.
function cue(text) {
  $("cue-log").append(Object.assign(document.createElement("li"), { textContent: text }));
  window.dispatchEvent(new CustomEvent("squatpose:cue", { detail: { text } }));
  if ($("speak").checked && "speechSynthesis" in window) window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

// ---------- drawing: the skeleton over the image, the gauge ----------
const EDGES = [["left_hip", "left_knee"], ["left_knee", "left_ankle"], ["right_hip", "right_knee"],
  ["right_knee", "right_ankle"], ["left_hip", "right_hip"], ["left_shoulder", "left_hip"], ["right_shoulder", "right_hip"],
  ["left_shoulder", "right_shoulder"]];

function showState(state) {
  const depth = state.depth;
  $("depth-value").textContent = depth === null ? "–" : Math.max(0, depth).toFixed(2);
  $("phase").textContent = state.person ? state.phase : "";
  const gauge = $("gauge");
  gauge.classList.toggle("deep", state.below_parallel);
  gauge.setAttribute("aria-valuenow", depth === null ? "0" : depth.toFixed(2));
  $("gauge-fill").style.height = `${Math.max(0, Math.min(1, (depth || 0) / GAUGE_MAX)) * 100}%`;
  $("gauge-parallel").style.top = `${PARALLEL_DEPTH / GAUGE_MAX * 100}%`;
  drawSkeleton(state);
}

function drawSkeleton(state) {
  const canvas = $("overlay");
  const shown = canvas.getBoundingClientRect();
  canvas.width = Math.round(shown.width);
  canvas.height = Math.round(shown.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.joints || !state.frame_wh) return;
  const scale = canvas.width / state.frame_wh[0];
  const at = {};
  live.joints.forEach((name, i) => {
    const [x, y, score] = state.joints[i] || [];
    if (x !== null && y !== null && score >= MIN_SCORE) at[name] = [x * scale, y * scale];
  });
  ctx.lineWidth = Math.max(3, canvas.width / 160);
  for (const [a, b] of EDGES) {
    if (!at[a] || !at[b]) continue;
    ctx.strokeStyle = a.startsWith("left") && b.startsWith("left") ? "#3aa0ff" : a.startsWith("right") && b.startsWith("right") ? "#ff8a3a" : "#e8e8e8";
    ctx.beginPath(); ctx.moveTo(...at[a]); ctx.lineTo(...at[b]); ctx.stroke();
  }
  ctx.fillStyle = state.below_parallel ? "#2fa55a" : "#ffffff";
  for (const [x, y] of Object.values(at)) { ctx.beginPath(); ctx.arc(x, y, ctx.lineWidth * 1.4, 0, 2 * Math.PI); ctx.fill(); }
}

$("live-start").addEventListener("click", start);
$("live-stop").addEventListener("click", stop);
