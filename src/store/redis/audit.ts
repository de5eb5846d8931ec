import type { AuditEntry, NewAuditEntry } from "../../core/audit-entry.ts";
import { auditRange, checkTrim, formatCursor } from "../../core/audit-cursor.ts";
import type { AuditListRequest, AuditTrimRequest } from "../../core/store-contract.ts";
import type { CallGuard } from "./availability.ts";
import type { RedisClient } from "./connection.ts";
import { APPEND_AUDIT, TRIM_AUDIT } from "./lua/audit.ts";
import { LuaScript } from "./scripts.ts";

// Module level, not static fields: see records.ts (bundles that never use RedisStore drop them).
const APPEND = /* @__PURE__ */ new LuaScript("append-audit", APPEND_AUDIT, "");
const TRIM = /* @__PURE__ */ new LuaScript("trim-audit", TRIM_AUDIT, "");

/** One page of XRANGE/XREVRANGE: [id, [field, value, …]] per entry. */
type StreamRows = [string, string[]][];

/**
 * The audit part of the store contract: one Redis Stream per prefix, `<prefix>:audit`. Appends
 * and trims are one script each; a page is one XREVRANGE (or XRANGE, read forward from an
 * `after` cursor), whose ids are the cursors.
 */
export class RedisAudit {
  readonly #client: () => Promise<RedisClient>;
  readonly #guard: CallGuard;
  readonly #key: string;

  constructor(client: () => Promise<RedisClient>, guard: CallGuard, prefix: string) {
    this.#client = client;
    this.#guard = guard;
    this.#key = `${prefix}:audit`;
  }

  async append(entries: readonly NewAuditEntry[]): Promise<string[]> {
    if (!Array.isArray(entries)) throw new TypeError("appendAudit expects an array of entries");
    await this.#client(); // a closed store refuses even an empty append
    if (entries.length === 0) return [];
    const args: (string | number)[] = [];
    for (const entry of entries) args.push(Math.floor(entry.at), JSON.stringify(entry));
    return await this.#run((client) => APPEND.run(client, [this.#key], args)) as string[];
  }

  async list(request: AuditListRequest): Promise<AuditEntry[]> {
    const range = auditRange(request);
    await this.#client();
    if (range.empty) return [];
    const low = range.low === null ? "-" : formatCursor(range.low);
    const high = range.high === null ? "+" : formatCursor(range.high);
    const rows = range.fromLow
      ? (await this.#run((client) => client.call("XRANGE", this.#key, low, high, "COUNT", range.limit)) as StreamRows).reverse()
      : await this.#run((client) => client.call("XREVRANGE", this.#key, high, low, "COUNT", range.limit)) as StreamRows;
    return rows.map(([id, fields]) => ({ ...JSON.parse(fields[fields.indexOf("e") + 1]!), cursor: id }) as AuditEntry);
  }

  async trim(request: AuditTrimRequest): Promise<number> {
    checkTrim(request);
    const minId = request.olderThan === undefined ? "" : `${Math.max(0, Math.ceil(request.olderThan))}-0`;
    const keep = request.keep === undefined ? "" : String(request.keep);
    await this.#client();
    if (minId === "" && keep === "") return 0;
    return await this.#run((client) => TRIM.run(client, [this.#key], [minId, keep])) as number;
  }

  async #run(call: (client: RedisClient) => Promise<unknown>): Promise<unknown> {
    const client = await this.#client();
    return await this.#guard.run(client, () => call(client));
  }
}
