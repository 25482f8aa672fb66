/* misp-workflow's pages: the little they need beyond HTML. Every page works without this file
   (links and forms); with it: node panels open in place, the runs list updates live, a queued
   run's page shows the run when it is done, the hash-path playground evaluates as one types.
   When the service stops answering, a banner says so (and retries), never a silent page. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function banner(text, link) {
    var b = document.getElementById("banner");
    if (!b) return;
    b.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href; a.textContent = link.text;
      b.append(" ", a);
    }
    b.hidden = false;
  }
  function clearBanner() { var b = document.getElementById("banner"); if (b) { b.hidden = true; b.textContent = ""; } }
  function announce(text) { var l = document.getElementById("live"); if (l) l.textContent = text; }
  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function lost(error) {
    banner("Lost contact with the service (" + (error && error.message || error) + "): retrying…");
  }
  function sessionEnded() {
    banner("Your session has ended.", { href: "/ui/login?next=" + encodeURIComponent(location.pathname + location.search), text: "Log in again" });
  }

  /* -- the node panel ------------------------------------------------------------------- */
  function openPanel(link) {
    var panel = document.getElementById("panel");
    var href = link.getAttribute("href");
    if (!panel || !href) return false;
    var hash = href.indexOf("#") >= 0 ? href.slice(href.indexOf("#") + 1) : "";
    var url = href.split("#")[0];
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "fragment=1";
    panel.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { sessionEnded(); throw new Error("session ended"); }
      return r.text().then(function (text) {
        if (!r.ok) {
          var message = "HTTP " + r.status;
          try { message = JSON.parse(text).error || message; } catch (e) { /* not JSON */ }
          throw new Error(message);
        }
        return text;
      });
    }).then(function (html) {
      clearBanner();
      panel.innerHTML = html;
      var key = link.getAttribute("data-node") || (panel.querySelector("[data-node-panel]") || {}).dataset.nodePanel;
      document.querySelectorAll("svg.graph a.node.selected").forEach(function (n) { n.classList.remove("selected"); n.removeAttribute("aria-current"); });
      document.querySelectorAll('#graph a.node[data-node="' + CSS.escape(key || "") + '"]').forEach(function (n) {
        n.classList.add("selected"); n.setAttribute("aria-current", "true");
      });
      var target = hash && panel.querySelector("#" + CSS.escape(hash));
      var heading = panel.querySelector("#panel-h");
      if (target) target.scrollIntoView({ block: "start" });
      if (heading) heading.focus({ preventScroll: !!target });
      announce("Node " + (key || "") + " details loaded");
    }).catch(function (error) {
      if (String(error.message) === "session ended") return;
      panel.innerHTML = "";
      var p = document.createElement("p");
      p.className = "error-message"; p.setAttribute("role", "alert"); p.id = "panel-error";
      p.textContent = "Could not load the node's details: " + error.message;
      panel.append(p);
      if (/fetch|network/i.test(error.message)) lost(error);
    }).finally(function () { panel.removeAttribute("aria-busy"); });
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("svg.graph a.node, a[data-panel]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || !document.getElementById("panel")) return;
    if (openPanel(link)) event.preventDefault();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") return;
    var link = event.target.closest && event.target.closest("svg.graph a.node");
    if (!link || !document.getElementById("panel")) return;
    event.preventDefault();
    openPanel(link);
  });

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var wrap = button.closest("section, main").querySelector(".graph-wrap");
      var actual = wrap.classList.toggle("actual");
      button.setAttribute("aria-pressed", actual ? "true" : "false");
      button.textContent = actual ? "Fit to width" : "Actual size";
    });
  });

  /* -- the runs list, live ------------------------------------------------------------------ */
  async function liveRuns(table) {
    var seq = Number(table.dataset.liveSeq || 0);
    var filters = table.dataset.filters || "";
    var delay = 500;
    for (;;) {
      try {
        var r = await fetch("/ui/runs/changes?since_seq=" + seq + "&wait=25" + (filters ? "&" + filters : ""),
          { credentials: "same-origin" });
        if (r.status === 401) { sessionEnded(); return; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        var body = await r.json();
        clearBanner(); delay = 500;
        seq = body.seq;
        var tbody = table.tBodies[0];
        body.rows.forEach(function (item) {
          var holder = document.createElement("tbody");
          holder.innerHTML = item.html.trim();
          var row = holder.firstElementChild;
          row.classList.add("new");
          var old = tbody.querySelector('tr[data-run="' + CSS.escape(item.id) + '"]');
          if (old) old.replaceWith(row); else tbody.prepend(row);
        });
        if (body.rows.length) {
          var empty = document.getElementById("no-runs");
          if (empty) empty.remove();
          while (tbody.rows.length > 200) tbody.deleteRow(-1);
          announce(body.rows.length + " run(s) finished");
        }
      } catch (error) {
        lost(error);
        await wait(delay);
        delay = Math.min(delay * 2, 10000);
      }
    }
  }
  var runsTable = document.querySelector("table[data-live-seq]");
  if (runsTable) liveRuns(runsTable);

  /* -- a queued run: show it when it is done ------------------------------------------------------ */
  async function waitForRun(node) {
    var id = node.dataset.waitRun, seq = Number(node.dataset.seq || 0), delay = 500;
    for (;;) {
      try {
        var r = await fetch("/ui/runs/changes?since_seq=" + seq + "&wait=25", { credentials: "same-origin" });
        if (r.status === 401) { sessionEnded(); return; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        var body = await r.json();
        clearBanner(); delay = 500;
        seq = body.seq;
        if (body.rows.some(function (row) { return row.id === id; })) { location.reload(); return; }
      } catch (error) {
        lost(error);
        await wait(delay);
        delay = Math.min(delay * 2, 10000);
      }
    }
  }
  var pending = document.querySelector("[data-wait-run]");
  if (pending) waitForRun(pending);

  /* -- the hash-path playground ---------------------------------------------------------------- */
  function jsonTree(value) {
    var byPointer = new Map();
    function text(t) { return document.createTextNode(t); }
    function pad(n) { return text("  ".repeat(n)); }
    function esc(key) { return String(key).replace(/~/g, "~0").replace(/\//g, "~1"); }
    function build(parent, v, ptr, depth) {
      var span = document.createElement("span");
      span.dataset.p = ptr;
      if (v !== null && typeof v === "object") {
        var isArray = Array.isArray(v), keys = isArray ? v.map(function (_, i) { return i; }) : Object.keys(v);
        if (!keys.length) { span.append(text(isArray ? "[]" : "{}")); }
        else {
          span.append(text(isArray ? "[\n" : "{\n"));
          keys.forEach(function (k, i) {
            span.append(pad(depth + 1));
            if (!isArray) {
              var ks = document.createElement("span"); ks.className = "k"; ks.textContent = JSON.stringify(String(k));
              span.append(ks, text(": "));
            }
            build(span, v[k], ptr + "/" + esc(k), depth + 1);
            span.append(text(i < keys.length - 1 ? ",\n" : "\n"));
          });
          span.append(pad(depth), text(isArray ? "]" : "}"));
        }
      } else {
        span.className = typeof v === "string" ? "s" : typeof v === "number" ? "n" : "l";
        span.textContent = JSON.stringify(v);
      }
      byPointer.set(ptr, span);
      parent.append(span);
    }
    var root = document.createElement("div");
    build(root, value, "", 0);
    return { node: root, byPointer: byPointer };
  }

  function playground(form) {
    var path = form.querySelector("#path"), mode = form.querySelector("#mode"), conv = form.querySelector("#convert");
    var event = form.querySelector("#event"), out = document.getElementById("hp-answer"), treeBox = document.getElementById("hp-tree");
    var tree = null, treeKey = null, timer = null, asked = 0;
    function show(answer) {
      out.innerHTML = "";
      if (!answer.ok) {
        var e = document.createElement("p"); e.className = "error-message"; e.id = "hp-error"; e.textContent = answer.error;
        out.append(e);
      } else {
        var c = document.createElement("p"); c.id = "hp-count";
        var count = answer.count === null ? "a value" : answer.count + " match(es)";
        c.textContent = count + (answer.located ? "" : " (their places in the event cannot be told for this path)");
        var pre = document.createElement("pre"); pre.id = "hp-result"; pre.textContent = answer.result;
        out.append(c, pre);
      }
      if (answer.data !== undefined) {
        tree = jsonTree(JSON.parse(answer.data));
        treeBox.innerHTML = ""; treeBox.append(tree.node);
      }
      if (tree) {
        treeBox.querySelectorAll(".hit").forEach(function (n) { n.classList.remove("hit"); });
        var first = null;
        (answer.ok && answer.pointers || []).forEach(function (p) {
          var span = tree.byPointer.get(p);
          if (span) { span.classList.add("hit"); first = first || span; }
        });
        treeBox.dataset.hits = String(treeBox.querySelectorAll(".hit").length);
        if (first) first.scrollIntoView({ block: "nearest" });
      }
    }
    async function evaluate() {
      var key = (conv.checked ? "1" : "0") + event.value;
      var wantData = key !== treeKey;
      var mine = ++asked;
      try {
        var r = await fetch("/ui/hashpath/eval", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ event: event.value, path: path.value, mode: mode.value, convert: conv.checked, want_data: wantData })
        });
        if (r.status === 401) { sessionEnded(); return; }
        var answer = await r.json();
        if (mine !== asked) return;
        clearBanner();
        if (wantData && answer.data !== undefined) treeKey = key;
        if (wantData && answer.data === undefined) { tree = null; treeKey = null; treeBox.innerHTML = ""; }
        show(answer);
        treeBox.dataset.ready = String(asked);
      } catch (error) { lost(error); }
    }
    function later() { clearTimeout(timer); timer = setTimeout(evaluate, 150); }
    [path, event].forEach(function (el) { el.addEventListener("input", later); });
    [mode, conv].forEach(function (el) { el.addEventListener("change", later); });
    form.addEventListener("submit", function (e) { e.preventDefault(); evaluate(); });
    document.querySelectorAll("[data-path]").forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault(); path.value = a.dataset.path;
        if (/_AttributeFlattened/.test(a.dataset.path)) conv.checked = true;
        path.focus(); evaluate();
      });
    });
    evaluate();
  }
  var hp = document.getElementById("hashpath-form");
  if (hp) playground(hp);

  if (window.performance && performance.mark) {
    performance.mark("mw-ready");  /* the page's graph and tables are in the document, the script is wired */
    requestAnimationFrame(function () { requestAnimationFrame(function () { performance.mark("mw-painted"); }); });
  }
})();
