// Judging page: loads assignments from the rater API, keyboard-driven verdicts, idempotent
// submit, one-level undo, completion; every key press answers with something visible.
(function () {
  "use strict";

  const form = document.getElementById("judge-form");
  if (!form) return;
  const $ = function (id) {
    return document.getElementById(id);
  };
  const bar = $("answer-bar");
  const statusBox = $("status");
  const notice = $("notice");
  const barError = $("bar-error");
  const doneBox = $("done");
  const completeBox = $("complete");
  const submitButton = $("submit");
  const skipButton = $("skip");
  const undoButton = $("undo");
  const nextAfterError = $("next-after-error");
  const rationale = $("rationale");
  const skipReason = $("skip-reason");
  const revisingBanner = $("revising");
  const choiceState = $("choice-state");
  const criteriaState = $("criteria-state");
  const nextUrl = form.dataset.nextUrl;
  const progressUrl = form.dataset.progressUrl;
  const verdictInputs = Array.from(form.querySelectorAll("input[name=verdict]"));
  const criterionSets = Array.from(form.querySelectorAll("fieldset.criterion"));
  const outputs = { left: $("output-left"), right: $("output-right") };
  const sideNames = { left: "A", right: "B" };
  const COUNTDOWN_SECONDS = 5;
  // Letter shortcuts as the server set them on the verdict buttons (data-shortcut), the same
  // data the shortcut help is written from: the page keeps no keyboard rules of its own.
  const shortcuts = new Map();
  verdictInputs.forEach(function (input) {
    if (input.dataset.shortcut) shortcuts.set(input.dataset.shortcut.toLowerCase(), input);
  });

  let assignment = null; // the pair being judged (the rater's open lease)
  let last = null; // {data, answer}: the last judgment made on this page, for undo
  let revising = false;
  let parked = null; // the current pair's form state and clock while the last one is revised
  let busy = false;
  let busyWhat = "";
  let errorKind = null; // "missing" (answered by picking) or "request" (by the next success)
  let countdownTimer = null;
  let completion = null; // the progress that said the study is complete
  // Time on task: milliseconds the pair was visible (a hidden tab does not count).
  const clock = { ms: 0, since: null };

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // --- feedback -------------------------------------------------------------------------

  // The bar's status line while a pair is shown, else the notice under the page head.
  function say(message, kind) {
    const onPage = form.hidden;
    const box = onPage ? notice : statusBox;
    const other = onPage ? statusBox : notice;
    other.textContent = "";
    other.className = "status";
    notice.hidden = !onPage || !message;
    box.textContent = message;
    box.className = "status" + (kind ? " " + kind : "");
  }

  function showError(message, kind) {
    errorKind = kind;
    if (form.hidden) {
      say(message, "error");
      return;
    }
    barError.textContent = message;
    barError.hidden = false;
  }

  function clearError(kind) {
    if (errorKind === null || (kind && kind !== errorKind)) return;
    errorKind = null;
    barError.hidden = true;
    barError.textContent = "";
    if (notice.className.indexOf("error") >= 0) say("", "");
  }

  function refuse(message) {
    say(message, "warn");
    bar.classList.remove("refused");
    void bar.offsetWidth; // restart the animation
    bar.classList.add("refused");
  }

  function flash(input) {
    const label = input.closest("label");
    label.classList.remove("flash");
    void label.offsetWidth;
    label.classList.add("flash");
  }

  function labelOf(input) {
    const label = input.closest("label");
    const key = label.querySelector("kbd");
    return label.textContent.replace(key ? key.textContent : "", "").trim();
  }

  function updateState() {
    const verdict = form.querySelector("input[name=verdict]:checked");
    choiceState.textContent = verdict ? "Your choice: " + labelOf(verdict) : "No verdict yet — press a number";
    choiceState.classList.toggle("none", !verdict);
    if (criteriaState) {
      const answered = criterionSets.filter(function (set) {
        return set.querySelector("input:checked");
      }).length;
      criteriaState.textContent = "Criteria: " + answered + " of " + criterionSets.length + " answered";
      criteriaState.classList.toggle("todo", answered < criterionSets.length);
    }
    if (errorKind === "missing" && collect().missing.length === 0) clearError("missing");
  }

  function setProgress(progress) {
    if (!progress) return;
    $("judged").textContent = String(progress.judged);
    $("remaining").textContent = String(progress.remaining);
    const quota = progress.quota === undefined || progress.quota === null ? null : progress.quota;
    $("quota-part").hidden = quota === null;
    $("quota").textContent = quota === null ? "" : String(quota);
    $("bar-progress").textContent =
      quota === null ? progress.judged + " judged" : progress.judged + " of " + quota + " judged";
  }

  // --- requests -------------------------------------------------------------------------

  async function api(url, body, method) {
    const response = await fetch(url, {
      method: method || "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
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

  function setBusy(value, what) {
    busy = value;
    busyWhat = value ? what : "";
    submitButton.disabled = value;
    skipButton.disabled = value;
    undoButton.disabled = value || !last;
    form.setAttribute("aria-busy", value ? "true" : "false");
    form.classList.toggle("loading", value && what === "loading");
  }

  // --- the clock ------------------------------------------------------------------------

  function startClock(ms) {
    clock.ms = ms || 0;
    clock.since = document.hidden ? null : performance.now();
  }

  function elapsed() {
    return Math.round(clock.ms + (clock.since === null ? 0 : performance.now() - clock.since));
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden && clock.since !== null) {
      clock.ms += performance.now() - clock.since;
      clock.since = null;
    } else if (!document.hidden && clock.since === null && (assignment || revising)) {
      clock.since = performance.now();
    }
  });

  // --- showing a pair -------------------------------------------------------------------

  function renderPrompt(prompt) {
    const box = $("prompt");
    box.textContent = "";
    if (prompt.messages && prompt.messages.length) {
      const list = document.createElement("ol");
      list.className = "transcript";
      prompt.messages.forEach(function (message) {
        const item = document.createElement("li");
        const role = message.role === "user" ? "user" : message.role === "assistant" ? "assistant" : "other";
        item.className = "turn turn-" + role;
        const name = document.createElement("div");
        name.className = "role";
        name.textContent = message.role || "message";
        const body = document.createElement("div");
        body.className = "md";
        body.dir = "auto";
        // Server-rendered Markdown: raw HTML escaped, links filtered (annotations/rendering.py).
        body.innerHTML = message.html;
        item.append(name, body);
        list.append(item);
      });
      box.append(list);
    } else {
      box.innerHTML = prompt.html;
    }
  }

  function renderOutput(side, shown) {
    const box = outputs[side];
    const empty = !(shown.text || "").trim();
    box.classList.toggle("is-empty", empty);
    if (empty) {
      // A note from the page, not the model's text.
      box.textContent = "";
      const note = document.createElement("p");
      note.className = "empty-note";
      note.textContent = "(empty response)";
      box.append(note);
    } else {
      box.innerHTML = shown.html;
    }
  }

  function resetForm() {
    form.querySelectorAll("input[type=radio], input[type=checkbox]").forEach(function (input) {
      input.checked = false;
    });
    if (rationale) rationale.value = "";
    skipReason.value = "";
    nextAfterError.hidden = true;
    form.querySelectorAll(".invalid, .flash").forEach(function (el) {
      el.classList.remove("invalid", "flash");
    });
  }

  function showPair(data) {
    renderPrompt(data.prompt);
    renderOutput("left", data.left);
    renderOutput("right", data.right);
    form.hidden = false;
    notice.hidden = true;
    doneBox.hidden = true;
    completeBox.hidden = true;
    $("stopped").hidden = true;
    window.scrollTo(0, 0);
    updateContinues();
  }

  function show(data) {
    assignment = data;
    resetForm();
    showPair(data);
    setProgress(data.progress);
    startClock(0);
    updateState();
  }

  function showEnd(progress) {
    assignment = null;
    form.hidden = true;
    if (progress && progress.stopped) {
      showStopped(progress);
      return;
    }
    // The completion panel is for studies that hand out a code or a link (crowd studies);
    // elsewhere "complete" just means nothing is left.
    if (progress && progress.complete && (progress.completion_code || progress.completion_url)) {
      showCompletion(progress);
      return;
    }
    doneBox.hidden = false;
    const why = progress && progress.study_complete
      ? "This study has collected all the judgments it needs."
      : "Nothing is left for you in this study.";
    say(why + (last ? " Press U to change your last judgment." : ""), "ok");
  }

  // Paused, excluded or screened out (rater quality control): a kind word, and for a
  // screened-out crowd rater the study's screen-out code and link back to the platform.
  function showStopped(progress) {
    doneBox.hidden = true;
    completeBox.hidden = true;
    $("stopped").hidden = false;
    const screened = progress.stopped === "screened_out";
    $("stopped-screened").hidden = !screened;
    $("stopped-paused").hidden = screened;
    const code = screened ? progress.screenout_code || "" : "";
    $("screenout-code").textContent = code;
    $("screenout-code").closest("p").hidden = !code;
    const url = screened ? progress.screenout_url : null;
    const go = typeof url === "string" && /^https?:\/\//i.test(url);
    $("screenout-go").hidden = !go;
    if (go) $("screenout-link").href = url;
    say("", "");
  }

  function showCompletion(progress) {
    completion = progress;
    doneBox.hidden = true;
    completeBox.hidden = false;
    const code = progress.completion_code || "";
    $("completion-code").textContent = code;
    $("completion-code").closest("p").hidden = !code;
    $("completion-code-intro").hidden = !code;
    const url = progress.completion_url;
    const go = typeof url === "string" && /^https?:\/\//i.test(url);
    $("completion-go").hidden = !go;
    $("countdown").hidden = !go;
    $("countdown-stop").hidden = !go;
    say("", "");
    stopCountdown();
    if (!go) return;
    $("completion-link").href = url;
    let left = COUNTDOWN_SECONDS;
    const tick = function () {
      $("countdown").textContent = "Taking you there in " + left + " s…";
      if (left <= 0) {
        stopCountdown();
        window.location.assign(url);
      }
      left -= 1;
    };
    tick();
    countdownTimer = window.setInterval(tick, 1000);
  }

  function stopCountdown() {
    if (countdownTimer !== null) window.clearInterval(countdownTimer);
    countdownTimer = null;
  }

  // After a 204 the next answer has no body: ask for the progress once, for its completion.
  async function endProgress(fallback) {
    if (!progressUrl) return fallback;
    try {
      const result = await api(progressUrl, null, "GET");
      if (result.status === 200 && result.data && typeof result.data.judged === "number") return result.data;
    } catch (err) {
      // No progress endpoint (or no network): the progress already shown stands.
    }
    return fallback;
  }

  async function loadNext(progress) {
    setBusy(true, "loading");
    let result;
    try {
      result = await api(nextUrl, {});
    } catch (err) {
      setBusy(false);
      showError("Network error while loading the next comparison; press N to retry.", "request");
      nextAfterError.hidden = false;
      return;
    }
    setBusy(false);
    if (result.status === 204) {
      clearError("request");
      showEnd(await endProgress(progress));
      return;
    }
    if (result.status !== 200) {
      showError((result.data && result.data.detail) || "Could not load a comparison.", "request");
      return;
    }
    clearError("request");
    show(result.data);
    if (result.data.progress && result.data.progress.complete) showEnd(result.data.progress);
  }

  // --- answers --------------------------------------------------------------------------

  function choiceValue(input) {
    const strength = input.dataset.strength;
    return { winner: input.dataset.winner, strength: strength === "" ? null : Number(strength) };
  }

  function collect() {
    const verdict = form.querySelector("input[name=verdict]:checked");
    const missing = [];
    if (!verdict) missing.push($("verdict"));
    const criteria = {};
    criterionSets.forEach(function (set) {
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

  function matching(inputs, answer) {
    return inputs.find(function (input) {
      const value = choiceValue(input);
      return value.winner === answer.winner && (value.strength || null) === (answer.strength || null);
    });
  }

  // Put a sent answer back on the form (undo shows the verdict as it was given).
  function fill(answer) {
    resetForm();
    const verdict = matching(verdictInputs, answer);
    if (verdict) verdict.checked = true;
    criterionSets.forEach(function (set) {
      const given = answer.criteria[set.dataset.criterion];
      const input = given && matching(Array.from(set.querySelectorAll("input")), given);
      if (input) input.checked = true;
    });
    ["left", "right"].forEach(function (side) {
      form.querySelectorAll("input[name=flag-" + side + "]").forEach(function (box) {
        box.checked = answer.flags[side].indexOf(box.value) >= 0;
      });
    });
    if (rationale) rationale.value = answer.rationale;
  }

  function snapshot() {
    return {
      checked: Array.from(form.querySelectorAll("input:checked")),
      rationale: rationale ? rationale.value : "",
      reason: skipReason.value,
    };
  }

  function restore(saved) {
    resetForm();
    saved.checked.forEach(function (input) {
      input.checked = true;
    });
    if (rationale) rationale.value = saved.rationale;
    skipReason.value = saved.reason;
  }

  async function submit() {
    if (busy) {
      refuse(busyWhat === "loading" ? "Still loading the next pair — Enter ignored; press it again once the pair is shown." : "Still saving — Enter ignored.");
      return;
    }
    if (!assignment && !revising) return;
    const answer = collect();
    form.querySelectorAll(".invalid").forEach(function (el) {
      el.classList.remove("invalid");
    });
    if (answer.missing.length) {
      answer.missing.forEach(function (el) {
        el.classList.add("invalid");
      });
      showError("Please answer every question before submitting" + (answer.verdict ? "." : " (choose a verdict with the number keys)."), "missing");
      const first = answer.missing[0];
      if (first !== $("verdict")) (first.querySelector ? first.querySelector("input") || first : first).focus();
      return;
    }
    const body = Object.assign(choiceValue(answer.verdict), {
      criteria: answer.criteria,
      flags: answer.flags,
      rationale: answer.rationale,
      duration_ms: elapsed(),
    });
    if (revising) {
      await revise(body);
      return;
    }
    setBusy(true, "saving");
    say("Saving…", "");
    let result;
    const shown = assignment;
    try {
      result = await api("/api/assignments/" + shown.id + "/judgment?progress=1", body);
    } catch (err) {
      setBusy(false);
      showError("Network error: your answer is still here; press Enter to try again.", "request");
      say("", "");
      return;
    }
    setBusy(false);
    if (result.status === 200 || result.status === 201) {
      clearError();
      last = { data: shown, answer: body };
      undoButton.disabled = false;
      setProgress(result.data.progress);
      if (result.data.progress && result.data.progress.complete) {
        showEnd(result.data.progress);
        return;
      }
      say("Saved. Loading the next pair…", "ok");
      await loadNext(result.data.progress);
      if (assignment) say("Saved: " + labelOf(answer.verdict) + ". U changes it.", "ok");
      return;
    }
    const detail = (result.data && result.data.detail) || "The answer was not saved.";
    say("", "");
    if (result.status === 409) {
      // The lease is gone; the rater's text stays on the page until they move on.
      nextAfterError.hidden = false;
      showError(detail + " Your text is kept in the box above; press N or the button for the next comparison.", "request");
      return;
    }
    showError(detail, "request");
  }

  async function skip() {
    if (busy) {
      refuse("Still loading — S ignored; press it again once the pair is shown.");
      return;
    }
    if (!assignment || revising) {
      refuse(revising ? "Skipping is for new pairs: press Esc to go back first." : "Nothing to skip.");
      return;
    }
    setBusy(true, "saving");
    let result;
    try {
      result = await api("/api/assignments/" + assignment.id + "/skip?progress=1", { reason: skipReason.value });
    } catch (err) {
      setBusy(false);
      showError("Network error while skipping; please try again.", "request");
      return;
    }
    setBusy(false);
    if (result.status === 200) {
      clearError();
      setProgress(result.data.progress);
      skipReason.blur();
      say("Skipped.", "ok");
      if (result.data.progress && result.data.progress.complete) {
        showEnd(result.data.progress);
        return;
      }
      await loadNext(result.data.progress);
      return;
    }
    showError((result.data && result.data.detail) || "Could not skip.", "request");
  }

  // --- undo: one level ------------------------------------------------------------------

  function enterRevision() {
    if (busy) {
      refuse("Still loading — U ignored; press it again once the pair is shown.");
      return;
    }
    if (revising) {
      leaveRevision("Back to the current pair; your last judgment is unchanged.");
      return;
    }
    if (!last) {
      refuse("Nothing to undo yet: U changes the last judgment you made on this page.");
      return;
    }
    stopCountdown();
    parked = { form: assignment ? snapshot() : null, ms: elapsed(), end: form.hidden ? (completeBox.hidden ? "done" : "complete") : null };
    revising = true;
    revisingBanner.hidden = false;
    submitButton.firstChild.textContent = "Save change ";
    clearError();
    showPair(last.data);
    fill(last.answer);
    startClock(0);
    updateState();
    say("Your last judgment is back: pick again and press Enter to save.", "ok");
  }

  function leaveRevision(message, kind) {
    revising = false;
    revisingBanner.hidden = true;
    submitButton.firstChild.textContent = "Submit ";
    const saved = parked;
    parked = null;
    if (assignment) {
      showPair(assignment);
      if (saved && saved.form) restore(saved.form);
      startClock(saved ? saved.ms : 0);
      updateState();
    } else {
      form.hidden = true;
      if (saved && saved.end === "complete" && completion) showCompletion(completion);
      else doneBox.hidden = false;
    }
    say(message, kind || "ok");
  }

  async function revise(body) {
    setBusy(true, "saving");
    let result;
    try {
      result = await api("/api/assignments/" + last.data.id + "/revision?progress=1", body);
    } catch (err) {
      setBusy(false);
      showError("Network error: the change was not saved; press Enter to try again.", "request");
      return;
    }
    setBusy(false);
    if (result.status === 200) {
      clearError();
      last.answer = body;
      setProgress(result.data.progress);
      const label = labelOf(matching(verdictInputs, body));
      leaveRevision("Changed your last judgment to: " + label + ".");
      return;
    }
    const detail = (result.data && result.data.detail) || "The change was not saved.";
    if (result.status === 409) {
      // Served to someone else meanwhile (or superseded): the judgment stands; undo is over.
      last = null;
      undoButton.disabled = true;
      leaveRevision(detail + ".", "warn");
      return;
    }
    showError(detail, "request");
  }

  // --- picking and moving ---------------------------------------------------------------

  function pick(input, key) {
    if (!input) {
      refuse("Key " + key + " is not an answer here; press ? for the keys.");
      return;
    }
    input.checked = true;
    input.closest("fieldset").classList.remove("invalid");
    flash(input);
    updateState();
    say(key + " → " + labelOf(input) + (revising ? " · Enter saves the change" : " · Enter submits"), "");
  }

  // One key reaches an output: the first press brings its start into view, the next ones read
  // on a window at a time and, at its end, go back to its start.
  function goToOutput(side) {
    const body = outputs[side];
    const card = body.closest(".output");
    const barTop = bar.getBoundingClientRect().top;
    const rect = card.getBoundingClientRect();
    const name = "Response " + sideNames[side];
    let message;
    if (document.activeElement !== body || rect.top > barTop || rect.bottom < 0) {
      window.scrollBy(0, rect.top - 8);
      message = name + (card.getBoundingClientRect().bottom > barTop + 1 ? ": press " + (side === "left" ? "[" : "]") + " again to read on." : ".");
    } else if (rect.bottom <= barTop + 1) {
      window.scrollBy(0, rect.top - 8);
      message = name + ": back to its start.";
    } else {
      const step = Math.max(80, barTop - 80);
      window.scrollBy(0, Math.min(step, rect.bottom - barTop + 16));
      message = card.getBoundingClientRect().bottom <= barTop + 1 ? name + ": the end." : name + ": reading on.";
    }
    body.focus({ preventScroll: true });
    say(message, "");
    updateContinues();
  }

  // --- "continues below" markers ----------------------------------------------------------

  function updateContinues() {
    const barTop = bar.getBoundingClientRect().top;
    ["left", "right"].forEach(function (side) {
      const end = form.querySelector(".output-end[data-side=" + side + "]").getBoundingClientRect();
      const marker = $("continues-" + side);
      marker.hidden = form.hidden || end.top <= barTop;
    });
  }

  function barResized() {
    document.documentElement.style.setProperty("--bar-h", Math.ceil(bar.getBoundingClientRect().height) + "px");
    updateContinues();
  }

  window.addEventListener("scroll", updateContinues, { passive: true });
  window.addEventListener("resize", updateContinues);
  if (window.ResizeObserver) new ResizeObserver(barResized).observe(bar);
  barResized();

  // --- dialogs --------------------------------------------------------------------------

  function openDialog(id) {
    const dialog = $(id);
    if (dialog.open) {
      dialog.close();
      return;
    }
    document.querySelectorAll("dialog[open]").forEach(function (other) {
      other.close();
    });
    dialog.showModal();
  }

  document.querySelectorAll("[data-close]").forEach(function (button) {
    button.addEventListener("click", function () {
      $(button.dataset.close).close();
    });
  });
  document.querySelectorAll("dialog").forEach(function (dialog) {
    // A click on the backdrop (outside the box) closes too.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();
    });
  });

  // --- wiring ---------------------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  form.addEventListener("change", updateState);
  skipButton.addEventListener("click", skip);
  undoButton.addEventListener("click", enterRevision);
  nextAfterError.addEventListener("click", function () {
    loadNext();
  });
  $("instructions-toggle").addEventListener("click", function () {
    openDialog("instructions");
  });
  $("help-toggle").addEventListener("click", function () {
    openDialog("shortcuts-dialog");
  });
  $("countdown-stop").addEventListener("click", function () {
    stopCountdown();
    $("countdown").textContent = "Staying here: use the button when you are ready.";
    $("countdown-stop").hidden = true;
  });
  if (criteriaState) {
    criteriaState.addEventListener("click", function () {
      const open = criterionSets.find(function (set) {
        return !set.querySelector("input:checked");
      }) || criterionSets[0];
      open.scrollIntoView({ block: "center" });
      open.querySelector("input").focus({ preventScroll: true });
    });
  }

  const NAMED_KEYS = { "[": true, "]": true };

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    const key = event.key;
    if (document.querySelector("dialog[open]")) {
      // Esc closes a modal dialog by itself; I and ? close their own.
      if (key === "i" || key === "I") openDialog("instructions");
      else if (key === "?") openDialog("shortcuts-dialog");
      return;
    }
    const typing = target.matches && target.matches("textarea, input[type=text]");
    if (typing) {
      if (key === "Escape") {
        target.blur();
        say("Left the text box: the keys work again.", "");
      } else if (key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        submit();
      } else if (key === "Enter" && target === skipReason) {
        event.preventDefault();
        skip();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (key === "?") {
      openDialog("shortcuts-dialog");
      return;
    }
    if (key === "i" || key === "I") {
      openDialog("instructions");
      return;
    }
    if (key === "u" || key === "U") {
      enterRevision();
      return;
    }
    if (key === "Escape" && revising) {
      leaveRevision("Back to the current pair; your last judgment is unchanged.");
      return;
    }
    if (form.hidden) {
      if (busy && key.length === 1) refuse("Still loading — key " + key + " ignored; press it again once the pair is shown.");
      return;
    }
    if (key === "Enter") {
      // A focused button does its own thing on Enter.
      if (target.matches && target.matches("button, a")) return;
      event.preventDefault();
      if (!nextAfterError.hidden) {
        refuse("This pair can no longer be saved: press N for the next one.");
        return;
      }
      submit();
      return;
    }
    if (key.length !== 1 || key === " ") return; // Tab, arrows, Space, Page keys: the browser's
    const lower = key.toLowerCase();
    if ((lower === "n") && !nextAfterError.hidden) {
      loadNext();
      return;
    }
    if (busy) {
      // Never silently lost: a pair not yet on screen cannot be judged, so say so.
      const doing = busyWhat === "loading" ? "Loading the next pair" : "Saving";
      refuse(doing + " — key " + key + " ignored; press it again once the pair is shown.");
      return;
    }
    if (NAMED_KEYS[key]) {
      goToOutput(key === "[" ? "left" : "right");
      return;
    }
    if (/^[1-9]$/.test(key)) {
      pick(form.querySelector("input[name=verdict][value='" + key + "']"), key);
      return;
    }
    if (shortcuts.has(lower)) pick(shortcuts.get(lower), key.toUpperCase());
    else if (lower === "s") skip();
    else if (lower === "r") {
      if (revising) {
        refuse("Skipping is for new pairs: press Esc to go back first.");
        return;
      }
      event.preventDefault(); // the R itself is not typed into the box
      skipReason.focus();
      say("Type why you skip; Enter skips, Esc goes back.", "");
    } else refuse("Key " + key + " does nothing here; press ? for the keys.");
  });

  loadNext();
})();
