// Judging page: loads assignments from the rater API, keyboard-driven verdicts, idempotent submit.
(function () {
  "use strict";

  const form = document.getElementById("judge-form");
  if (!form) return;
  const statusBox = document.getElementById("status");
  const doneBox = document.getElementById("done");
  const submitButton = document.getElementById("submit");
  const skipButton = document.getElementById("skip");
  const nextAfterError = document.getElementById("next-after-error");
  const rationale = document.getElementById("rationale");
  const skipReason = document.getElementById("skip-reason");
  const nextUrl = form.dataset.nextUrl;
  // Letter shortcuts as the server set them on the verdict buttons (data-shortcut), the same
  // data the shortcut help is written from: the page keeps no keyboard rules of its own.
  const shortcuts = new Map();
  form.querySelectorAll("input[name=verdict]").forEach(function (input) {
    if (input.dataset.shortcut) shortcuts.set(input.dataset.shortcut.toLowerCase(), input);
  });

  let assignment = null;
  let busy = false;
  // Time on task: milliseconds the comparison was visible (a hidden tab does not count).
  let visibleSince = null;
  let visibleMs = 0;

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function say(message, kind) {
    statusBox.textContent = message;
    statusBox.className = "status" + (kind ? " " + kind : "");
  }

  function setProgress(progress) {
    if (!progress) return;
    document.getElementById("judged").textContent = String(progress.judged);
    document.getElementById("remaining").textContent = String(progress.remaining);
  }

  function setBusy(value) {
    busy = value;
    submitButton.disabled = value;
    skipButton.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  function startClock() {
    visibleMs = 0;
    visibleSince = document.hidden ? null : performance.now();
  }

  function elapsed() {
    return Math.round(visibleMs + (visibleSince === null ? 0 : performance.now() - visibleSince));
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden && visibleSince !== null) {
      visibleMs += performance.now() - visibleSince;
      visibleSince = null;
    } else if (!document.hidden && visibleSince === null && assignment) {
      visibleSince = performance.now();
    }
  });

  async function api(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (err) {
        data = { detail: "The server answered " + response.status + "." };
      }
    }
    return { status: response.status, data: data };
  }

  function renderPrompt(prompt) {
    const box = document.getElementById("prompt");
    box.textContent = "";
    if (prompt.messages && prompt.messages.length) {
      const list = document.createElement("ol");
      list.className = "transcript";
      prompt.messages.forEach(function (message) {
        const item = document.createElement("li");
        item.className = "turn turn-" + (message.role === "user" ? "user" : message.role === "assistant" ? "assistant" : "other");
        const role = document.createElement("div");
        role.className = "role";
        role.textContent = message.role || "message";
        const body = document.createElement("div");
        body.className = "md";
        body.dir = "auto";
        // Server-rendered Markdown: raw HTML escaped, links filtered (annotations/rendering.py).
        body.innerHTML = message.html;
        item.append(role, body);
        list.append(item);
      });
      box.append(list);
    } else {
      box.innerHTML = prompt.html;
    }
  }

  function resetForm() {
    form.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (input) {
      input.checked = false;
    });
    if (rationale) rationale.value = "";
    skipReason.value = "";
    nextAfterError.hidden = true;
    form.querySelectorAll(".invalid").forEach(function (el) {
      el.classList.remove("invalid");
    });
  }

  function show(data) {
    assignment = data;
    resetForm();
    renderPrompt(data.prompt);
    document.getElementById("output-left").innerHTML = data.left.html;
    document.getElementById("output-right").innerHTML = data.right.html;
    form.hidden = false;
    doneBox.hidden = true;
    setProgress(data.progress);
    startClock();
    window.scrollTo(0, 0);
  }

  async function loadNext() {
    setBusy(true);
    let result;
    try {
      result = await api(nextUrl, {});
    } catch (err) {
      say("Network error while loading the next comparison; reload the page to retry.", "error");
      return;
    } finally {
      setBusy(false);
    }
    if (result.status === 204) {
      assignment = null;
      form.hidden = true;
      doneBox.hidden = false;
      say("Nothing is left for you in this study.", "ok");
      return;
    }
    if (result.status !== 200) {
      say((result.data && result.data.detail) || "Could not load a comparison.", "error");
      return;
    }
    show(result.data);
  }

  function choiceValue(input) {
    const strength = input.dataset.strength;
    return { winner: input.dataset.winner, strength: strength === "" ? null : Number(strength) };
  }

  function collect() {
    const verdict = form.querySelector("input[name=verdict]:checked");
    const missing = [];
    if (!verdict) missing.push(document.getElementById("verdict"));
    const criteria = {};
    form.querySelectorAll("fieldset.criterion").forEach(function (set) {
      const picked = set.querySelector("input:checked");
      if (picked) criteria[set.dataset.criterion] = choiceValue(picked);
      else missing.push(set);
    });
    const flags = { left: [], right: [] };
    ["left", "right"].forEach(function (side) {
      form.querySelectorAll("input[name=flag-" + side + "]:checked").forEach(function (box) {
        flags[side].push(box.value);
      });
    });
    const text = rationale ? rationale.value : "";
    if (rationale && rationale.required && !text.trim()) missing.push(rationale);
    return { missing: missing, verdict: verdict, criteria: criteria, flags: flags, rationale: text };
  }

  async function submit() {
    if (busy || !assignment) return;
    const answer = collect();
    form.querySelectorAll(".invalid").forEach(function (el) {
      el.classList.remove("invalid");
    });
    if (answer.missing.length) {
      answer.missing.forEach(function (el) {
        el.classList.add("invalid");
      });
      say("Please answer every question before submitting" + (answer.verdict ? "." : " (choose a verdict with the number keys)."), "error");
      const first = answer.missing[0];
      (first.querySelector ? first.querySelector("input") || first : first).focus();
      return;
    }
    const body = Object.assign(choiceValue(answer.verdict), {
      criteria: answer.criteria,
      flags: answer.flags,
      rationale: answer.rationale,
      duration_ms: elapsed(),
    });
    setBusy(true);
    let result;
    try {
      result = await api("/api/assignments/" + assignment.id + "/judgment", body);
    } catch (err) {
      setBusy(false);
      say("Network error: your answer is still here; press Enter to try again.", "error");
      return;
    }
    setBusy(false);
    if (result.status === 200 || result.status === 201) {
      setProgress(result.data.progress);
      say("Saved. Loading the next comparison…", "ok");
      await loadNext();
      if (assignment) say("Saved.", "ok");
      return;
    }
    const detail = (result.data && result.data.detail) || "The answer was not saved.";
    if (result.status === 409) {
      // The lease is gone; the rater's text stays on the page until they move on.
      nextAfterError.hidden = false;
      say(detail + " Your text is kept in the box above; press N or the button for the next comparison.", "error");
      return;
    }
    say(detail, "error");
  }

  async function skip() {
    if (busy || !assignment) return;
    setBusy(true);
    let result;
    try {
      result = await api("/api/assignments/" + assignment.id + "/skip?progress=1", { reason: skipReason.value });
    } catch (err) {
      setBusy(false);
      say("Network error while skipping; please try again.", "error");
      return;
    }
    setBusy(false);
    if (result.status === 200) {
      setProgress(result.data.progress);
      say("Skipped.", "ok");
      await loadNext();
      return;
    }
    say((result.data && result.data.detail) || "Could not skip.", "error");
  }

  function pick(input) {
    if (input) {
      input.checked = true;
      input.closest("fieldset").classList.remove("invalid");
    }
  }

  function toggle(buttonId, panelId) {
    const panel = document.getElementById(panelId);
    const button = document.getElementById(buttonId);
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  skipButton.addEventListener("click", skip);
  nextAfterError.addEventListener("click", loadNext);
  document.getElementById("instructions-toggle").addEventListener("click", function () {
    toggle("instructions-toggle", "instructions");
  });
  document.getElementById("help-toggle").addEventListener("click", function () {
    toggle("help-toggle", "shortcuts");
  });

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    const typing = target.matches && target.matches("textarea, input[type=text]");
    if (typing) {
      if (event.key === "Escape") target.blur();
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "?") {
      toggle("help-toggle", "shortcuts");
      return;
    }
    if (key === "i" || key === "I") {
      toggle("instructions-toggle", "instructions");
      return;
    }
    if (form.hidden) return;
    if (key === "Enter") {
      // A focused button does its own thing on Enter.
      if (target.matches && target.matches("button, a")) return;
      event.preventDefault();
      if (!nextAfterError.hidden) return;
      submit();
      return;
    }
    if ((key === "n" || key === "N") && !nextAfterError.hidden) {
      loadNext();
      return;
    }
    if (/^[1-9]$/.test(key)) {
      pick(form.querySelector("input[name=verdict][value='" + key + "']"));
      return;
    }
    const lower = key.toLowerCase();
    if (shortcuts.has(lower)) pick(shortcuts.get(lower));
    else if (lower === "s") skip();
  });

  loadNext();
})();
