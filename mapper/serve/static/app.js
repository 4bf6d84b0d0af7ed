// The mapper playground page: every answer comes from the server (mapper itself); this file
// only sends what is typed and shows what comes back. Text from the ruleset, the profiles or
// the app is always set as text (textContent), never parsed as HTML.
"use strict";

// The token comes in the address mapper serve printed; it is kept for this tab and taken
// out of the address bar (and so out of the history).
const token = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("mapper-token") || "";
sessionStorage.setItem("mapper-token", token);
if (location.search) history.replaceState(null, "", location.pathname);
const $ = (id) => document.getElementById(id);
const state = { builtin: false, checked: "", rendered: "", seq: 0, lines: [], tokens: [] };

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { "X-Mapper-Token": token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error("mapper serve is not answering (stopped?): your text stays here; copy it before closing");
  }
  if (response.status === 403) {
    throw new Error("mapper serve refused this page: open the address it printed (each run has a new token)");
  }
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok && !data.error) throw new Error(`HTTP ${response.status}`);
  return data;
}

function report(error) {
  $("status").textContent = error.message;
  $("status").className = "error";
}

function debounce(fn, ms) {
  let timer = 0;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// -- the editor: highlighting from the language's own lexer, diagnostics on their lines -------

function paint(text, tokens, diagnostics) {
  const lines = text.split("\n");
  const marks = new Map();
  const extendsLine = lines.findIndex((line) => /^ruleset\s+\S+\s+extends\b/.test(line)) + 1;
  for (const d of diagnostics) {
    // A problem in a file this one extends is marked on the `extends` line.
    const own = d.line && d.file === state.name;
    const first = own ? d.line : extendsLine || 1;
    const last = own ? d.end_line || d.line : first;
    for (let l = first; l <= last; l++) {
      if (marks.get(l) !== "error") marks.set(l, d.severity);
    }
  }
  const byLine = new Map();
  for (const t of tokens) {
    if (!byLine.has(t[0])) byLine.set(t[0], []);
    byLine.get(t[0]).push(t);
  }
  const pre = $("highlight");
  const fragment = document.createDocumentFragment();
  lines.forEach((line, index) => {
    const number = index + 1;
    const row = element("span", undefined, "line" + (marks.has(number) ? " " + marks.get(number) : ""));
    row.dataset.line = String(number);
    const chars = Array.from(line); // columns count characters (code points), as the lexer does
    let col = 1;
    for (const [, start, length, kind] of byLine.get(number) || []) {
      if (start < col) continue; // a token that spans lines (a block's text) is shown plain
      row.append(chars.slice(col - 1, start - 1).join(""));
      row.append(element("span", chars.slice(start - 1, start - 1 + length).join(""), "tok-" + kind));
      col = start + length;
    }
    row.append(chars.slice(col - 1).join(""));
    row.append("\n");
    fragment.append(row);
  });
  pre.replaceChildren(fragment);
  pre.scrollTop = $("editor").scrollTop;
  pre.scrollLeft = $("editor").scrollLeft;
}

function showDiagnostics(diagnostics) {
  const list = $("diagnostics");
  list.replaceChildren(...diagnostics.map((d) => {
    const item = element("li", d.text, d.severity);
    if (d.line) item.dataset.line = String(d.line);
    return item;
  }));
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  $("diagnostic-count").textContent = diagnostics.length
    ? `(${errors} error${errors === 1 ? "" : "s"}, ${diagnostics.length - errors} warning${diagnostics.length - errors === 1 ? "" : "s"})`
    : "(none)";
}

function showExplain(rows, mermaid) {
  const head = ["Direction", "Okta", "Transform", "SCIM", "Schema", "Applies on", "Default", "Defined in", "Inbound"];
  const fragment = document.createDocumentFragment();
  const tr = element("tr");
  head.forEach((h) => tr.append(element("th", h)));
  fragment.append(tr);
  for (const row of rows || []) {
    const line = element("tr");
    row.forEach((cell) => line.append(element("td", cell)));
    fragment.append(line);
  }
  $("explain").replaceChildren(fragment);
  $("mermaid").textContent = mermaid || "";
}

function showCheck(text, answer) {
  state.lines = text.split("\n");
  state.tokens = answer.tokens;
  paint(text, answer.tokens, answer.diagnostics);
  showDiagnostics(answer.diagnostics);
  if (answer.ok) showExplain(answer.explain, answer.mermaid);
  $("explain-stale").hidden = answer.ok;
  $("save").disabled = !answer.ok;
}

// What is typed shows at once, coloured where its lines are unchanged; the server's answer
// colours the rest.
function repaintLocally() {
  const text = $("editor").value;
  const lines = text.split("\n");
  const kept = state.tokens.filter((t) => lines[t[0] - 1] === state.lines[t[0] - 1]);
  paint(text, kept, []);
}

async function check(known) {
  const text = $("editor").value;
  if (text === state.checked) return;
  state.checked = text;
  const seq = ++state.seq;
  state.rendered = "";
  const rendering = render(); // the server compiles the text once for both: ask at once
  const answer = known || await call("POST", "/api/check", { text });
  if (seq !== state.seq) return; // a newer edit is on its way
  showCheck(text, answer);
  await rendering;
}

// -- the profile side ----------------------------------------------------------------------

async function render() {
  const body = { text: $("editor").value, profile: $("profile").value, other: $("other").value,
    style: $("style").value || "rfc" };
  const key = JSON.stringify(body);
  if (key === state.rendered) return;
  state.rendered = key;
  const answer = await call("POST", "/api/render", body);
  if (key !== state.rendered) return;
  $("render-error").hidden = !answer.error;
  $("render-error").textContent = answer.error || "";
  $("resource").textContent = answer.resource ? JSON.stringify(answer.resource, null, 2) : "";
  const table = $("provenance");
  table.replaceChildren();
  const head = element("tr");
  ["SCIM attribute", "value", "rule", "line"].forEach((h) => head.append(element("th", h)));
  table.append(head);
  for (const p of answer.provenance || []) {
    const row = element("tr");
    [p.path, JSON.stringify(p.value), p.rule, `${p.file}:${p.line}`].forEach((c) => row.append(element("td", c)));
    table.append(row);
  }
  $("patch-error").hidden = !answer.patch_error;
  $("patch-error").textContent = answer.patch_error || "";
  if ($("other").value.trim() === "" || answer.error) {
    $("patch").textContent = "";
    $("touched").textContent = "";
  } else if (answer.patch === null) {
    $("patch").textContent = "no request: nothing the ruleset maps has changed";
    $("touched").textContent = "nothing";
  } else if (answer.patch) {
    $("patch").textContent = `${answer.patch.method} /Users/{id}\n` + JSON.stringify(answer.patch.body, null, 2);
    $("touched").textContent = (answer.touched || []).join(", ") || "(the whole resource)";
  }
}

async function search() {
  const found = await call("GET", `/api/profiles?q=${encodeURIComponent($("search").value)}`);
  $("results").replaceChildren(...found.map((p) => {
    const item = element("li");
    const button = element("button", `${p.login || "(no login)"}  ${p.id}`);
    button.type = "button";
    button.addEventListener("click", async () => {
      const user = await call("GET", `/api/profile?index=${p.index}`).catch((error) => { report(error); });
      if (!user || user.error) return;
      $("profile").value = JSON.stringify(user, null, 2);
      await render().catch(report);
    });
    item.append(button);
    return item;
  }));
}

async function save() {
  const body = { text: $("editor").value };
  if (state.builtin) body.name = $("save-name").value;
  const answer = await call("POST", "/api/save", body);
  if (answer.error) {
    $("status").textContent = answer.error;
    $("status").className = "error";
    return;
  }
  $("status").className = "";
  $("editor").value = answer.text;
  state.builtin = false;
  $("save-name").hidden = true;
  state.name = answer.saved;
  $("ruleset-name").textContent = answer.saved;
  $("status").textContent = `saved to ${answer.saved}`;
  state.checked = "";
  await check();
}

async function start() {
  const initial = await call("GET", "/api/state");
  state.builtin = initial.builtin;
  state.name = initial.name;
  $("ruleset-name").textContent = initial.builtin ? `${initial.name} (built-in: save as a new file)` : initial.name;
  $("save-name").hidden = !initial.builtin;
  for (const style of initial.styles) $("style").append(new Option(style, style));
  $("picker").hidden = initial.profiles === 0;
  $("editor").value = initial.text;
  const editor = $("editor");
  editor.addEventListener("input", repaintLocally);
  editor.addEventListener("input", debounce(() => check().catch(report), 80));
  editor.addEventListener("scroll", () => {
    $("highlight").scrollTop = editor.scrollTop;
    $("highlight").scrollLeft = editor.scrollLeft;
  });
  for (const id of ["profile", "other"]) $(id).addEventListener("input", debounce(() => render().catch(report), 40));
  $("style").addEventListener("change", () => render().catch(report));
  $("search").addEventListener("input", debounce(() => search().catch(report), 80));
  $("save").addEventListener("click", () => save().catch(report));
  $("edit-this").addEventListener("click", async () => {
    $("other").value = $("profile").value;
    await render();
  });
  await check(initial.check); // the state holds the ruleset's check: one round trip less
  if (initial.profiles) await search();
  document.body.dataset.readyMs = String(Math.round(performance.now())); // since the navigation began
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  report(error);
  $("save").disabled = true;
});
