// buildsvc console: the build page's live log (server-sent events) and status.
"use strict";

const FINISHED = ["succeeded", "failed", "cancelled", "timed_out", "superseded"];

function formatWhen(value) {
  if (!value) return "–";
  return value.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
}

function formatSeconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 60) return value.toFixed(1) + " s";
  const minutes = Math.floor(value / 60);
  return minutes + " min " + String(Math.floor(value % 60)).padStart(2, "0") + " s";
}

function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "kB", "MB", "GB"];
  let amount = bytes;
  let unit = 0;
  while (amount >= 1000 && unit < units.length - 1) {
    amount /= 1000;
    unit += 1;
  }
  return (unit ? amount.toFixed(1) : String(amount)) + " " + units[unit];
}

function showBuild(build) {
  const badge = document.getElementById("build-status");
  badge.textContent = build.status;
  badge.className = "badge status-" + build.status;
  const starts = { queued: build.queued_at, fetching: build.fetching_at, building: build.building_at,
    pushing: build.pushing_at, total: build.queued_at };
  document.querySelectorAll("#phases tr[data-phase]").forEach((row) => {
    const phase = row.dataset.phase;
    row.querySelector(".phase-start").textContent = formatWhen(starts[phase]);
    row.querySelector(".phase-duration").textContent = formatSeconds(build.durations[phase]);
  });
  const tags = document.getElementById("build-tags");
  tags.replaceChildren();
  build.tags.forEach((tag, index) => {
    if (index) tags.appendChild(document.createElement("br"));
    const code = document.createElement("code");
    code.textContent = tag;
    tags.appendChild(code);
  });
  if (!build.tags.length) tags.textContent = "–";
  document.getElementById("build-digest").textContent = build.digest || "–";
  document.getElementById("build-size").textContent = formatSize(build.image_size);
  const pull = document.getElementById("pull");
  if (build.digest && build.tags.length) {
    document.getElementById("pull-command").value = "docker pull " + build.tags[0];
    pull.hidden = false;
  }
  // A cancel is someone's choice, not a failure: a neutral note, not the error box.
  const cancelled = document.getElementById("build-cancelled");
  if (build.status === "cancelled") {
    document.getElementById("cancelled-by").textContent = build.cancelled_by || "someone";
    cancelled.hidden = false;
  }
  const failure = document.getElementById("build-failure");
  if (build.error && build.status !== "cancelled") {
    failure.replaceChildren();
    const message = document.createElement("p");
    message.textContent = build.error.message;
    failure.appendChild(message);
    if (build.error.detail) {
      const detail = document.createElement("p");
      detail.textContent = build.error.detail;
      failure.appendChild(detail);
    }
    const code = document.createElement("p");
    code.textContent = "Error code: " + build.error.code;
    failure.appendChild(code);
    failure.hidden = false;
  }
  if (FINISHED.includes(build.status)) {
    const cancel = document.getElementById("cancel-form");
    if (cancel) cancel.remove();
  }
}

function appendLine(log, text) {
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const line = document.createElement("span");
  line.className = "line";
  line.textContent = text;
  log.appendChild(line);
  log.appendChild(document.createTextNode("\n"));
  if (nearBottom) log.scrollTop = log.scrollHeight;
}

document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("build");
  if (!section) return;
  const log = document.getElementById("log");
  log.scrollTop = log.scrollHeight; // the tail is what one came for
  if (section.dataset.finished === "true") return;
  const state = document.getElementById("log-state");
  let ended = false;

  async function refresh() {
    try {
      const response = await fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const build = await response.json();
      showBuild(build);
      if (FINISHED.includes(build.status)) ended = true;
    } catch (error) {
      // the next poll tries again
    }
  }

  let after = section.dataset.after;
  let finished = false;

  // An API process that stops ends the stream with `reconnect` (and `retry:`): the
  // browser reconnects by itself, sending Last-Event-ID (each line's id is its seq), to
  // another process or this one restarted. An error answer instead (a proxy's 502 or
  // 503 while no API is up) closes the EventSource for good: open a new one later.
  function open() {
    const source = new EventSource(section.dataset.logUrl + "?after=" + after);
    source.onmessage = (event) => {
      const line = JSON.parse(event.data);
      after = line.seq;
      appendLine(log, line.line);
    };
    source.addEventListener("end", () => {
      finished = true;
      source.close();
      state.textContent = "(complete)";
      refresh();
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED && !finished) setTimeout(open, 2000);
    };
  }
  open();
  const timer = setInterval(async () => {
    await refresh();
    if (ended) clearInterval(timer);
  }, 1000);
});
