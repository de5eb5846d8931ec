/**
 * Roughly how many bytes Deno KV's serialiser (V8's) makes of a value, erring high: strings
 * count two bytes a character. Used to size commits that write many values (a big flow, a
 * cascade), which Deno KV caps at 800 KiB in all, each value at 64 KiB. An object met twice
 * (the serialiser writes a reference) counts once, so a cyclic value ends.
 */
export function approxSize(value: unknown): number {
  let bytes = 0;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") {
      bytes += 2 * item.length + 5;
      continue;
    }
    if (typeof item !== "object" || item === null) {
      bytes += 10;
      continue;
    }
    bytes += 5;
    if (seen.has(item)) continue;
    seen.add(item);
    if (ArrayBuffer.isView(item) || item instanceof ArrayBuffer) {
      bytes += item.byteLength;
    } else if (item instanceof Map) {
      for (const [k, v] of item) stack.push(k, v);
    } else if (item instanceof Set || Array.isArray(item)) {
      for (const v of item) stack.push(v);
    } else {
      for (const key in item) {
        if (!Object.hasOwn(item, key)) continue;
        bytes += 2 * key.length + 5;
        stack.push((item as Record<string, unknown>)[key]);
      }
    }
  }
  return bytes;
}
