// Files as Web Streams for the `conveyor backup` / `restore` commands. node:fs, which Node, Bun
// and Deno all provide, so one shim serves the three CLI entry scripts.
import { createReadStream, createWriteStream } from "node:fs";
import { Readable, Writable } from "node:stream";

export const nodeFiles = {
  create: (path: string): WritableStream<Uint8Array> => Writable.toWeb(createWriteStream(path)) as WritableStream<Uint8Array>,
  open: (path: string): ReadableStream<Uint8Array> => Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
};
