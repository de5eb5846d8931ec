// A child's output stream, read to its end (a full pipe would block the child) and kept up to
// a number of bytes.

export interface Captured {
  readonly text: string;
  readonly truncated: boolean;
}

export interface Capture {
  /** Resolves when the stream ends (or fails). */
  readonly done: Promise<void>;
  /** What was kept so far; stops reading. */
  stop(): Captured;
}

export function capture(stream: ReadableStream<Uint8Array>, maxBytes: number): Capture {
  const reader = stream.getReader();
  const kept: Uint8Array[] = [];
  let size = 0;
  let seen = 0;
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (size < maxBytes) {
          const part = value.byteLength > maxBytes - size ? value.subarray(0, maxBytes - size) : value;
          kept.push(part);
          size += part.byteLength;
        }
        seen += value.byteLength;
      }
    } catch {
      // a cancelled or broken pipe: keep what came
    }
  })();
  return {
    done,
    stop(): Captured {
      reader.cancel().catch(() => {});
      const all = new Uint8Array(size);
      let at = 0;
      for (const part of kept) {
        all.set(part, at);
        at += part.byteLength;
      }
      // `fatal: false`: a multi-byte character cut at the limit becomes U+FFFD, not an error.
      return { text: new TextDecoder().decode(all), truncated: seen > size };
    },
  };
}
