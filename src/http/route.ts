import { toJsonSchema } from "@valibot/to-json-schema";
import type { Context, Hono, MiddlewareHandler } from "hono";
import * as v from "valibot";
import { check, summarise } from "../core/validation.ts";
import { DEFAULT_REDACTOR, type Redactor } from "../core/redaction.ts";
import type { StandardSchemaV1 } from "../core/standard-schema.ts";
import { type Caller, requireScope } from "./auth.ts";
import { HttpError } from "./errors.ts";
import type { RouteTable } from "./fallback.ts";
import type { Permissions } from "./permission-config.ts";
import { checkPermission, type PermissionDecision } from "./permissions.ts";
import { type HttpAccess, HIDDEN_FIELDS, PAYLOAD_SCOPE, readerAccess, readerView } from "./reader-access.ts";

/** What a route's permission allows: every record, or those of a tenant or subject (see permissions.ts). */
export type Grant = Extract<PermissionDecision, { allowed: true }>;
const EVERY_RECORD: Grant = Object.freeze({ allowed: true, allRecords: true, tenant: null, subject: null });

type Schema = v.GenericSchema;

/** What a route handler receives: everything already parsed, checked and authorised. */
export interface RouteInput<P, Q, B> {
  readonly c: Context<AppEnv>;
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly caller: Caller;
  /** What the caller may see of job data (payload scope, `?stacks=true`): for answers a route streams itself. */
  readonly access: HttpAccess;
  /** Which records the route's permission covers: a route reading or changing jobs keeps to them. */
  readonly grant: Grant;
  /** The app's permission options, when configured. */
  readonly permissions: Permissions | null;
}

export interface AppEnv {
  Variables: { caller: Caller };
}

/**
 * One endpoint, declared once: the same schemas validate its requests and describe it in the
 * OpenAPI document, so the two cannot drift apart.
 */
export interface Route<P = unknown, Q = unknown, B = unknown> {
  readonly method: "get" | "post" | "put" | "delete";
  /** Hono path, e.g. "/queues/:queue/jobs/:id". */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** Scope needed ("jobs:read" …), checked per queue when the path has `:queue`; null for public routes. */
  readonly scope: string | null;
  /** The finer action checked (`jobs:create`, `jobs:update`, `jobs:delete`); `scope` includes it. @default scope */
  readonly permission?: string;
  readonly params?: Schema;
  readonly query?: Schema;
  readonly body?: Schema;
  /** Status of a successful answer. @default 200 */
  readonly status?: 200 | 201;
  handle(input: RouteInput<P, Q, B>): Promise<unknown> | unknown;
}

export function route<P extends Schema = v.ObjectSchema<{}, undefined>, Q extends Schema = v.ObjectSchema<{}, undefined>, B extends Schema = v.UnknownSchema>(
  spec: Omit<Route, "handle" | "params" | "query" | "body"> & {
    params?: P;
    query?: Q;
    body?: B;
    handle(input: RouteInput<v.InferOutput<P>, v.InferOutput<Q>, v.InferOutput<B>>): Promise<unknown> | unknown;
  },
): Route {
  return spec as unknown as Route;
}

/** Parses part of a request; failure is a 400 whose issue paths start at `where` ("body.payload.to"). */
export function validated<S extends StandardSchemaV1>(schema: S, value: unknown, where: string, what = where): StandardSchemaV1.InferOutput<S> {
  const result = check(schema, value, what);
  if (result.ok) return result.value;
  const issues = result.issues.map((i) => ({ ...i, path: i.path ? `${where}.${i.path}` : where }));
  throw new HttpError(400, "VALIDATION_FAILED", `Invalid ${what}: ${summarise(issues)}`, { issues });
}

function parsed(schema: Schema | undefined, value: unknown, where: string): unknown {
  return schema ? validated(schema, value, where) : value;
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON (Content-Type: application/json)");
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "INVALID_JSON", "The body is not valid JSON");
  }
}

/**
 * Registers routes on an app: `guards` (size limit, authentication, rate limit), then parse,
 * authorise, run, answer JSON (or the Response a handler made). The guards go on each route,
 * not on "*": a mounted app's "*" middleware would run for every other route of the host.
 * Every JSON answer goes out through `redactor.forReader`, so no route can forget it.
 */
export function register(
  app: Hono<AppEnv>,
  routes: readonly Route[],
  guards: readonly MiddlewareHandler<AppEnv>[],
  table: RouteTable,
  redactor: Redactor = DEFAULT_REDACTOR,
  permissions: Permissions | null = null,
): void {
  for (const r of routes) {
    const method = r.method.toUpperCase();
    table.add(method, r.path);
    for (const guard of guards) app.on(method, r.path, guard);
    app.on(method, r.path, async (c) => {
      const params = parsed(r.params, c.req.param(), "path");
      const query = parsed(r.query, c.req.query(), "query");
      const body = r.body ? parsed(r.body, await readJson(c), "body") : undefined;
      const caller = c.get("caller");
      const queue = (params as { queue?: string } | undefined)?.queue;
      const action = r.permission ?? r.scope;
      let grant = EVERY_RECORD;
      if (action) {
        requireScope(caller, action, queue);
        grant = checkPermission(caller, action, { queue }) as Grant;
      }
      const access = readerAccess(caller, queue, (query as { stacks?: boolean } | undefined)?.stacks === true, permissions);
      const result = await r.handle({ c, params, query, body, caller, access, grant, permissions });
      if (result instanceof Response) return result;
      return c.json(readerView(redactor, result, access) as object, r.status ?? 200);
    });
  }
}

const errorSchema = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        issues: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
      },
      required: ["code", "message", "issues"],
    },
  },
  required: ["error"],
};

const HIDDEN_SCHEMA = {
  type: "array",
  description: `On a job, event or schedule served to a caller without "${PAYLOAD_SCOPE}" when permissions.fields is "hide": the data fields left out.`,
  items: { type: "string", enum: [...HIDDEN_FIELDS] },
};

type Convert = (schema: Schema) => Record<string, unknown>;

/**
 * Converts schemas to JSON Schema for one document. A recursive schema (a flow's children)
 * comes with `$defs` referred to as "#/$defs/…", which inside an OpenAPI document would point
 * at its root: they move to `components.schemas` (one copy per distinct set) and the
 * references follow them.
 */
function converter(components: Record<string, unknown>): Convert {
  const moved = new Map<string, Record<string, string>>();
  return (schema) => {
    const { $schema: _, $defs, ...rest } = toJsonSchema(schema, { errorMode: "ignore" }) as Record<string, unknown>;
    if (!$defs || typeof $defs !== "object") return rest;
    const block = JSON.stringify($defs);
    let names = moved.get(block);
    const rename = (value: unknown) =>
      JSON.parse(JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_, key: string) => JSON.stringify(`#/components/schemas/${names![key]}`)));
    if (!names) {
      names = {};
      for (const key of Object.keys($defs)) names[key] = `Nested${moved.size + 1}_${key}`;
      moved.set(block, names);
      for (const [key, value] of Object.entries($defs)) components[names[key]!] = rename(value);
    }
    return rename(rest);
  };
}

function parametersOf(jsonSchema: Convert, schema: Schema | undefined, where: "path" | "query"): unknown[] {
  if (!schema) return [];
  const object = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || (object.required ?? []).includes(name),
    schema: s,
  }));
}

/** Routes that answer jobs, events or schedules: their data fields depend on the payload permission. */
const servesJobData = (r: Route) => r.tag === "schedules" || "stacks" in ((r.query as { entries?: object } | undefined)?.entries ?? {});
const FIELD_NOTE = `Without "${PAYLOAD_SCOPE}" (or "${PAYLOAD_SCOPE}:<queue>"), ${HIDDEN_FIELDS.join(", ")} are served with secrets redacted; ` +
  `with permissions.fields = "hide" they are left out instead and the object lists them in "hidden". Stacks only with ?stacks=true and "jobs:stacks".`;

/** The OpenAPI 3.1 document of the routes, from their own schemas. */
export function openApi(routes: readonly Route[], info: { title: string; version: string }, basePath = ""): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = { Error: errorSchema };
  const jsonSchema = converter(schemas);
  for (const r of routes) {
    const path = basePath + r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    paths[path] ??= {};
    const failures = Object.fromEntries(
      [400, 401, 403, 404, 409, 413, 415, 429].map((status) => [String(status), { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
    );
    paths[path][r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.scope ? { security: [{ bearer: [] }], "x-scope": r.scope, "x-permission": r.permission ?? r.scope } : {}),
      ...(r.method === "get" && servesJobData(r) ? { "x-field-permission": PAYLOAD_SCOPE, description: FIELD_NOTE } : {}),
      parameters: [...parametersOf(jsonSchema, r.params, "path"), ...parametersOf(jsonSchema, r.query, "query")],
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body) } } } } : {}),
      responses: { [String(r.status ?? 200)]: { description: "OK" }, ...failures },
    };
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      schemas: { ...schemas, HiddenFields: HIDDEN_SCHEMA },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}
