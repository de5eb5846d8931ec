import { COMMON } from "./lua/common.ts";
import { toHex } from "../../util/hex.ts";
import type { RedisClient } from "./connection.ts";

/** One Lua transition: loaded once by SHA, re-sent in full when the server has forgotten it. */
export class LuaScript {
  readonly name: string;
  readonly source: string;
  #sha: Promise<string> | undefined;

  /** `prelude`: shared helpers put before the body (the queue scripts' own by default). */
  constructor(name: string, body: string, prelude: string = COMMON) {
    this.name = name;
    this.source = prelude + body;
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    this.#sha ??= sha1Hex(this.source);
    const sha = await this.#sha;
    try {
      return await client.call("EVALSHA", sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return await client.call("EVAL", this.source, keys.length, ...keys, ...args);
    }
  }
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return toHex(new Uint8Array(digest));
}
