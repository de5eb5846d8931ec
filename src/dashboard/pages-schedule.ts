// One schedule: what it runs and when, its last runs, and (for schedules:write) an editor whose
// JSON is the body of PUT /schedules/:id, prefilled from the schedule as stored.
import { permits } from "../http/auth.ts";
import { seg } from "./api.ts";
import { type Html, html, json, when } from "./html.ts";
import { actionForm, api, failedPage, page, type View } from "./view.ts";

/** The PUT body that would store the schedule as it is (the route validates whatever is sent back). */
export function editableBody(s: any): Record<string, unknown> {
  const options: Record<string, unknown> = { overlap: s.overlap, paused: s.paused };
  if (s.timezone) options.timezone = s.timezone;
  if (typeof s.startAt === "number") options.startAt = new Date(s.startAt).toISOString();
  if (typeof s.endAt === "number") options.endAt = new Date(s.endAt).toISOString();
  if (typeof s.maxRuns === "number") options.maxRuns = s.maxRuns;
  if (s.catchUp) options.catchUp = s.catchUp.mode === "all" ? { all: s.catchUp.max } : s.catchUp.mode;
  const target = s.workflow ? { ...s.workflow } : { job: s.job, payload: s.payload ?? null, ...(s.jobOptions && Object.keys(s.jobOptions).length ? { jobOptions: s.jobOptions } : {}) };
  return { when: s.cron ? { cron: s.cron } : { everyMs: s.everyMs }, queue: s.queue, ...target, options };
}

export async function schedulePage(view: View, id: string): Promise<Html> {
  const answer = await api(view, "GET", `/schedules/${seg(id)}`);
  if (answer.status !== 200) return failedPage(view, `Schedule ${id}`, "/schedules", answer);
  const s = answer.json.schedule;
  const write = permits(view.caller, "schedules:write");
  const path = `/schedules/${seg(id)}`;
  const editor = write
    ? html`<h2 id="edit-h">Edit</h2>
<form method="post" action="${view.base}/do${path}/edit" aria-labelledby="edit-h">
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="back" value="${view.base}${path}">
<p><label for="schedule-body">Schedule as JSON (the body of <code>PUT /schedules/${id}</code>: <code>when</code>, <code>queue</code>, <code>job</code> and <code>payload</code> or a <code>chain</code>, <code>flow</code> or <code>batch</code>, <code>options</code>)</label></p>
<textarea id="schedule-body" name="body" rows="16" cols="80" spellcheck="false">${JSON.stringify(editableBody(s), null, 2)}</textarea>
<p><button type="submit">Save schedule</button></p></form>`
    : null;
  const body = html`<p><a href="${view.base}/schedules">← Schedules</a></p>
<dl class="facts"><dt>When</dt><dd><code>${s.cron ?? `every ${s.everyMs} ms`}</code>${s.timezone ? ` (${s.timezone})` : ""}</dd><dt>Queue</dt><dd>${s.queue}</dd>
<dt>Runs</dt><dd>${s.workflow ? Object.keys(s.workflow)[0] : s.job}</dd><dt>Status</dt><dd>${s.paused ? "paused" : "active"}</dd>
<dt>Next run</dt><dd>${when(s.nextRunAt)}</dd><dt>Last run</dt><dd>${when(s.lastRunAt)}${s.lastJobId ? html`: <a href="${view.base}/queues/${seg(s.queue)}/jobs/${seg(s.lastJobId)}">job ${s.lastJobId}</a>` : null}</dd>
<dt>Last outcome</dt><dd>${s.lastOutcome ?? "—"}</dd><dt>Runs so far</dt><dd>${s.runs} (${s.skipped} skipped)</dd></dl>
${write ? html`<div class="row">${s.paused ? actionForm(view, { path: `${path}/resume`, label: "Resume" }) : actionForm(view, { path: `${path}/pause`, label: "Pause" })}${actionForm(view, { path: `${path}/trigger`, label: "Run now" })}</div>` : null}
${editor}
${s.workflow ? null : html`<h2>Payload</h2><pre tabindex="0">${json(s.payload)}</pre>`}`;
  return page(view, { title: `Schedule ${id}`, section: "/schedules", body });
}
