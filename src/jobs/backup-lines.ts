import { BackupFormatError } from "./backup-format.ts";

/** Gzip JSON lines in and out over Web Streams only, so one implementation serves every runtime. */

/** Lines gathered before a write: one compressor call per batch rather than per line. */
const BATCH_CHARS = 64 * 1024;

/** Writes JSON lines, gzip-compressed, into `writable`; `close()` flushes and closes it. */
export class LineWriter {
  readonly #encoder = new TextEncoder();
  readonly #writer: WritableStreamDefaultWriter<BufferSource>;
  readonly #piped: Promise<void>;
  #pending: string[] = [];
  #pendingChars = 0;

  constructor(writable: WritableStream<Uint8Array>) {
    const gzip = new CompressionStream("gzip");
    this.#piped = gzip.readable.pipeTo(writable);
    this.#piped.catch(() => {}); // surfaced by write() / close()
    this.#writer = gzip.writable.getWriter();
  }

  async write(value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    this.#pending.push(text);
    this.#pendingChars += text.length + 1;
    if (this.#pendingChars >= BATCH_CHARS) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunk = this.#encoder.encode(this.#pending.join("\n") + "\n");
    this.#pending = [];
    this.#pendingChars = 0;
    // Waiting for `ready` is the backpressure: a slow destination slows the reading of the store.
    await this.#writer.ready;
    await this.#writer.write(chunk);
  }

  async close(): Promise<void> {
    await this.#flush();
    await this.#writer.close();
    await this.#piped;
  }

  async abort(reason: unknown): Promise<void> {
    await this.#writer.abort(reason).catch(() => {});
    await this.#piped.catch(() => {});
  }
}

/** The lines of a gzip JSON-lines stream, with their 1-based numbers; empty lines skipped. */
export async function* readLines(readable: ReadableStream<Uint8Array>): AsyncGenerator<{ text: string; line: number }> {
  // The cast: the lib types these streams' input as BufferSource, which a Uint8Array is.
  const bytes = readable as ReadableStream<BufferSource>;
  const reader = bytes.pipeThrough(new DecompressionStream("gzip")).pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  let line = 0;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw Object.assign(new BackupFormatError(line + 1, "the archive is not valid gzip, or is cut short"), { cause });
      }
      if (chunk.done) break;
      rest += chunk.value;
      let start = 0;
      for (let at = rest.indexOf("\n"); at !== -1; at = rest.indexOf("\n", start)) {
        line++;
        const text = rest.slice(start, at);
        start = at + 1;
        if (text.trim() !== "") yield { text, line };
      }
      rest = rest.slice(start);
    }
    if (rest.trim() !== "") yield { text: rest, line: line + 1 };
  } finally {
    // Stops the decompression when the reader gave up early (a bad line).
    await reader.cancel().catch(() => {});
  }
}
