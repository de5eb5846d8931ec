// The dashboard's only assets, served by the app itself (no CDN, no build step): a stylesheet
// and a small script that keeps the page's live parts current from Server-Sent Events.

export const STYLES = `
:root{--fg:#1b1f24;--muted:#4a5360;--bg:#fff;--line:#d0d7de;--accent:#0b5cad;--danger:#a4161a;--ok:#1a6b2f;--panel:#f4f6f8;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.skip{position:absolute;left:-9999px;top:0;background:#fff;padding:.5em}
.skip:focus{left:.5em;z-index:9}
header{display:flex;flex-wrap:wrap;gap:1em;align-items:center;padding:.6em 1em;background:#14213d;color:#fff}
header a{color:#fff}
header .brand{font-weight:700;margin:0}
header nav ul{display:flex;flex-wrap:wrap;gap:.9em;list-style:none;margin:0;padding:0}
header nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}
header form{margin:0 0 0 auto}
#live-status{font-size:.85em;color:#fff}
main{padding:1em 1.5em;max-width:80em}
h1{font-size:1.5em;margin:.4em 0 .6em}
h2{font-size:1.15em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.5em 0;min-width:20em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border-bottom:1px solid var(--line);padding:.35em .6em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:var(--panel);padding:.6em;overflow:auto;max-height:24em;border:1px solid var(--line)}
button{font:inherit;padding:.25em .8em;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;cursor:pointer}
button.danger{background:var(--danger);border-color:var(--danger)}
button.plain{background:#fff;color:var(--accent)}
input,select{font:inherit;padding:.25em .4em;border:1px solid #6e7781;border-radius:4px}
form.inline{display:inline-block;margin:0 .3em .3em 0}
.row{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;margin:.5em 0}
.row label{display:flex;flex-direction:column;font-size:.9em}
.notice{padding:.5em .8em;border-left:4px solid var(--ok);background:#eaf5ec}
.error{padding:.5em .8em;border-left:4px solid var(--danger);background:#fbeaea}
.muted{color:var(--muted)}
.tabs{display:flex;flex-wrap:wrap;gap:.4em;list-style:none;padding:0}
.tabs a{display:inline-block;padding:.2em .6em;border:1px solid var(--line);border-radius:4px;text-decoration:none}
.tabs a[aria-current=page]{background:var(--accent);color:#fff;border-color:var(--accent)}
.tree,.tree ul{list-style:none;padding-left:1.2em;border-left:1px dashed var(--line)}
.tree{padding-left:.4em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
progress{width:14em}
.state-failed,.state-dead{color:var(--danger)}
.state-completed{color:var(--ok)}
`;

// Kept small and dependency-free. It re-fetches the page (debounced) when an event arrives for
// one of its queues and swaps each [data-live] region, unless the reader is using it (focus
// inside, boxes ticked), so nothing is lost under their hands.
export const SCRIPT = `(() => {
  "use strict";
  const body = document.body;
  const base = body.dataset.base || "";
  const queues = body.dataset.queues || "";
  const status = document.getElementById("live-status");
  const say = (text) => { if (status) status.textContent = text; };
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
  }
  if (!queues || !window.EventSource || !document.querySelector("[data-live]")) return;
  let timer = 0;
  let busy = false;
  const refresh = async () => {
    timer = 0;
    if (busy) { timer = setTimeout(refresh, 300); return; }
    busy = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (!res.ok || res.redirected) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const el of document.querySelectorAll("[data-live]")) {
        const next = doc.getElementById(el.id);
        if (!next || next.innerHTML === el.innerHTML) continue;
        if (el.contains(document.activeElement) && document.activeElement !== document.body) continue;
        if (el.querySelector("input:checked")) continue;
        el.innerHTML = next.innerHTML;
      }
      body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
    } catch (error) { say("Live updates paused"); } finally { busy = false; }
  };
  const source = new EventSource(base + "/live?queues=" + encodeURIComponent(queues));
  source.addEventListener("ready", () => { say("Live"); body.dataset.live = "ready"; });
  source.onmessage = () => { if (!timer) timer = setTimeout(refresh, 250); };
  source.onerror = () => say("Reconnecting…");
})();
`;
