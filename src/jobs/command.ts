// The command job: runs an allow-listed program with an argument array (never a shell), an
// environment built from allow-lists, a time limit enforced by SIGTERM then SIGKILL, and its
// output capped and redacted. A non-zero exit fails the attempt (retried while attempts remain).
import * as v from "valibot";
import { type Clock, systemClock } from "../core/clock.ts";
import { defineJob, type JobDefinition } from "../core/define-job.ts";
import { ConveyorError } from "../core/errors.ts";
import type { JobContext } from "../core/job-context.ts";
import type { JobSettings } from "../core/job-options.ts";
import { DEFAULT_REDACTOR, Redactor } from "../core/redaction.ts";
import { parseArgument } from "../core/validation.ts";
import { RefusedError } from "./errors.ts";
import { type Captured, capture } from "./output.ts";
import { readyJob, type ReadyJob } from "./ready-job.ts";
import type { ExitStatus, ProcessSpawner, SpawnedProcess } from "./spawner.ts";

export interface CommandJobOptions {
  /** Starts processes: `nodeSpawner()`, `bunSpawner()` or `denoSpawner()` from the runtime's `adapter/*-system` entry. */
  spawner: ProcessSpawner;
  /** Programs a job may run, by exact name (looked up on PATH) or exact path. Required, at least one. */
  programs: readonly string[];
  /** The job's name. @default "command" */
  name?: string;
  /** Variables of this process passed on to every child. @default ["PATH"] */
  inheritEnv?: readonly string[];
  /** Variables a payload may set (`payload.env`); any other name is refused. @default [] */
  env?: readonly string[];
  /** Working directory of every child. @default this process's */
  cwd?: string;
  /** Working directories a payload may choose instead (`payload.cwd`), exactly as written. @default [] */
  cwds?: readonly string[];
  /** Time a child may run; then SIGTERM. A payload may ask for less. @default 60_000 */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. @default 5_000 */
  killGraceMs?: number;
  /** Bytes of stdout and of stderr kept each (the rest is read and dropped, so the child never blocks). @default 65_536 */
  maxOutputBytes?: number;
  /** Redacts the kept output. Give it the conveyor's (`conveyor.redactor`). @default the built-in rules */
  redactor?: Redactor;
  /** Times the limit and the grace. @default systemClock */
  clock?: Clock;
  /** Job defaults (one attempt unless set). */
  job?: JobSettings;
}

/** What one command job is told to run. */
export interface CommandPayload {
  /** A program on the `programs` allow-list, exactly as written there. */
  program: string;
  /** Each passed as it is, never through a shell. @default [] */
  args?: string[];
  /** Variables named in the `env` allow-list. */
  env?: Record<string, string>;
  /** A directory on the `cwds` allow-list. @default the definition's `cwd` */
  cwd?: string;
  /** Less time than the definition's `timeoutMs`. */
  timeoutMs?: number;
}
/** The payload as the handler gets it: `args` filled in. */
export type ParsedCommandPayload = CommandPayload & { args: string[] };

/** Every setting a command job runs with when it is not given one. */
export interface CommandDefaults {
  readonly name: string;
  readonly inheritEnv: readonly string[];
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly maxOutputBytes: number;
}

export const COMMAND_DEFAULTS: CommandDefaults = Object.freeze({
  name: "command",
  inheritEnv: Object.freeze(["PATH"]) as readonly string[],
  timeoutMs: 60_000,
  killGraceMs: 5_000,
  maxOutputBytes: 65_536,
});

/** What a command that exited 0 leaves as its job's result. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly durationMs: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const names = v.array(v.pipe(v.string(), v.regex(ENV_NAME, "an environment variable name")));
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));
const OptionsSchema = v.strictObject({
  spawner: v.custom<ProcessSpawner>((s) => typeof (s as ProcessSpawner | null)?.spawn === "function", "a ProcessSpawner"),
  programs: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.regex(/^[^\0]*$/))), v.minLength(1, "at least one program")),
  name: v.optional(v.string()),
  inheritEnv: v.optional(names),
  env: v.optional(names),
  cwd: v.optional(v.string()),
  cwds: v.optional(v.array(v.string())),
  timeoutMs: v.optional(positive),
  killGraceMs: v.optional(positive),
  maxOutputBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  redactor: v.optional(v.instance(Redactor)),
  clock: v.optional(v.custom<Clock>((c) => typeof (c as Clock | null)?.now === "function", "a Clock")),
  job: v.optional(v.record(v.string(), v.unknown())),
});

/** The payload schema of one command job: its allow-lists are part of it, so `add` refuses what the worker would. */
function payloadSchema(programs: readonly string[], envNames: readonly string[], cwds: readonly string[], maxTimeoutMs: number): v.GenericSchema<CommandPayload, ParsedCommandPayload> {
  const text = v.pipe(v.string(), v.maxLength(100_000), v.regex(/^[^\0]*$/, "text without NUL characters"));
  return v.strictObject({
    program: v.picklist(programs as string[], "a program on the allow-list"),
    args: v.optional(v.pipe(v.array(text), v.maxLength(1_000)), []),
    // With an empty list a payload may name no variable and no directory at all.
    env: v.optional(envNames.length > 0 ? v.record(v.picklist(envNames as string[], "a variable on the env allow-list"), text) : v.strictObject({})),
    cwd: v.optional(cwds.length > 0 ? v.picklist(cwds as string[], "a directory on the cwds allow-list") : v.never("no cwd (the definition allows none)")),
    timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(maxTimeoutMs))),
  });
}
export type CommandJob = ReadyJob<JobDefinition<v.GenericSchema<CommandPayload, ParsedCommandPayload>>>;

/**
 * The command job: `commandJob({ spawner: nodeSpawner(), programs: ["git"] }).register(worker)`.
 * On Cloudflare Workers (a spawner that says `unsupported`, or none given there) it throws
 * `UNSUPPORTED_RUNTIME` here, at definition, not when a job runs.
 */
export function commandJob(options: CommandJobOptions): CommandJob {
  const onWorkers = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
  const unsupported = options?.spawner?.unsupported ?? (onWorkers && !options?.spawner ? "Cloudflare Workers cannot start processes" : undefined);
  if (unsupported) throw new ConveyorError("UNSUPPORTED_RUNTIME", `commandJob: ${unsupported}`);
  const o = parseArgument(OptionsSchema, options, "command job options");
  const s = {
    spawner: o.spawner,
    programs: new Set(o.programs),
    inheritEnv: o.inheritEnv ?? COMMAND_DEFAULTS.inheritEnv,
    cwd: o.cwd,
    timeoutMs: o.timeoutMs ?? COMMAND_DEFAULTS.timeoutMs,
    killGraceMs: o.killGraceMs ?? COMMAND_DEFAULTS.killGraceMs,
    maxOutputBytes: o.maxOutputBytes ?? COMMAND_DEFAULTS.maxOutputBytes,
    redactor: o.redactor ?? DEFAULT_REDACTOR,
    clock: o.clock ?? systemClock,
  };
  const schema = payloadSchema(o.programs, o.env ?? [], o.cwds ?? [], s.timeoutMs);
  const definition = defineJob(o.name ?? COMMAND_DEFAULTS.name, schema, (o.job ?? {}) as JobSettings);
  return readyJob(definition, (payload, ctx) => run(payload, ctx, s));
}

type Settings = {
  spawner: ProcessSpawner; programs: Set<string>; inheritEnv: readonly string[]; cwd: string | undefined;
  timeoutMs: number; killGraceMs: number; maxOutputBytes: number; redactor: Redactor; clock: Clock;
};

async function run(payload: ParsedCommandPayload, ctx: JobContext, s: Settings): Promise<CommandResult> {
  // The schema checked this already; checked again because a payload stored under an older, wider list may still be waiting.
  if (!s.programs.has(payload.program)) throw new RefusedError("COMMAND_REFUSED", `Program "${payload.program}" is not on the allow-list`);
  const env: Record<string, string> = {};
  for (const name of s.inheritEnv) {
    const value = s.spawner.env(name);
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, payload.env);
  const started = s.clock.now();
  let child: SpawnedProcess;
  try {
    child = s.spawner.spawn({ program: payload.program, args: payload.args, cwd: payload.cwd ?? s.cwd, env });
  } catch (cause) {
    throw notStarted(payload.program, cause);
  }
  const stdout = capture(child.stdout, s.maxOutputBytes);
  const stderr = capture(child.stderr, s.maxOutputBytes);

  // SIGTERM at the limit (or when the job is cancelled, times out or its worker stops), SIGKILL after the grace.
  let stopping: "timeout" | "aborted" | null = null;
  let killTimer: unknown;
  const stop = (why: "timeout" | "aborted") => {
    if (stopping) return;
    stopping = why;
    child.kill("SIGTERM");
    killTimer = s.clock.setTimeout(() => child.kill("SIGKILL"), s.killGraceMs);
  };
  const limitMs = payload.timeoutMs ?? s.timeoutMs;
  const limitTimer = s.clock.setTimeout(() => stop("timeout"), limitMs);
  const onAbort = () => stop("aborted");
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener("abort", onAbort, { once: true });
  let status: ExitStatus;
  try {
    status = await child.exited;
  } catch (cause) {
    throw notStarted(payload.program, cause);
  } finally {
    s.clock.clearTimeout(limitTimer);
    if (killTimer !== undefined) s.clock.clearTimeout(killTimer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
  // A grandchild may hold the pipes open after the child exits: wait a grace for the output, no longer.
  const [out, err] = await settleOutput([stdout, stderr], s);
  const durationMs = s.clock.now() - started;
  const shown = (c: Captured) => s.redactor.string(c.text);
  if (stopping === "aborted") throw ctx.signal.reason;
  if (stopping === "timeout") {
    throw new ConveyorError("COMMAND_TIMEOUT", `"${payload.program}" ran past ${limitMs} ms and was stopped (${status.signal ?? `exit ${status.code}`})`);
  }
  if (status.code !== 0) {
    const tail = shown(err).slice(-500);
    const how = status.code === null ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
    throw new ConveyorError("COMMAND_FAILED", `"${payload.program}" ${how}${tail ? `: ${tail}` : ""}`);
  }
  return { exitCode: 0, stdout: shown(out), stderr: shown(err), stdoutTruncated: out.truncated, stderrTruncated: err.truncated, durationMs };
}

function notStarted(program: string, cause: unknown): Error {
  const code = (cause as { code?: unknown })?.code;
  if (code === "ENOENT" || (cause instanceof Error && cause.name === "NotFound")) {
    return new RefusedError("COMMAND_FAILED", `"${program}" was not found (not on PATH, or no such file)`, { cause });
  }
  return new ConveyorError("COMMAND_FAILED", `"${program}" could not be started: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

async function settleOutput(streams: [ReturnType<typeof capture>, ReturnType<typeof capture>], s: Settings): Promise<[Captured, Captured]> {
  let timer: unknown;
  const late = new Promise<void>((resolve) => timer = s.clock.setTimeout(resolve, s.killGraceMs));
  await Promise.race([Promise.all(streams.map((c) => c.done)), late]);
  s.clock.clearTimeout(timer);
  return [streams[0].stop(), streams[1].stop()];
}
