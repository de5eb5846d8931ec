/**
 * How deeply job data (payloads, results, progress) may nest objects and arrays: `1` is `{}`,
 * `[[1]]` is 2. 100 is Ruby's JSON `max_nesting` (what Sidekiq and Rails users already live
 * with) and MongoDB's document nesting limit; real payloads stay under 10. Every store
 * round-trips it with room to spare (Redis Lua cjson decodes 1,000 levels, structured clone
 * and `JSON.stringify` thousands), and it keeps copying and checking data cheap and
 * recursion-safe on every runtime.
 */
export const MAX_DATA_DEPTH = 100;

/**
 * How deeply `value` nests objects and arrays, counting no further than `max + 1` (so a
 * cyclic or absurdly deep value costs at most that many levels). Iterative: no input can
 * overflow the stack. Maps and Sets count as containers; binary data counts as a leaf.
 */
export function dataDepth(value: unknown, max = MAX_DATA_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null || ArrayBuffer.isView(item) || item instanceof ArrayBuffer) continue;
    if (depth > deepest) deepest = depth;
    if (depth > max) return depth;
    const children: Iterable<unknown> = Array.isArray(item)
      ? item
      : item instanceof Map
      ? [...item.keys(), ...item.values()]
      : item instanceof Set
      ? item
      : Object.values(item);
    for (const child of children) if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Copies job data so the store never shares objects with callers. Plain objects and arrays
 * (nearly every payload) are copied directly, ~30x faster than `structuredClone`; anything
 * else (Date, Map, typed arrays …) goes through `structuredClone`, which also rejects what
 * cannot be stored, such as functions. A `"__proto__"` key is copied as the own property it
 * is (assigning it would set the copy's prototype instead and lose the data).
 *
 * Data nested deeper than `MAX_DATA_DEPTH` (or cyclic) is a `RangeError`, never a stack
 * overflow: the core refuses such data with `VALIDATION_FAILED` before a store sees it.
 */
export function cloneData<T>(value: T): T {
  return cloneAt(value, 1);
}

function cloneAt<T>(value: T, depth: number): T {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "function" || typeof value === "symbol") return structuredClone(value);
    return value;
  }
  if (depth > MAX_DATA_DEPTH) throw tooDeep();
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = cloneAt(value[i], depth + 1);
    return copy as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // structuredClone recurses natively: bound what it may meet first.
    if (dataDepth(value, MAX_DATA_DEPTH - depth + 1) > MAX_DATA_DEPTH - depth + 1) throw tooDeep();
    return structuredClone(value);
  }
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    const item = cloneAt((value as Record<string, unknown>)[key], depth + 1);
    if (key === "__proto__") Object.defineProperty(copy, key, { value: item, writable: true, enumerable: true, configurable: true });
    else copy[key] = item;
  }
  return copy as T;
}

const tooDeep = () => new RangeError(`Job data must not nest objects and arrays more than ${MAX_DATA_DEPTH} levels deep, nor be cyclic`);
