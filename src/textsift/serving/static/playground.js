// The playground: plain JS against the same /v1 API that clients use; no build step, no third-party code.
"use strict";
const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function call(method, path, body) {
  const response = await fetch(path, { method, headers: headers(), body: body && JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
  return data;
}

// What the served model's task answers: set from /v1/models, read when showing a prediction.
let task = "multi-class";

async function describeModel() {
  try {
    const model = (await call("GET", "/v1/models")).models[0];
    task = model.task || "multi-class";
    const outputs = task.endsWith("regression") ? "predicts " + model.labels[0] : "labels: " + model.labels.join(", ");
    $("model-name").textContent = model.name + " (" + task + ", version " + model.version + ", " + outputs + ")";
    $("explain-box").hidden = !model.explain;
    $("pair-box").hidden = !task.startsWith("pair");
    $("text-title").textContent = task.startsWith("pair") ? "First text" : "Text to classify";
  } catch (e) {
    $("model-name").textContent = "unavailable: " + e.message + " (enter the API key, then classify)";
  }
}

function showBars(prediction) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const { label, score } of prediction.top_k || []) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = (100 * score).toFixed(1) + "%";
    track.append(fill);
    const pct = document.createElement("span");
    pct.textContent = (100 * score).toFixed(1) + "%";
    li.append(name, track, pct);
    bars.append(li);
  }
}

function showWords(explanation) {
  const words = $("words");
  words.replaceChildren();
  const peak = Math.max(1e-9, ...explanation.scores.map(Math.abs));
  explanation.words.forEach((word, i) => {
    const score = explanation.scores[i];
    if (i > 0 && (explanation.segments || [])[i] !== (explanation.segments || [])[i - 1]) words.append(" ‖ ");
    const span = document.createElement("span");
    const alpha = Math.min(1, Math.abs(score) / peak) * 0.6;
    span.style.backgroundColor = score >= 0 ? `rgba(0, 128, 0, ${alpha})` : `rgba(200, 0, 0, ${alpha})`;
    span.textContent = word;
    span.title = word + ": " + score.toFixed(3);
    words.append(span, " ");
  });
  $("highlights").hidden = false;
}

// One prediction as the task gives it: a label and its probability, the labels over their thresholds, or a value.
function showPrediction(prediction) {
  if (prediction.value !== undefined) {
    $("result-kind").textContent = "Value";
    $("result-label").textContent = prediction.value.toFixed(3);
    $("result-score").textContent = "";
  } else if (prediction.labels !== undefined) {
    $("result-kind").textContent = "Labels";
    $("result-label").textContent = prediction.labels.length ? prediction.labels.join(", ") : "(none over its threshold)";
    $("result-score").textContent = "";
  } else {
    $("result-kind").textContent = "Label";
    $("result-label").textContent = prediction.label;
    $("result-score").textContent = "(" + (100 * prediction.score).toFixed(1) + "%)";
  }
  showBars(prediction);
}

async function classify(event) {
  event.preventDefault();
  const text = $("text").value;
  const pair = task.startsWith("pair") ? $("text-pair").value : null;
  const missing = !text.trim() ? "text" : pair !== null && !pair.trim() ? "text-pair" : null;
  if (missing) {
    $("status").textContent = missing === "text" ? "Type some text first." : "Type the second text too.";
    $("status").className = "error";
    $(missing).focus();
    return;
  }
  $("submit").disabled = true;
  $("status").textContent = "Classifying…";
  $("status").className = "hint";
  $("highlights").hidden = true;
  try {
    // The server caps top_k at the number of labels, so this asks for a bar per label.
    const body = pair === null ? { text, top_k: 1000 } : { pairs: [[text, pair]], top_k: 1000 };
    const result = await call("POST", "/v1/predict", body);
    showPrediction(result.predictions[0]);
    $("status").textContent = "Answered in " + result.latency_ms.toFixed(1) + " ms.";
    if (!$("explain-box").hidden && $("explain").checked) {
      $("status").textContent += " Computing word attributions…";
      const request = pair === null ? { text } : { text, text_pair: pair };
      showWords((await call("POST", "/v1/explain", request)).explanation);
      $("status").textContent = "Answered in " + result.latency_ms.toFixed(1) + " ms; attributions shown below.";
    }
  } catch (e) {
    $("status").textContent = "Error: " + e.message;
    $("status").className = "error";
  } finally {
    $("submit").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", classify);
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) $("form").requestSubmit();
  });
  $("api-key").addEventListener("change", describeModel);
  describeModel();
});
