// fer_ros viewer: the live image comes as MJPEG (<img src="stream.mjpg">), the results as
// Server-Sent Events (/events), one JSON object per EmotionArray. The timeline is kept here,
// in the page, from the events' own stamps, so a replayed recording shows its own time.
"use strict";

const WINDOW_S = 60;
// Emoji of Unicode's first emoticon block, which every emoji font has (a disgusted 🤢 came
// years later and is missing from some); colours as the annotated image draws the boxes.
const EMOJI = { angry: "😠", disgust: "😖", fear: "😨", happy: "😄", sad: "😢",
                surprise: "😮", neutral: "😐" };
const COLOURS = { angry: "#e62828", disgust: "#28a028", fear: "#a03cb4", happy: "#ffc800",
                  sad: "#1e82dc", surprise: "#ff8c00", neutral: "#bebebe" };
const OTHER_COLOUR = "#adbac7";

const statusEl = document.getElementById("status");
const facesEl = document.getElementById("faces");
const canvas = document.getElementById("timeline");
const legendEl = document.getElementById("legend");
const live = document.getElementById("live");

const history = new Map();  // face_id -> [{t, label, confidence}], oldest first
let latestStamp = null;
let events = 0;

function colour(label) { return COLOURS[label] || OTHER_COLOUR; }
// A number the server could not send (a model's NaN arrives as null).
function known(value) { return typeof value === "number" && Number.isFinite(value); }

function setStatus(text, state) {
  statusEl.textContent = text;
  statusEl.className = "status " + (state || "");
}

function renderFaces(faces) {
  facesEl.replaceChildren();
  if (faces.length === 0) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "no face in view";
    facesEl.append(li);
    return;
  }
  for (const face of faces) {
    const li = document.createElement("li");
    li.dataset.faceId = face.face_id;
    const emoji = document.createElement("span");
    emoji.className = "emoji";
    emoji.textContent = EMOJI[face.label] || "🙂";
    const text = document.createElement("span");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = face.label;
    label.style.color = colour(face.label);
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = " face " + face.face_id;
    text.append(label, id);
    const confidence = document.createElement("span");
    confidence.className = "confidence";
    confidence.textContent = known(face.confidence)
      ? Math.round(face.confidence * 100) + " %" : "? %";
    li.append(emoji, text, confidence);
    facesEl.append(li);
  }
}

function remember(event) {
  latestStamp = event.stamp;
  for (const face of event.faces) {
    if (!history.has(face.face_id)) history.set(face.face_id, []);
    history.get(face.face_id).push({ t: event.stamp, label: face.label,
                                     confidence: known(face.confidence) ? face.confidence : 0 });
  }
  for (const [id, points] of history) {
    while (points.length && points[0].t < latestStamp - WINDOW_S) points.shift();
    if (points.length === 0 || points[0].t > latestStamp) history.delete(id);
  }
}

// Stretches of one label, each result lasting until the face's next one but at most GAP_S: a
// gap in the timeline is a time the face was not seen. Drawn as one bar each, shaded by the
// stretch's mean confidence.
const GAP_S = 1.0;
function runs(points) {
  const out = [];
  let run = null;
  points.forEach((p, i) => {
    const next = i + 1 < points.length ? points[i + 1].t : latestStamp;
    const end = Math.max(Math.min(next, p.t + GAP_S), p.t + 0.1);
    if (run && run.label === p.label && p.t <= run.end + 1e-3) {
      run.end = end;
      run.sum += p.confidence;
      run.n += 1;
    } else {
      run = { label: p.label, start: p.t, end, sum: p.confidence, n: 1 };
      out.push(run);
    }
  });
  for (const r of out) r.confidence = r.sum / r.n;
  return out;
}

function drawTimeline() {
  const ctx = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height;
  const left = 70, right = 10, top = 6, axis = 22;
  ctx.clearRect(0, 0, width, height);
  ctx.font = "13px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const ids = [...history.keys()].sort((a, b) => a - b);
  const plotWidth = width - left - right;
  const x = (t) => left + plotWidth * (1 - (latestStamp - t) / WINDOW_S);
  ctx.fillStyle = "#8b949e";
  ctx.strokeStyle = "#30363d";
  for (let s = 0; s <= WINDOW_S; s += 10) {
    const px = left + plotWidth * (s / WINDOW_S);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, height - axis);
    ctx.stroke();
    ctx.textAlign = s === WINDOW_S ? "right" : "center";
    ctx.fillText(s === WINDOW_S ? "now" : "-" + (WINDOW_S - s) + " s", px, height - axis / 2);
  }
  if (ids.length === 0 || latestStamp === null) {
    ctx.textAlign = "left";
    ctx.fillText("no face in the last 60 s", left + 8, (height - axis) / 2);
    return;
  }
  const rowHeight = Math.min(32, (height - axis - top) / ids.length);
  ids.forEach((id, row) => {
    const y = top + row * rowHeight;
    ctx.fillStyle = "#8b949e";
    ctx.textAlign = "right";
    ctx.fillText("face " + id, left - 8, y + rowHeight / 2);
    for (const run of runs(history.get(id))) {
      ctx.fillStyle = colour(run.label);
      ctx.globalAlpha = 0.35 + 0.65 * run.confidence;
      const x0 = Math.round(Math.max(x(run.start), left));
      ctx.fillRect(x0, y + 2, Math.max(Math.round(x(run.end)) - x0, 1), rowHeight - 4);
    }
    ctx.globalAlpha = 1;
  });
}

function renderLegend() {
  for (const [label, c] of Object.entries(COLOURS)) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = c;
    li.append(swatch, EMOJI[label] + " " + label);
    legendEl.append(li);
  }
}

function connect() {
  const source = new EventSource("events");
  source.onopen = () => setStatus("connected", "live");
  source.onerror = () => setStatus("connection lost, retrying…", "lost");
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    events += 1;
    remember(event);
    renderFaces(event.faces);
    setStatus("live: " + events + " results", "live");
  };
  // The last minute's results, sent first on every (re)connection: the timeline starts full.
  source.addEventListener("history", (message) => {
    const past = JSON.parse(message.data);
    history.clear();
    for (const event of past) remember(event);
    if (past.length) renderFaces(past[past.length - 1].faces);
  });
}

live.addEventListener("error", () => {
  // The stream ended (the server restarted, or was busy): ask again a little later.
  setTimeout(() => { live.src = "stream.mjpg?" + Date.now(); }, 2000);
});

renderLegend();
drawTimeline();
setInterval(drawTimeline, 250);
connect();
