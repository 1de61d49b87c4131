// Renders /api/v1/openapi.json as a readable reference: operations by tag, parameters,
// request bodies and responses with their schemas ($refs resolved one level, expandable).
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  });
  children.flat(Infinity).forEach((child) => {
    if (child === null || child === undefined) return;
    node.append(child instanceof Node ? child : String(child));
  });
  return node;
}

function refName(ref) { return ref.split("/").pop(); }

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[refName(schema.$ref)] || {};
  return schema || {};
}

function typeLabel(schema) {
  if (!schema) return "any";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map(typeLabel).join(" | ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.type === "array") return typeLabel(schema.items) + "[]";
  if (schema.type === "object" && schema.additionalProperties) return "map of " + typeLabel(schema.additionalProperties);
  return schema.type || "object";
}

function schemaTable(spec, schema) {
  const resolved = resolve(spec, schema);
  const props = resolved.properties || {};
  const names = Object.keys(props);
  const title = schema && schema.$ref ? refName(schema.$ref) : typeLabel(schema);
  if (!names.length) return el("p", {}, el("code", {}, title));
  const required = new Set(resolved.required || []);
  const rows = names.map((name) => el("tr", {},
    el("td", {}, el("code", {}, name), required.has(name) ? " *" : ""),
    el("td", {}, el("code", {}, typeLabel(props[name]))),
    el("td", {}, props[name].description || "")));
  return el("div", {},
    el("p", {}, el("code", {}, title), resolved.description ? " — " + resolved.description : ""),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Field"), el("th", { scope: "col" }, "Type"), el("th", { scope: "col" }, "Description"))),
      el("tbody", {}, rows))));
}

function operationView(spec, path, method, op) {
  const body = el("div", { class: "body" });
  if (op.description) body.append(el("p", {}, op.description));
  if (op.security && op.security.length === 0) body.append(el("p", { class: "muted" }, "Public: no API token needed."));
  if (op.parameters && op.parameters.length) {
    body.append(el("h3", {}, "Parameters"), el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "In"), el("th", { scope: "col" }, "Type"), el("th", { scope: "col" }, "Required"))),
      el("tbody", {}, op.parameters.map((p) => el("tr", {},
        el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, el("code", {}, typeLabel(p.schema))),
        el("td", {}, p.required ? "yes" : "no")))))));
  }
  if (op.requestBody) {
    const content = op.requestBody.content["application/json"];
    body.append(el("h3", {}, "Request body"), schemaTable(spec, content && content.schema));
  }
  body.append(el("h3", {}, "Responses"));
  Object.entries(op.responses).forEach(([status, response]) => {
    const item = el("div", {}, el("p", {}, el("span", { class: "status-code" }, status), " ", response.description));
    Object.entries(response.content || {}).forEach(([media, obj]) => {
      item.append(el("p", { class: "muted" }, media));
      if (status.startsWith("2")) item.append(schemaTable(spec, obj.schema));
      else item.append(el("p", {}, el("code", {}, typeLabel(obj.schema))));
    });
    body.append(item);
  });
  return el("details", { class: "op", id: op.operationId },
    el("summary", {}, el("span", { class: "method " + method }, method), el("code", {}, path), el("span", {}, op.summary)),
    body);
}

async function render() {
  const root = document.getElementById("apidocs");
  const response = await fetch(root.dataset.specUrl);
  const spec = await response.json();
  const byTag = {};
  Object.entries(spec.paths).forEach(([path, methods]) => {
    Object.entries(methods).forEach(([method, op]) => {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push([path, method, op]);
    });
  });
  const tags = Object.keys(byTag).sort();
  root.replaceChildren(
    el("h1", {}, spec.info.title, " ", el("small", {}, spec.info.version)),
    el("p", { class: "lead" }, spec.info.description || ""),
    el("p", {}, "Machine-readable: ", el("a", { href: root.dataset.specUrl }, root.dataset.specUrl),
      ". Authenticate with ", el("code", {}, "Authorization: Bearer <API token>"), "."),
    el("nav", { class: "toc", "aria-label": "Sections" }, tags.map((tag) => el("a", { href: "#tag-" + tag }, tag))),
    ...tags.map((tag) => el("section", { id: "tag-" + tag },
      el("h2", {}, tag), byTag[tag].map(([path, method, op]) => operationView(spec, path, method, op)))));
}

document.addEventListener("DOMContentLoaded", () => {
  render().catch((error) => {
    document.getElementById("apidocs").textContent = "Could not load the API description: " + error;
  });
});
