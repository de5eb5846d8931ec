// Schedules, flow and batch trees, the audit log, broadcasting and health.
import { permits } from "../http/auth.ts";
import { seg } from "./api.ts";
import { Html, html, json, when } from "./html.ts";
import { actionForm, api, failedPage, page, refusal, type View } from "./view.ts";

export async function schedulesPage(view: View): Promise<Html> {
  const answer = await api(view, "GET", "/schedules");
  if (answer.status !== 200) return failedPage(view, "Schedules", "/schedules", answer);
  const schedules = (answer.json.schedules ?? []) as any[];
  const write = permits(view.caller, "schedules:write");
  const body = html`<table><caption>Schedules, with their next and last runs</caption>
<thead><tr><th scope="col">Id</th><th scope="col">When</th><th scope="col">Queue</th><th scope="col">Next run</th><th scope="col">Last run</th><th scope="col">Last outcome</th><th scope="col" class="n">Runs</th><th scope="col">Status</th>${write ? html`<th scope="col">Actions</th>` : null}</tr></thead>
<tbody>${schedules.map((s) => {
    const path = `/schedules/${seg(s.id)}`;
    const paused = s.paused === true || s.state?.paused === true;
    return html`<tr><th scope="row"><a href="${view.base}/schedules/${seg(s.id)}">${s.id}</a></th><td><code>${typeof s.when === "string" ? s.when : s.cron ?? (s.everyMs ? `every ${s.everyMs} ms` : json(s.when))}</code></td>
<td>${s.queue ?? s.target?.queue ?? ""}</td><td>${when(s.nextRunAt)}</td><td>${when(s.lastRunAt)}</td><td>${s.lastOutcome ?? "—"}</td><td class="n">${s.runs ?? 0}</td><td>${paused ? "paused" : "active"}</td>
${write ? html`<td>${paused ? actionForm(view, { path: `${path}/resume`, label: "Resume", ariaLabel: `Resume ${s.id}` }) : actionForm(view, { path: `${path}/pause`, label: "Pause", ariaLabel: `Pause ${s.id}` })}${
      actionForm(view, { path: `${path}/trigger`, label: "Run now", ariaLabel: `Run now: ${s.id}` })
    }</td>` : null}</tr>`;
  })}</tbody></table>${schedules.length === 0 ? html`<p class="muted">No schedules.</p>` : null}`;
  return page(view, { title: "Schedules", section: "/schedules", body });
}

interface TreeNode {
  job: { id: string; queue: string; name: string; state: string };
  children?: TreeNode[];
}

/** A flow as nested lists, built without recursion (a tree may be deep). */
function tree(view: View, root: TreeNode): Html {
  let out = "";
  const stack: (TreeNode | "close")[] = [root];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next === "close") {
      out += "</ul></li>";
      continue;
    }
    const { job } = next;
    const link = html`<a href="${view.base}/queues/${seg(job.queue)}/jobs/${seg(job.id)}">${job.queue}/${job.id}</a> ${job.name} <span class="state-${job.state}">${job.state}</span>`;
    const children = next.children ?? [];
    if (children.length === 0) {
      out += `<li>${link}</li>`;
      continue;
    }
    out += `<li>${link}<ul>`;
    stack.push("close");
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return new Html(`<ul class="tree">${out}</ul>`);
}

export async function flowPage(view: View, queue: string, id: string): Promise<Html> {
  const answer = await api(view, "GET", `/queues/${seg(queue)}/flows/${seg(id)}`);
  if (answer.status !== 200) return failedPage(view, `Flow ${id}`, "/", answer);
  const body = html`<p><a href="${view.base}/queues/${seg(queue)}/jobs/${seg(id)}">← Job ${id}</a></p><div id="flow-live" data-live>${tree(view, answer.json.flow)}</div>`;
  return page(view, { title: `Flow ${id}`, section: "/", body, liveQueues: [queue] });
}

export async function batchPage(view: View, queue: string, id: string): Promise<Html> {
  const answer = await api(view, "GET", `/queues/${seg(queue)}/batches/${seg(id)}`);
  if (answer.status !== 200) return failedPage(view, `Batch ${id}`, "/", answer);
  const batch = answer.json.batch as Record<string, unknown>;
  const total = Number(batch.total ?? 0);
  const processed = Number(batch.processed ?? 0);
  const body = html`<p><a href="${view.base}/queues/${seg(queue)}/jobs/${seg(id)}">← Job ${id}</a></p><div id="batch-live" data-live>
<progress max="${total || 1}" value="${processed}" aria-label="Batch progress">${processed} of ${total}</progress>
<dl class="facts">${Object.entries(batch).filter(([, v]) => typeof v !== "object").map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl></div>`;
  return page(view, { title: `Batch ${id}`, section: "/", body, liveQueues: [queue] });
}

const AUDIT_FILTERS = ["actor", "action", "outcome", "queue", "job", "schedule"] as const;

export async function auditPage(view: View): Promise<Html> {
  const query = new URLSearchParams();
  for (const name of [...AUDIT_FILTERS, "before"]) {
    const value = view.c.req.query(name);
    if (value) query.set(name, value);
  }
  query.set("limit", "50");
  const answer = await api(view, "GET", `/audit?${query}`);
  const filters = html`<form class="row" method="get" action="${view.base}/audit" role="search" aria-label="Filter the audit log">
${AUDIT_FILTERS.map((name) => html`<label>${name}<input name="${name}" value="${view.c.req.query(name) ?? ""}" maxlength="256"></label>`)}
<button type="submit">Filter</button></form>`;
  if (answer.status !== 200) return page(view, { title: "Audit log", section: "/audit", body: html`${filters}${refusal(answer)}` });
  const entries = answer.json.entries as any[];
  const next = answer.json.next as string | null;
  const more = new URLSearchParams(query);
  more.delete("limit");
  if (next) more.set("before", next);
  const body = html`${filters}<table><caption>Entries, newest first</caption>
<thead><tr><th scope="col">At</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Queue</th><th scope="col">Job</th><th scope="col">Address</th><th scope="col">Details</th></tr></thead>
<tbody>${entries.map((e) => html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.outcome}</td><td>${e.queue ?? ""}</td><td>${e.jobId ?? ""}</td><td>${e.ip ?? ""}</td><td>${e.details ? html`<code>${JSON.stringify(e.details)}</code>` : ""}</td></tr>`)}</tbody></table>
${entries.length === 0 ? html`<p class="muted">No entries.</p>` : null}
${next ? html`<p><a href="${view.base}/audit?${more.toString()}" rel="next">Older entries</a></p>` : null}`;
  return page(view, { title: "Audit log", section: "/audit", body });
}

export async function broadcastingPage(view: View): Promise<Html> {
  const broadcaster = view.host.options.broadcaster;
  if (!permits(view.caller, "ops:read")) {
    return page(view, { title: "Broadcasting", section: "/broadcasting", body: refusal({ status: 403, json: { error: { message: 'Forbidden: this needs the scope "ops:read"' } } }) });
  }
  if (!broadcaster) {
    return page(view, { title: "Broadcasting", section: "/broadcasting", body: html`<p class="muted">No broadcaster was given to the dashboard (<code>dashboard: { broadcaster }</code>).</p>` });
  }
  const channels = [...broadcaster.localChannels()].sort(([a], [b]) => a.localeCompare(b)).slice(0, 500);
  const presence = await Promise.all(channels.filter(([name]) => name.startsWith("presence-")).map(async ([name]) => [name, await broadcaster.members(name)] as const));
  const redact = (value: unknown) => view.host.conveyor.redactor.forReader(value, { payloads: false, stacks: false });
  const body = html`<p>${broadcaster.connectionCount} connections on this node.</p>
<table><caption>Channels with subscribers on this node</caption><thead><tr><th scope="col">Channel</th><th scope="col" class="n">Connections</th></tr></thead>
<tbody>${channels.map(([name, n]) => html`<tr><th scope="row">${name}</th><td class="n">${n}</td></tr>`)}</tbody></table>
${channels.length === 0 ? html`<p class="muted">No channels.</p>` : null}
${presence.map(([name, members]) => html`<h2>Members of ${name}</h2><ul>${members.map((m) => html`<li>${m.user_id} <code>${JSON.stringify(redact(m.user_info))}</code></li>`)}</ul>`)}`;
  return page(view, { title: "Broadcasting", section: "/broadcasting", body });
}

export async function healthPage(view: View): Promise<Html> {
  const answer = await api(view, "GET", "/health");
  // 503 is a report too: the dependencies are down.
  if (answer.status !== 200 && answer.status !== 503) return failedPage(view, "Health", "/health", answer);
  const report = answer.json;
  const checks = Object.entries(report.checks ?? {}) as [string, any][];
  const body = html`<p>Status: <strong class="state-${report.status === "ok" ? "completed" : "failed"}">${report.status}</strong>, reported ${report.time} in ${report.durationMs} ms.</p>
<table><caption>Checks</caption><thead><tr><th scope="col">Check</th><th scope="col">Status</th><th scope="col">Message</th><th scope="col" class="n">Took (ms)</th><th scope="col">Critical</th></tr></thead>
<tbody>${checks.map(([name, r]) => html`<tr><th scope="row">${name}</th><td>${r.status}</td><td>${r.message ?? ""}</td><td class="n">${r.durationMs}</td><td>${r.critical ? "yes" : "no"}</td></tr>`)}</tbody></table>
<table><caption>Queues, last 24 hours</caption><thead><tr><th scope="col">Queue</th><th scope="col" class="n">Runs</th><th scope="col" class="n">Success rate</th><th scope="col" class="n">Average (ms)</th></tr></thead>
<tbody>${(report.queues ?? []).map((q: any) => html`<tr><th scope="row">${q.name}</th><td class="n">${q.last24h?.executions ?? "—"}</td><td class="n">${q.last24h?.successRate == null ? "—" : `${(q.last24h.successRate * 100).toFixed(1)} %`}</td><td class="n">${q.last24h?.averageDurationMs == null ? "—" : Math.round(q.last24h.averageDurationMs)}</td></tr>`)}</tbody></table>
<h2>Configuration</h2><pre tabindex="0">${json(report.configuration)}</pre>`;
  return page(view, { title: "Health", section: "/health", body });
}
