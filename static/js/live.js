// VSION live page: camera health, Record / Stop over Socket.IO. No inline script (CSP).
(function () {
  "use strict";
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const $ = (id) => document.getElementById(id);
  const recordBtn = $("record"), stopBtn = $("stop");
  const recLabel = $("rec-label"), recElapsed = $("rec-elapsed"), recTake = $("rec-take");
  const recError = $("rec-error"), linkLost = $("link-lost");
  // Elapsed time is counted from the server's own figure, so the two machines' clocks need not agree.
  const elapsed0 = parseFloat(recElapsed.dataset.elapsed);
  let startedAt = isNaN(elapsed0) ? null : Date.now() / 1000 - elapsed0;
  let busy = false;

  const socket = io({ transports: ["websocket", "polling"] });

  function showError(message) {
    recError.textContent = message || "";
    recError.hidden = !message;
  }

  function setRecording(on, state) {
    recordBtn.disabled = on || busy;
    stopBtn.disabled = !on || busy;
    recLabel.textContent = on ? labels.recording : labels.idle;
    recLabel.classList.toggle("on", on);
    document.body.classList.toggle("is-recording", on);
    if (!on) startedAt = null;
    else if (state && typeof state.elapsed_s === "number") startedAt = Date.now() / 1000 - state.elapsed_s;
    else if (!startedAt) startedAt = Date.now() / 1000;
    recElapsed.hidden = !on;
    if (!on && state && state.take_id) {
      const frames = (state.take && state.take.cameras || []).map((c) => c.name + ": " + c.frames).join(", ");
      recTake.textContent = labels.take_saved + " " + state.take_id + (frames ? " (" + frames + " " + labels.frames + ")" : "");
      recTake.title = labels.folder + ": " + (state.folder || "");
    } else if (on) {
      recTake.textContent = state && state.take_id ? state.take_id : "";
    }
  }

  function tick() {
    if (startedAt) {
      const s = Math.max(0, Date.now() / 1000 - startedAt);
      const mm = String(Math.floor(s / 60)).padStart(2, "0"), ss = String(Math.floor(s % 60)).padStart(2, "0");
      recElapsed.textContent = labels.elapsed + " " + mm + ":" + ss;
    }
  }
  setInterval(tick, 250);

  function updateCamera(cam) {
    const card = $("camera-" + cam.index);
    if (!card) return;
    const status = card.querySelector("[data-role=status]");
    status.className = "badge status-" + cam.status;
    status.textContent = labels["status_" + cam.status] || cam.status;
    card.querySelector("[data-role=fps]").textContent = (cam.fps || 0).toFixed(1);
    card.querySelector("[data-role=dropped]").textContent = cam.dropped;
    card.querySelector("[data-role=size]").textContent = cam.width ? cam.width + "×" + cam.height : "";
    card.querySelector("[data-role=error]").textContent = cam.status === "connected" ? "" : (cam.error || "");
  }

  function send(event) {
    busy = true;
    recordBtn.disabled = stopBtn.disabled = true;
    showError("");
    socket.timeout(30000).emit(event, {}, (err, ack) => {
      busy = false;
      if (err) { showError(labels.live_disconnected); }
      else if (ack && !ack.ok) { showError(ack.message); }
      setRecording(ack && ack.ok ? ack.recording : document.body.classList.contains("is-recording"), ack);
    });
  }

  recordBtn.addEventListener("click", () => send("start recording"));
  stopBtn.addEventListener("click", () => send("stop recording"));

  socket.on("connect", () => { linkLost.hidden = true; });
  socket.on("disconnect", () => { linkLost.hidden = false; });
  socket.on("connect_error", () => { linkLost.hidden = false; });
  socket.on("camera status", (data) => (data.cameras || []).forEach(updateCamera));
  socket.on("recording status", (state) => { if (!busy) setRecording(!!state.recording, state); });
  socket.on("recording error", (error) => showError(error.message));
})();
