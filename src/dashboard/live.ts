// One Server-Sent Events stream for a page, merged from the app's own per-queue streams (a
// browser holds few connections per host, and a page may show every queue). Events pass as
// the routes wrote them, already redacted for the caller; "ready" is sent once all are.

const encoder = new TextEncoder();

/** Splits an SSE body into events: `{ event, data }` for each blank-line-terminated block. */
async function* events(reader: ReadableStreamDefaultReader<string>): AsyncGenerator<{ event: string; data: string }> {
  let buffer = "";
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      buffer += next.value.replace(/\r\n?/g, "\n");
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) yield { event, data: data.join("\n") };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The merged stream of `sources` (answers of the events route; refused ones are left out). */
export function mergedEvents(sources: readonly Response[]): ReadableStream<Uint8Array> {
  const open = sources.filter((res) => res.ok && res.body);
  // Readers kept apart from the generators: cancelling a reader ends a read in progress at once.
  const readers = open.map((res) => res.body!.pipeThrough(new TextDecoderStream()).getReader());
  const iterators = readers.map(events);
  let waiting = iterators.length;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch { /* closed under us */ }
      };
      send(": conveyor dashboard\n\n");
      if (waiting === 0) send("event: ready\ndata: {}\n\n");
      for (const iterator of iterators) {
        void (async () => {
          for await (const { event, data } of iterator) {
            if (event === "ready") {
              if (--waiting === 0) send("event: ready\ndata: {}\n\n");
              continue;
            }
            // One kind of message for the page: the event's own JSON names its type.
            send(`data: ${data.replace(/\n/g, "\ndata: ")}\n\n`);
          }
        })().catch(() => {});
      }
    },
    async cancel() {
      await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
    },
  });
}
