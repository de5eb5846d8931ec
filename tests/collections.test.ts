import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Deque } from "../src/util/deque.ts";
import { Heap } from "../src/util/heap.ts";
import { OrderedIds } from "../src/util/ordered-ids.ts";
import { PriorityFifo } from "../src/util/priority-fifo.ts";
import { cloneData } from "../src/util/clone.ts";

describe("collections", () => {
  test("Heap pops in order and keeps order after retain", () => {
    const heap = new Heap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    for (const v of values) heap.push(v);
    heap.retain((v) => v % 2 === 0);
    const out: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) out.push(v);
    assert.deepEqual(out, values.filter((v) => v % 2 === 0).sort((a, b) => a - b));
  });

  test("Deque is FIFO across compactions", () => {
    const deque = new Deque<number>();
    const out: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      deque.push(i);
      if (i % 3 === 0) out.push(deque.shift()!);
    }
    while (deque.size) out.push(deque.shift()!);
    assert.deepEqual(out, Array.from({ length: 5_000 }, (_, i) => i));
  });

  test("PriorityFifo gives lowest priority first, FIFO within one", () => {
    const fifo = new PriorityFifo<string>();
    fifo.push(200, "n1");
    fifo.push(300, "l1");
    fifo.push(0, "c1");
    fifo.push(200, "n2");
    fifo.push(150, "m1");
    assert.deepEqual([...fifo], ["c1", "m1", "n1", "n2", "l1"]);
    assert.equal(fifo.shift(), "c1");
    fifo.push(0, "c2");
    assert.deepEqual([fifo.shift(), fifo.shift(), fifo.shift(), fifo.shift(), fifo.shift(), fifo.shift()], ["c2", "m1", "n1", "n2", "l1", undefined]);
    assert.equal(fifo.size, 0);
  });

  test("OrderedIds keeps insertion order through deletes, re-adds and rebuilds", () => {
    const ids = new OrderedIds();
    const model: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const id = String(i % 3_000);
      if (ids.has(id)) {
        ids.delete(id);
        model.splice(model.indexOf(id), 1);
      } else {
        ids.add(id);
        model.push(id);
      }
      if (i % 7 === 0 && model.length > 0) {
        assert.equal(ids.oldest(), model[0]);
        ids.delete(model.shift()!);
      }
    }
    assert.equal(ids.size, model.length);
    assert.deepEqual([...ids], model);
  });

  test("cloneData copies plain data deeply and defers the rest to structuredClone", () => {
    const date = new Date(0);
    const source = { a: [1, { b: "x" }], d: date, n: null, u: undefined };
    const copy = cloneData(source);
    assert.deepEqual(copy, source);
    assert.notEqual(copy.a, source.a);
    assert.notEqual(copy.d, date);
    assert.throws(() => cloneData({ f: () => 1 }));
  });
});
