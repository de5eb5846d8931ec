import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Deque } from "../src/util/deque.ts";
import { Heap } from "../src/util/heap.ts";
import { JobList, type Linked } from "../src/store/memory/job-list.ts";
import { PriorityFifo } from "../src/util/priority-fifo.ts";
import { cloneData } from "../src/core/clone.ts";

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

  test("JobList keeps entry order through removals and moves between lists", () => {
    type Item = Linked<Item> & { id: number };
    const make = (id: number): Item => ({ id, prev: null, next: null, list: null });
    const a = new JobList<Item>();
    const b = new JobList<Item>();
    const items = Array.from({ length: 10 }, (_, i) => make(i));
    for (const item of items) a.push(item);
    a.remove(items[0]!);
    a.remove(items[5]!);
    a.remove(items[9]!);
    b.push(items[3]!);
    a.remove(items[3]!);
    assert.deepEqual([...a].map((i) => i.id), [1, 2, 4, 6, 7, 8]);
    assert.deepEqual([...b].map((i) => i.id), [3]);
    assert.equal(a.size, 6);
    assert.equal(a.oldest?.id, 1);
    for (const item of a) if (item.id % 2 === 0) a.remove(item);
    assert.deepEqual([...a].map((i) => i.id), [1, 7]);
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
