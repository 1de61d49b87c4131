// buildsvc console: small progressive enhancements. Every page works without them.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) {
    const error = body.error || {};
    throw new Error((error.message || "Request failed.") + (error.detail ? " " + error.detail : ""));
  }
  return body;
}

function setupDialogs() {
  document.querySelectorAll("[data-open-dialog]").forEach((opener) => {
    opener.addEventListener("click", (event) => {
      const dialog = document.getElementById(opener.dataset.openDialog);
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden]), textarea, select");
      if (first) first.focus();
    });
  });
  document.querySelectorAll("dialog[data-show-modal]").forEach((dialog) => {
    if (typeof dialog.showModal !== "function") return;
    dialog.close();
    dialog.showModal();
    // After an error, the field to fix, not the first one.
    const wrong = dialog.querySelector("[aria-invalid=true]");
    if (wrong) wrong.focus();
  });
  document.querySelectorAll("[data-close-dialog]").forEach((closer) => {
    closer.addEventListener("click", (event) => {
      const dialog = closer.closest("dialog");
      if (!dialog) return;
      event.preventDefault();
      dialog.close();
    });
  });
}

function setupForms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      } else if (form.elements.confirmed) {
        form.elements.confirmed.value = "yes"; // asked here, so the server need not ask again
      }
    });
  });
  document.querySelectorAll("form[data-autosubmit] input[type=checkbox]").forEach((box) => {
    box.addEventListener("change", () => box.form.submit());
  });
  document.querySelectorAll("select[data-autosubmit-select]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("[data-js-hide]").forEach((element) => { element.hidden = true; });
}

// A Copy button beside a read-only field (a pull command, a badge URL).
function setupCopy() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) return; // the field stays selectable by hand
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = "Copied";
      } catch (error) {
        field.select(); // no clipboard permission: select it for Ctrl+C
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  });
}

function fillSelect(select, items, placeholder, label) {
  select.replaceChildren(new Option(placeholder, ""));
  items.forEach((item) => select.add(new Option(label(item), item.value)));
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

function setupPickers(form) {
  const provider = form.querySelector("[data-picker=provider]");
  const namespace = form.querySelector("[data-picker=namespace]");
  const repository = form.querySelector("[data-picker=repository]");
  const status = document.getElementById("picker-status");
  const imageNamespace = form.querySelector("#image_namespace");
  const imageName = form.querySelector("#image_name");
  const base = () => "/console/api/sources/" + encodeURIComponent(provider.value);

  async function loadNamespaces() {
    status.textContent = "Loading namespaces…";
    try {
      const body = await getJSON(base() + "/namespaces");
      fillSelect(namespace, body.items.map((n) => ({ value: n.path, kind: n.kind })),
        "Choose a namespace…", (n) => n.value + " (" + n.kind + ")");
      fillSelect(repository, [], "Choose a namespace first", () => "");
      status.textContent = body.items.length + " namespaces.";
    } catch (error) {
      status.textContent = error.message;
    }
  }

  async function loadRepositories() {
    if (!namespace.value) return;
    status.textContent = "Loading repositories of " + namespace.value + "…";
    try {
      const url = base() + "/repositories?namespace=" + encodeURIComponent(namespace.value);
      const body = await getJSON(url);
      fillSelect(repository, body.items.map((r) => ({ value: r.full_path, name: r.name })),
        "Choose a repository…", (r) => r.value);
      status.textContent = body.items.length + " repositories in " + namespace.value + ".";
    } catch (error) {
      status.textContent = error.message;
    }
  }

  provider.addEventListener("change", loadNamespaces);
  namespace.addEventListener("change", loadRepositories);
  repository.addEventListener("change", () => {
    const parts = repository.value.split("/");
    if (!imageName.value || imageName.dataset.auto) {
      imageName.value = slug(parts[parts.length - 1] || "");
      imageName.dataset.auto = "1";
    }
    if (!imageNamespace.value || imageNamespace.dataset.auto) {
      imageNamespace.value = slug(parts[0] || "");
      imageNamespace.dataset.auto = "1";
    }
    schedulePreview(form);
  });
  [imageName, imageNamespace].forEach((input) =>
    input.addEventListener("input", () => { delete input.dataset.auto; schedulePreview(form); }));
  if (namespace.value && repository.options.length <= 1) loadRepositories();
}

function ruleGroups(form) {
  return Array.from(form.querySelectorAll("#rules tbody.rule"));
}

function lineCount(text) {
  return text.split("\n").filter((line) => line.trim()).length;
}

// Worded as options_summary in buildsvc/console/rule_form.py, which renders it first.
function summarizeRule(group) {
  const value = (name) => group.querySelector("[name=" + name + "]").value;
  const args = lineCount(value("rule_build_args"));
  const secrets = value("rule_secret_build_args").split(/[\s,]+/).filter(Boolean).length;
  const paths = lineCount(value("rule_include_paths")) + lineCount(value("rule_ignore_paths"));
  const parts = [];
  if (args) parts.push(args + " build arg" + (args === 1 ? "" : "s") + (secrets ? " (" + secrets + " secret)" : ""));
  if (group.querySelector("[name=rule_no_cache]").checked) parts.push("no cache");
  if (paths) parts.push(paths + " path filter" + (paths === 1 ? "" : "s"));
  group.querySelector("[data-options-summary]").textContent = parts.join(", ") || "none";
}

// Ids, label targets and hint references end in the rule's key; a copy gets its own.
function rekeyRule(group, key) {
  const swap = (id) => id.replace(/-\d+$/, "-" + key);
  group.querySelectorAll("[id]").forEach((node) => { node.id = swap(node.id); });
  group.querySelectorAll("label[for]").forEach((label) => { label.htmlFor = swap(label.htmlFor); });
  group.querySelectorAll("[aria-describedby]").forEach((node) => {
    // A copy is not the field the form's error box (create-error, rules-error) names.
    const ids = node.getAttribute("aria-describedby").split(/\s+/).filter((id) => id && !/-error$/.test(id));
    if (ids.length) node.setAttribute("aria-describedby", ids.map(swap).join(" "));
    else node.removeAttribute("aria-describedby");
  });
  // The no-cache box is sent only when ticked, so it names its rule by key.
  group.querySelector("[name=rule_key]").value = key;
  group.querySelector("[name=rule_no_cache]").value = key;
}

function clearRule(group) {
  // A new rule was stored nowhere: it keeps no secret value (edit form).
  group.querySelector("[name=rule_id]").value = "";
  group.querySelectorAll("input, textarea").forEach((field) => {
    if (field.type === "hidden") return;
    if (field.type === "checkbox") { field.checked = false; return; }
    field.value = field.name === "rule_dockerfile" ? "Dockerfile" : field.name === "rule_context" ? "." : "";
  });
  group.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  group.querySelector("details").open = false;
  summarizeRule(group);
}

function setupRules(form) {
  const table = form.querySelector("#rules");
  let counter = ruleGroups(form).length;
  form.querySelector("#add-rule").addEventListener("click", () => {
    const groups = ruleGroups(form);
    const group = groups[groups.length - 1].cloneNode(true);
    counter += 1;
    rekeyRule(group, String(counter));
    clearRule(group);
    table.appendChild(group);
    group.querySelector("input[name=rule_pattern]").focus();
    schedulePreview(form);
  });
  table.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-rule]");
    if (!button) return;
    const group = button.closest("tbody.rule");
    if (ruleGroups(form).length > 1) {
      group.remove();
    } else {
      clearRule(group);
    }
    schedulePreview(form);
  });
  const changed = (event) => {
    const group = event.target.closest("tbody.rule");
    if (group && event.target.closest(".rule-options")) summarizeRule(group);
    schedulePreview(form);
  };
  table.addEventListener("input", changed);
  table.addEventListener("change", changed);
  form.querySelector("#preview-refs").addEventListener("input", () => schedulePreview(form));
}

let previewTimer = null;
function schedulePreview(form) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => runPreview(form), 200);
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function runPreview(form) {
  const rules = ruleGroups(form).map((row) => ({
    type: row.querySelector("[name=rule_type]").value,
    pattern: row.querySelector("[name=rule_pattern]").value,
    tag: row.querySelector("[name=rule_tag]").value,
  }));
  const defaults = rules.every((rule) => !rule.pattern.trim());
  const refs = form.querySelector("#preview-refs").value.split("\n").map((r) => r.trim()).filter(Boolean);
  // The edit form names its image; the create form's pickers fill it in.
  const namespace = form.dataset.image ? "" : form.querySelector("#image_namespace").value;
  const name = form.dataset.image ? "" : form.querySelector("#image_name").value;
  const image = form.dataset.image || (namespace && name ? namespace + "/" + name : "");
  const result = document.getElementById("preview-result");
  const used = defaults ? [
    { type: "branch", pattern: "main", tag: "latest" },
    { type: "tag", pattern: "/.+/", tag: "{tag}" },
  ] : rules.filter((rule) => rule.pattern.trim());
  const response = await fetch(form.dataset.previewUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ rules: used, refs: refs, image: image }),
  });
  const body = await response.json();
  result.replaceChildren();
  if (!response.ok) {
    result.appendChild(element("p", (body.error && body.error.detail) || "Preview unavailable.", "alert error"));
    return;
  }
  if (defaults) result.appendChild(element("p", "No rules entered: showing the default rules (default branch → latest, tags → their name).", "muted"));
  body.rules.filter((rule) => rule.error).forEach((rule) => {
    result.appendChild(element("p", "Rule " + (rule.index + 1) + ": " + rule.error, "alert error"));
  });
  body.warnings.forEach((warning) => result.appendChild(element("p", warning, "alert warning")));
  const list = element("ul", undefined, "preview-list");
  body.refs.forEach((ref) => {
    const item = element("li");
    item.appendChild(element("code", ref.ref));
    if (!ref.matches.length) {
      item.appendChild(element("span", " — no rule matches, not built", "muted"));
    } else {
      ref.matches.forEach((match) => {
        item.appendChild(element("span", " → rule " + (match.rule + 1) + " (as " + match.as + "): "));
        match.tags.forEach((tag) => { item.appendChild(element("code", tag, "tag")); item.append(" "); });
      });
    }
    list.appendChild(item);
  });
  result.appendChild(list);
}

// Copy buttons: data-copy holds the text (a docker pull command, a secret shown once).
function setupCopyButtons() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(button.dataset.copy);
      button.textContent = "Copied";
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupCopyButtons();
  setupDialogs();
  setupForms();
  setupCopy();
  const form = document.getElementById("create-form") || document.getElementById("rules-form");
  if (form) {
    if (form.querySelector("[data-picker=provider]")) setupPickers(form);
    setupRules(form);
    schedulePreview(form);
  }
});
