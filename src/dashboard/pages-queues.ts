// Overview, a queue, a job and a queue's dead letters: all read through the app's own routes.
import { JOB_STATES, type Job, type JobState } from "../core/job.ts";
import { permits } from "../http/auth.ts";
import { seg } from "./api.ts";
import { Html, html, json, when } from "./html.ts";
import { sparkline } from "./throughput.ts";
import { actionForm, api, canWrite, currentUrl, failedPage, page, type View } from "./view.ts";

type Counts = Record<string, number>;
/** Jobs a search by name looks through: one page of the route at its largest. */
const NAME_SCAN = 1_000;
interface QueueRow {
  name: string;
  paused: boolean;
  counts: Counts;
}

const qPath = (view: View, queue: string) => `${view.base}/queues/${seg(queue)}`;
const jobPath = (view: View, queue: string, id: string) => `${qPath(view, queue)}/jobs/${seg(id)}`;

export async function overviewPage(view: View): Promise<Html> {
  const answer = await api(view, "GET", "/queues");
  if (answer.status !== 200) return failedPage(view, "Overview", "/", answer);
  const queues = answer.json.queues as QueueRow[];
  // Queues declared since the app was made are counted from their first overview on.
  for (const queue of view.host.conveyor.queues.values()) view.host.throughput.watch(queue);
  const health = permits(view.caller, "ops:read") ? await api(view, "GET", "/health") : null;
  const figures = new Map<string, { executions: number; failureRate: number | null }>(
    (health?.json?.queues ?? []).filter((q: any) => q.last24h).map((q: any) => [q.name, q.last24h]),
  );
  const workers = (health?.json?.configuration?.workers ?? []) as { id: string; queues: string[]; concurrency: number; active: number; running: boolean }[];
  const body = html`<section aria-labelledby="queues-h"><h2 id="queues-h">Queues</h2>
<div id="overview-live" data-live>
<table><caption class="muted">Jobs per state, live; the last hour's completed (green) and failed (red) attempts a minute</caption>
<thead><tr><th scope="col">Queue</th><th scope="col">Status</th>${JOB_STATES.map((s) => html`<th scope="col" class="n">${s}</th>`)}<th scope="col">Last hour</th><th scope="col" class="n">Last 24 h runs</th><th scope="col" class="n">Failure rate</th></tr></thead>
<tbody>${queues.map((q) => {
    const f = figures.get(q.name);
    return html`<tr><th scope="row"><a href="${qPath(view, q.name)}">${q.name}</a></th><td>${q.paused ? "paused" : "running"}</td>${
      JOB_STATES.map((s) => html`<td class="n" data-count="${q.name}:${s}">${q.counts[s] ?? 0}</td>`)
    }<td>${sparkline(view.host.throughput.lastHour(q.name), q.name)}</td><td class="n">${f ? f.executions : "—"}</td><td class="n">${f?.failureRate == null ? "—" : `${(f.failureRate * 100).toFixed(1)} %`}</td></tr>`;
  })}</tbody></table></div></section>
${health && workers.length > 0 ? html`<section aria-labelledby="workers-h"><h2 id="workers-h">Workers in this process</h2>
<table><thead><tr><th scope="col">Worker</th><th scope="col">Queues</th><th scope="col" class="n">Active</th><th scope="col" class="n">Concurrency</th><th scope="col">Running</th></tr></thead>
<tbody>${workers.map((w) => html`<tr><td>${w.id}</td><td>${w.queues.join(", ")}</td><td class="n">${w.active}</td><td class="n">${w.concurrency}</td><td>${w.running ? "yes" : "no"}</td></tr>`)}</tbody></table></section>` : null}`;
  return page(view, { title: "Overview", section: "/", body, liveQueues: queues.map((q) => q.name) });
}

function pager(view: View, pageNo: number, hasNext: boolean, total: number | null): Html {
  const at = (n: number) => {
    const url = new URL(view.c.req.url);
    url.searchParams.set("page", String(n));
    url.searchParams.delete("notice");
    return url.pathname + url.search;
  };
  const pages = total === null ? null : Math.max(1, Math.ceil(total / view.host.options.pageSize));
  return html`<nav aria-label="Pages" class="row">${pageNo > 1 ? html`<a href="${at(pageNo - 1)}" rel="prev">Previous page</a>` : null}
<span>Page ${pageNo}${pages === null ? "" : ` of ${pages}`}</span>${hasNext ? html`<a href="${at(pageNo + 1)}" rel="next">Next page</a>` : null}</nav>`;
}

const pageNumber = (view: View) => Math.max(1, Math.min(1_000_000, Number.parseInt(view.c.req.query("page") ?? "1", 10) || 1));

function jobRows(view: View, queue: string, jobs: Job[], selectable: boolean): Html {
  return html`${jobs.map((j) => html`<tr>${selectable ? html`<td><input type="checkbox" name="id" value="${j.id}" aria-label="Select job ${j.id}"></td>` : null}
<th scope="row"><a href="${jobPath(view, queue, j.id)}">${j.id}</a></th><td>${j.name}</td><td class="state-${j.state}">${j.state}</td><td class="n">${j.attemptsMade}/${j.maxAttempts}</td>
<td>${when(j.createdAt)}</td><td>${j.lastError?.message ?? ""}</td></tr>`)}`;
}

export async function queuePage(view: View, queue: string): Promise<Html> {
  const stateParam = view.c.req.query("state") ?? "waiting";
  const state: JobState = (JOB_STATES as readonly string[]).includes(stateParam) ? stateParam as JobState : "waiting";
  const name = (view.c.req.query("name") ?? "").trim().slice(0, 100);
  const pageNo = name ? 1 : pageNumber(view);
  const size = view.host.options.pageSize;
  const [list, queues] = await Promise.all([
    // One more than a page: whether there is a next one, without counting. A name is looked
    // for among the first NAME_SCAN jobs of the state (the store lists by state, not by name).
    api(view, "GET", `/queues/${seg(queue)}/jobs?state=${state}&offset=${(pageNo - 1) * size}&limit=${name ? NAME_SCAN : size + 1}`),
    api(view, "GET", "/queues"),
  ]);
  if (list.status !== 200) return failedPage(view, `Queue ${queue}`, "/", list);
  const row = (queues.json?.queues as QueueRow[] | undefined)?.find((q) => q.name === queue);
  const listed = list.json.jobs as Job[];
  const jobs = (name ? listed.filter((j) => j.name === name) : listed).slice(0, size);
  const write = canWrite(view, queue);
  const tabs = html`<ul class="tabs" aria-label="States">${JOB_STATES.map((s) => html`<li><a href="${qPath(view, queue)}?state=${s}"${s === state ? new Html(' aria-current="page"') : null}>${s} <span data-count="${queue}:${s}">${row?.counts[s] ?? ""}</span></a></li>`)}</ul>`;
  const controls = write
    ? html`<div class="row">${row?.paused
      ? actionForm(view, { path: `/queues/${seg(queue)}/resume`, label: "Resume queue" })
      : actionForm(view, { path: `/queues/${seg(queue)}/pause`, label: "Pause queue" })}
<a href="${qPath(view, queue)}/dead">Dead letters</a></div>`
    : html`<p><a href="${qPath(view, queue)}/dead">Dead letters</a></p>`;
  const search = html`<div class="row"><form class="row" method="get" action="${qPath(view, queue)}/find" role="search" aria-label="Open a job by id">
<label>Job id<input name="id" required maxlength="200"></label><button type="submit">Open job</button></form>
<form class="row" method="get" action="${qPath(view, queue)}" role="search" aria-label="Jobs by name"><input type="hidden" name="state" value="${state}">
<label>Job name<input name="name" value="${name}" maxlength="100"></label><button type="submit">Show</button>${name ? html` <a href="${qPath(view, queue)}?state=${state}">All names</a>` : null}</form></div>
${name ? html`<p class="muted" role="status">Jobs named “${name}” among the first ${NAME_SCAN.toLocaleString("en")} ${state} jobs${listed.length === NAME_SCAN ? " (there are more)" : ""}: ${jobs.length}${jobs.length === size ? " shown at most" : ""}.</p>` : null}`;
  const table = html`<table><caption>Jobs ${state}${row?.paused ? " (queue paused)" : ""}</caption>
<thead><tr>${write ? html`<th scope="col"><span class="muted">Select</span></th>` : null}<th scope="col">Id</th><th scope="col">Name</th><th scope="col">State</th><th scope="col" class="n">Attempts</th><th scope="col">Created</th><th scope="col">Last error</th></tr></thead>
<tbody>${jobRows(view, queue, jobs, write)}</tbody></table>${jobs.length === 0 ? html`<p class="muted">No jobs ${state}.</p>` : null}`;
  const bulk = write && jobs.length > 0
    ? html`<form method="post" action="${view.base}/do/queues/${seg(queue)}/jobs/bulk-retry">
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="back" value="${currentUrl(view)}">
<div id="jobs-live" data-live>${table}</div>
<div class="row"><button type="submit">Retry selected</button><button type="submit" class="danger" formaction="${view.base}/do/queues/${seg(queue)}/jobs/bulk-remove">Remove selected</button></div></form>`
    : html`<div id="jobs-live" data-live>${table}</div>`;
  const body = html`<div id="tabs-live" data-live>${tabs}</div>${controls}${search}${bulk}${name ? null : pager(view, pageNo, listed.length > size, row?.counts[state] ?? null)}`;
  return page(view, { title: `Queue ${queue}`, section: "/", body, liveQueues: [queue] });
}

function actionsFor(view: View, job: Job): Html {
  if (!canWrite(view, job.queue)) return html``;
  const path = `/queues/${seg(job.queue)}/jobs/${seg(job.id)}`;
  const out: Html[] = [];
  if (job.state === "failed" || job.state === "dead" || job.state === "cancelled") out.push(actionForm(view, { path: `${path}/retry`, label: "Retry" }));
  if (job.state === "waiting" || job.state === "delayed" || job.state === "active") out.push(actionForm(view, { path: `${path}/cancel`, label: "Cancel", danger: true }));
  if (job.state !== "active") {
    out.push(actionForm(view, { path: `${path}/remove`, label: "Remove", danger: true, confirm: `Remove job ${job.id}?`, back: qPath(view, job.queue) }));
  }
  return html`<div class="row" aria-label="Actions" role="group">${out}</div>`;
}

function progressOf(progress: unknown): Html {
  if (typeof progress === "number" && progress >= 0 && progress <= 100) {
    return html`<progress id="job-progress" max="100" value="${progress}" aria-label="Progress">${progress} %</progress> <span data-progress>${progress}</span> %`;
  }
  return html`<pre tabindex="0">${json(progress)}</pre>`;
}

function workflowLinks(view: View, job: Job): Html | null {
  const flow = job.flow;
  if (!flow) return null;
  const links: Html[] = [];
  if (flow.parent) links.push(html`<li>Parent: <a href="${jobPath(view, flow.parent.queue, flow.parent.id)}">${flow.parent.queue}/${flow.parent.id}</a></li>`);
  if (flow.family) {
    const kind = flow.family.batch ? "batches" : "flows";
    links.push(html`<li><a href="${qPath(view, job.queue)}/${kind}/${seg(job.id)}">${flow.family.batch ? "Batch progress" : "Flow tree"}</a> (${flow.family.children.length} children, ${flow.family.pending} pending)</li>`);
  }
  if (flow.previous) links.push(html`<li>After: <a href="${jobPath(view, flow.previous.queue, flow.previous.id)}">${flow.previous.name} (${flow.previous.state})</a></li>`);
  if (flow.chain) links.push(html`<li>Next in chain: ${flow.chain.then.map((s) => s.job.name).join(" → ") || "—"}</li>`);
  return links.length ? html`<h2>Workflow</h2><ul>${links}</ul>` : null;
}

export async function jobPage(view: View, queue: string, id: string): Promise<Html> {
  const stacks = permits(view.caller, "jobs:stacks", queue) ? "?stacks=true" : "";
  const answer = await api(view, "GET", `/queues/${seg(queue)}/jobs/${seg(id)}${stacks}`);
  if (answer.status !== 200) return failedPage(view, `Job ${id}`, "/", answer);
  const job = answer.json.job as Job;
  const error = job.lastError;
  const body = html`<p><a href="${qPath(view, queue)}?state=${job.state}">← Queue ${queue}</a></p>
<div id="job-live" data-live>
<dl class="facts"><dt>State</dt><dd class="state-${job.state}" data-state>${job.state}</dd><dt>Name</dt><dd>${job.name}</dd>
<dt>Attempts</dt><dd>${job.attemptsMade} of ${job.maxAttempts}${job.stalls ? `, ${job.stalls} stalled` : ""}</dd><dt>Priority</dt><dd>${job.priority}</dd>
<dt>Created</dt><dd>${when(job.createdAt)}${job.createdBy ? ` by ${job.createdBy}` : ""}</dd><dt>Due</dt><dd>${when(job.runAt)}</dd>
<dt>Started</dt><dd>${when(job.startedAt)}</dd><dt>Finished</dt><dd>${when(job.finishedAt)}</dd>
${job.changedBy ? html`<dt>Last change</dt><dd>${job.changedBy.action} by ${job.changedBy.by} at ${when(job.changedBy.at)}</dd>` : null}</dl>
${actionsFor(view, job)}
<h2>Progress</h2>${progressOf(job.progress)}
<h2>Logs</h2>${job.logs.length ? html`<ol>${job.logs.map((l) => html`<li><code>${l}</code></li>`)}</ol>` : html`<p class="muted">No log lines.</p>`}
${error ? html`<h2>Error</h2><p class="error">${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}</p>${error.stack ? html`<pre tabindex="0">${error.stack}</pre>` : null}` : null}
${job.dead ? html`<p>Dead letter: ${job.dead.reason} after ${job.dead.attempts} attempts, ${when(job.dead.at)}</p>` : null}
<h2>Result</h2><pre tabindex="0">${json(job.result)}</pre>
</div>
<h2>Payload</h2><pre tabindex="0">${json(job.payload)}</pre>
${Object.keys(job.steps ?? {}).length ? html`<h2>Durable steps</h2><pre tabindex="0">${json(job.steps)}</pre>` : null}
${workflowLinks(view, job)}`;
  return page(view, { title: `Job ${id}`, section: "/", body, liveQueues: [queue] });
}

export async function deadPage(view: View, queue: string): Promise<Html> {
  const pageNo = pageNumber(view);
  const size = view.host.options.pageSize;
  const list = await api(view, "GET", `/queues/${seg(queue)}/dead?offset=${(pageNo - 1) * size}&limit=${size + 1}`);
  if (list.status !== 200) return failedPage(view, `Dead letters of ${queue}`, "/", list);
  const jobs = (list.json.jobs as Job[]).slice(0, size);
  const write = canWrite(view, queue);
  const controls = write && jobs.length > 0
    ? html`<div class="row">${actionForm(view, { path: `/queues/${seg(queue)}/dead/retry`, label: "Retry all dead jobs" })}${
      actionForm(view, { path: `/queues/${seg(queue)}/dead/purge`, label: "Purge dead letters", danger: true, confirm: `Delete every dead job of ${queue}?` })
    }</div>`
    : null;
  const body = html`<p><a href="${qPath(view, queue)}">← Queue ${queue}</a></p>${controls}
<div id="dead-live" data-live><table><caption>Dead jobs, newest first</caption>
<thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">State</th><th scope="col" class="n">Attempts</th><th scope="col">Created</th><th scope="col">Last error</th></tr></thead>
<tbody>${jobRows(view, queue, jobs, false)}</tbody></table>${jobs.length === 0 ? html`<p class="muted">No dead jobs.</p>` : null}</div>
${pager(view, pageNo, (list.json.jobs as Job[]).length > size, null)}`;
  return page(view, { title: `Dead letters of ${queue}`, section: "/", body, liveQueues: [queue] });
}
