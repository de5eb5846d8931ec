// Frame and event limits count UTF-8 bytes, as the wire does, not UTF-16 characters: "é" is two
// bytes, "€" three, "😀" four. Driven through broadcaster.accept() with a recording socket.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exceedsBytes, utf8Length } from "../src/broadcast/byte-size.ts";
import { FakeClock } from "../mod.ts";
import { Broadcaster } from "../broadcast.ts";
import { APP } from "./support/broadcast-server.ts";

describe("Counting bytes", () => {
  test("utf8Length agrees with TextEncoder, lone surrogates included", () => {
    const samples = ["", "ascii", "é", "€", "😀", "a😀b", "\ud800", "\udc00x", "x\ud83d", "\ud83d\ude00\ud83d", "€".repeat(1_000)];
    // And a deterministic spread of code units from every range.
    let seed = 7;
    for (let n = 0; n < 200; n++) {
      let text = "";
      for (let i = 0; i < 20; i++) {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        text += String.fromCharCode(seed % 0x10000);
      }
      samples.push(text);
    }
    for (const text of samples) {
      const bytes = new TextEncoder().encode(text).length;
      assert.equal(utf8Length(text), bytes, JSON.stringify(text));
      assert.equal(exceedsBytes(text, bytes), false);
      if (bytes > 0) assert.equal(exceedsBytes(text, bytes - 1), true);
    }
  });

  test("a WebSocket frame under the limit in characters but over it in bytes gets pusher:error 4009", async () => {
    const clock = new FakeClock();
    const broadcaster = new Broadcaster({ ...APP, clock, maxMessageBytes: 1_000 });
    await broadcaster.ready();
    const errors: number[] = [];
    const connection = broadcaster.accept({
      send: (text) => {
        const frame = JSON.parse(text) as { event: string; data: { code?: number } | string };
        if (frame.event === "pusher:error") errors.push((typeof frame.data === "string" ? JSON.parse(frame.data) : frame.data).code);
      },
      close: () => {},
    }, { key: APP.key, protocol: "7" })!;
    const frame = (data: string) => JSON.stringify({ event: "client-note", channel: "private-x", data });
    const wide = frame("€".repeat(400)); // ~450 characters, ~1,250 bytes
    assert.ok(wide.length < 1_000 && utf8Length(wide) > 1_000);
    await connection.receive(wide);
    assert.deepEqual(errors, [4009]);
    const narrow = frame("€".repeat(300)); // ~950 bytes: within the limit, refused only as a client event on a channel not joined
    assert.ok(utf8Length(narrow) <= 1_000);
    await connection.receive(narrow);
    assert.deepEqual(errors, [4009, 4301]);
    await broadcaster.close();
  });
});
