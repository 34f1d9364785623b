// brushwork pages: drag and drop, live job progress (Server-Sent Events, polling as a fallback),
// cancel / publish / like through the JSON API. Everything works without it except the live view.
"use strict";

function $(sel, root) { return (root || document).querySelector(sel); }

// --- the upload form ---------------------------------------------------------------------------
function setupDrop(zone) {
  const input = $("input[type=file]", zone);
  const img = $(".drop-preview", zone);
  const text = $(".drop-text", zone);
  function show() {
    const f = input.files && input.files[0];
    if (!f) return;
    if (f.type.startsWith("image/")) {
      img.src = URL.createObjectURL(f);
      img.hidden = false;
    } else {
      img.hidden = true;
    }
    text.innerHTML = "";
    const strong = document.createElement("strong");
    strong.textContent = f.name;
    text.append(strong, document.createElement("br"));
    const small = document.createElement("small");
    const size = f.size < 1048576 ? Math.max(1, Math.round(f.size / 1024)) + " KB" : (f.size / 1048576).toFixed(1) + " MB";
    small.textContent = size + " · drop another to replace it";
    text.append(small);
    zone.dispatchEvent(new CustomEvent("picked", { bubbles: true, detail: f }));
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(e => zone.addEventListener(e, ev => { ev.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach(e => zone.addEventListener(e, () => zone.classList.remove("over")));
  zone.addEventListener("drop", ev => {
    ev.preventDefault();
    if (ev.dataTransfer && ev.dataTransfer.files.length) {
      input.files = ev.dataTransfer.files;
      show();
    }
  });
}

function setupForm(form) {
  document.querySelectorAll(".drop").forEach(setupDrop);
  const styleDrop = $("#style-drop");
  const strength = $("#strength"), out = $("#strength-out");
  const hint = $("#submit-hint");
  const update = () => {
    const preset = form.querySelector("input[name=preset]:checked");
    const own = preset && preset.value === "own";
    styleDrop.hidden = !own;
    const best = form.querySelector("input[name=quality][value=best]");
    const photo = $("#photo").files[0];
    const video = photo && photo.type.startsWith("video/");
    const sound = photo && photo.type.startsWith("audio/");
    if (sound && !own) {    // a sound takes its style from a second sound
      form.querySelector("input[name=preset][value=own]").checked = true;
      return update();
    }
    best.disabled = !own || video || sound;
    if (best.disabled && best.checked) form.querySelector("input[name=quality][value=fast]").checked = true;
    hint.textContent = sound ? "a sound: drop a second sound as its style; a few minutes, you will see an estimate"
      : video ? "a clip: painted frame by frame with the fast networks; you will see an estimate"
      : (!own ? "" : "image iteration needs your own painting");
  };
  form.addEventListener("change", update);
  form.addEventListener("picked", update);
  strength.addEventListener("input", () => { out.textContent = Number(strength.value).toFixed(2); });
  form.addEventListener("submit", () => {
    const b = $("#submit");
    b.disabled = true;
    b.textContent = "Uploading…";
  });
  update();
}

// --- the job page ------------------------------------------------------------------------------
function duration(sec) {
  sec = Math.max(1, Math.round(sec));
  if (sec < 90) return sec + " s";
  if (sec < 5400) return Math.round(sec / 60) + " min";
  return (sec / 3600).toFixed(1) + " h";
}

function setupJob(el) {
  const d = el.dataset;
  const bar = $("#bar"), msg = $("#message"), err = $("#error"), stateEl = $("#job-state");
  const title = $("#job-title"), preview = $("#preview"), placeholder = $("#placeholder");
  const download = $("#download"), cancel = $("#cancel"), publishForm = $("#publish-form");
  let lastVersion = -1, finished = ["done", "failed", "cancelled"].includes(d.state), poller = null;
  const thing = title.dataset.thing || "painting";
  const titles = { queued: "Waiting for a worker…", running: thing === "sound" ? "Making your sound…" : "Painting…",
                   done: "Your " + thing + " is ready", failed: "This job failed", cancelled: "Cancelled" };

  function render(s) {
    const pct = Math.round(s.progress * 100);
    bar.value = pct;
    bar.textContent = pct + "%";
    stateEl.textContent = s.state;
    stateEl.className = "badge state-" + s.state;
    title.textContent = titles[s.state] || s.state;
    let m = s.cancelling ? "stopping…" : (s.message || "");
    if (s.eta_s !== null && !s.cancelling && (s.state === "queued" || s.state === "running")) {
      m += " · about " + duration(s.eta_s) + (s.state === "queued" ? " once it starts" : " left");
    }
    msg.textContent = m;
    err.hidden = !s.error;
    err.textContent = s.error || "";
    if (preview && s.result && s.result.media_type.startsWith("image/")) {
      if (preview.dataset.final !== "1") {
        preview.src = s.result.url;
        preview.dataset.final = "1";
        preview.hidden = false;
        if (placeholder) placeholder.hidden = true;
      }
    } else if (preview && s.preview_url && s.preview_version !== lastVersion) {
      lastVersion = s.preview_version;
      preview.src = s.preview_url + (s.preview_url.includes("?") ? "&" : "?") + "v=" + s.preview_version;
      preview.hidden = false;
      if (placeholder) placeholder.hidden = true;
    }
    if (s.result) {
      download.href = s.result.url;
      download.hidden = false;
      if (d.publishable) publishForm.hidden = false;
      if (s.result.media_type.startsWith("video/") && !$("#result-video")) location.reload();
      if (s.result.media_type.startsWith("audio/") && !$("#result-audio")) location.reload();
    }
    cancel.hidden = !(s.state === "queued" || s.state === "running");
    if (["done", "failed", "cancelled"].includes(s.state)) finished = true;
  }

  function poll() {
    if (poller) return;
    poller = setInterval(async () => {
      if (finished) { clearInterval(poller); return; }
      try {
        const r = await fetch(d.status, { cache: "no-store" });
        if (r.ok) render(await r.json());
      } catch (e) { /* try again */ }
    }, 2000);
  }

  if (!finished) {
    if (window.EventSource) {
      const es = new EventSource(d.events);
      es.addEventListener("status", ev => render(JSON.parse(ev.data)));
      es.addEventListener("end", () => { es.close(); finished = true; });
      es.onerror = () => { if (!finished) { es.close(); poll(); } };
    } else {
      poll();
    }
  }

  const api = (url, body) => fetch(url, {
    method: "POST", body: JSON.stringify(body || {}),
    headers: { "Content-Type": "application/json", "Authorization": "Bearer " + d.token },
  });

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    const r = await api(d.cancel);
    const s = await r.json();
    if (r.ok) render(s); else { msg.textContent = s.detail; cancel.disabled = false; }
  });

  const remove = $("#delete");
  remove.addEventListener("click", async () => {
    if (!confirm("Delete this job: the photo, the painting and the result, for good?")) return;
    remove.disabled = true;
    const r = await fetch(d.delete, { method: "DELETE", headers: { "Authorization": "Bearer " + d.token } });
    if (r.ok) { finished = true; location.href = "/"; }
    else { msg.textContent = (await r.json()).detail; remove.disabled = false; }
  });

  publishForm.addEventListener("submit", async ev => {
    ev.preventDefault();
    const btn = $("#publish");
    const hide = btn.textContent.startsWith("Published");
    const r = await api(d.publish, { public: !hide, title: publishForm.title.value });
    const s = await r.json();
    if (r.ok) btn.textContent = s.public ? "Published ✓ (hide)" : "Publish to the gallery";
    else msg.textContent = s.detail;
  });
}

// --- the gallery -------------------------------------------------------------------------------
function setupLikes() {
  document.querySelectorAll("button.like").forEach(btn => {
    btn.addEventListener("click", async () => {
      const r = await fetch(btn.dataset.url, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
      const s = await r.json();
      if (typeof s.likes === "number") $(".count", btn).textContent = s.likes;
      if (r.ok || r.status === 409) btn.classList.add("liked");
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("#job-form");
  if (form) setupForm(form);
  const job = $("#job");
  if (job) setupJob(job);
  setupLikes();
});
