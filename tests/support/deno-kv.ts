// Opens a Deno KV database on a SQLite file with whatever the running runtime offers:
// Deno's own Deno.openKv, or the @deno/kv package (native SQLite) on Node and Bun.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DenoKv } from "../../deno-kv.ts";
import { runtime } from "./runtime.ts";

export type ClosableKv = DenoKv & { close(): void };

declare const Deno: { openKv(path?: string): Promise<ClosableKv> };

export async function openDenoKv(path: string): Promise<ClosableKv> {
  if (runtime === "deno") return await Deno.openKv(path);
  const { openKv } = await import("@deno/kv");
  if (runtime === "bun") {
    // Bun's node:v8 writes JavaScriptCore's format, not V8's: fine for a file only Bun reads,
    // which @deno/kv makes us say out loud.
    const { serialize, deserialize } = await import("node:v8");
    return await openKv(path, { encodeV8: serialize, decodeV8: deserialize } as never) as unknown as ClosableKv;
  }
  return await openKv(path) as unknown as ClosableKv;
}

/** A fresh SQLite file in its own temporary folder, and a way to delete it. */
export function tempKvPath(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-kv-"));
  return { path: join(dir, "kv.sqlite3"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
