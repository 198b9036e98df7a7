/* django-schedules: the schedule form. Shows only the fields of the chosen kind, fills cron
 * presets, and previews the description and next fire times while staff type (nothing is saved
 * until they press Save). */
"use strict";

(function () {
  // Which fields each kind of trigger shows, from the server (forms/kinds.py KIND_FORMS).
  const FIELDS_NODE = document.getElementById("schedules-kind-fields");
  const FIELDS = FIELDS_NODE ? JSON.parse(FIELDS_NODE.textContent) : { kinds: {}, common: [] };
  const KIND_FIELDS = FIELDS.kinds;
  const CRON_FIELD_ROWS = [
    "cron_preset", "cron_day_of_week", "cron_hour", "cron_minute", "cron_second", "cron_day",
    "cron_month", "cron_year", "cron_week",
  ];
  const ALL_TIMING = new Set(Object.values(KIND_FIELDS).flat());
  const PREVIEWED = new Set([...ALL_TIMING, ...FIELDS.common]);

  // A field by its form name; the admin's date-and-time fields are two inputs, name_0 and name_1.
  function inputOf(form, name) {
    return form.querySelector(`[name="${name}"], [name="${name}_0"]`);
  }

  function rowOf(form, name) {
    const input = inputOf(form, name);
    if (!input) return null;
    return input.closest(".form-row");
  }

  function fieldBoxOf(form, name) {
    const input = inputOf(form, name);
    if (!input) return null;
    return input.closest(".fieldBox") || input.closest(".form-row");
  }

  function selectedKind(form) {
    const select = form.querySelector('[name="trigger_kind"]');
    return select ? select.value : null;
  }

  function cronMode(form) {
    const checked = form.querySelector('[name="cron_mode"]:checked');
    return checked ? checked.value : "fields";
  }

  function setVisible(element, visible) {
    if (element) element.hidden = !visible;
  }

  function applyVisibility(form) {
    const kind = selectedKind(form);
    if (!kind) return;
    const shown = new Set(KIND_FIELDS[kind] || []);
    if (kind === "cron") {
      const typed = cronMode(form) === "crontab";
      for (const name of CRON_FIELD_ROWS) {
        if (typed) shown.delete(name);
      }
      if (!typed) shown.delete("crontab");
    }
    // Hide each field's box, then each row whose boxes are all hidden.
    const rows = new Set();
    for (const name of ALL_TIMING) {
      setVisible(fieldBoxOf(form, name), shown.has(name));
      const row = rowOf(form, name);
      if (row) rows.add(row);
    }
    for (const row of rows) {
      const names = [...row.querySelectorAll("[name]")].map((el) => el.name.replace(/_[01]$/, ""));
      row.hidden = !names.some((name) => shown.has(name));
    }
  }

  function applyPreset(form, presets, index) {
    const preset = presets[Number(index)];
    if (!preset) return;
    const values = preset.values;
    for (const name of ["cron_hour", "cron_minute", "cron_second", "cron_day", "cron_month", "cron_year", "cron_week"]) {
      const input = form.querySelector(`[name="${name}"]`);
      const key = name.slice("cron_".length);
      if (input) input.value = key in values ? values[key] : (name === "cron_second" ? "0" : "");
    }
    const days = new Set(values.day_of_week || []);
    for (const box of form.querySelectorAll('[name="cron_day_of_week"]')) {
      box.checked = days.has(box.value);
    }
  }

  function renderPreview(panel, data) {
    const description = panel.querySelector(".schedules-preview-description");
    const table = panel.querySelector(".schedules-preview-table");
    const body = table.querySelector("tbody");
    const errors = panel.querySelector(".schedules-preview-errors");
    body.replaceChildren();
    errors.replaceChildren();
    if (!data.ok) {
      description.textContent = "This timing cannot be saved yet:";
      for (const error of data.errors || []) {
        for (const message of error.messages) {
          const item = document.createElement("li");
          item.textContent = error.label ? `${error.label}: ${message}` : message;
          errors.append(item);
        }
      }
      errors.hidden = false;
      table.hidden = true;
      return;
    }
    errors.hidden = true;
    description.textContent = data.description;
    const notes = panel.querySelector(".schedules-preview-notes");
    notes.replaceChildren();
    for (const note of data.notes || []) {
      const item = document.createElement("li");
      item.className = "schedules-dst";
      item.textContent = `⚠ ${note}`;
      notes.append(item);
    }
    notes.hidden = notes.childElementCount === 0;
    panel.querySelector(".schedules-preview-zone").textContent = data.zone;
    if (data.fire_times.length === 0) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 3;
      cell.textContent = "It will not run again.";
    }
    for (const fire of data.fire_times) {
      const row = body.insertRow();
      row.insertCell().textContent = fire.schedule_zone;
      row.insertCell().textContent = fire.viewer_zone;
      const note = row.insertCell();
      if (fire.excluded) {
        row.className = "schedules-excluded";
        note.textContent = fire.excluded;
      }
      if (fire.dst_note) {
        note.className = "schedules-dst";
        note.textContent = [fire.excluded, `⚠ ${fire.dst_note}`].filter(Boolean).join(" ");
      }
    }
    table.hidden = false;
  }

  function setUp() {
    const panel = document.getElementById("schedules-preview");
    if (!panel) return;
    const form = panel.closest("form");
    if (!form || !form.querySelector('[name="trigger_kind"]')) {
      panel.hidden = true;
      return;
    }
    const presetsNode = document.getElementById("schedules-presets");
    const presets = presetsNode ? JSON.parse(presetsNode.textContent) : [];
    let timer = null;
    let sequence = 0;

    async function refresh() {
      const mine = ++sequence;
      // A POST of the timing fields alone, with the CSRF token: the arguments never travel.
      const body = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        const field = name.replace(/_[01]$/, "");
        if (PREVIEWED.has(field) && typeof value === "string") body.append(name, value);
      }
      const token = form.querySelector('[name="csrfmiddlewaretoken"]');
      try {
        const response = await fetch(panel.dataset.url, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        if (mine === sequence) renderPreview(panel, data);
      } catch (error) {
        if (mine === sequence) {
          panel.querySelector(".schedules-preview-description").textContent =
            `The preview is not available (${error.message}).`;
        }
      }
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", (event) => {
      if (event.target.name === "trigger_kind" || event.target.name === "cron_mode") {
        applyVisibility(form);
      }
      if (event.target.name === "cron_preset" && event.target.value !== "") {
        applyPreset(form, presets, event.target.value);
      }
      schedule();
    });
    applyVisibility(form);
    refresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
