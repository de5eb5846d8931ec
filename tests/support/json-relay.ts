// JSON text with `undefined` kept, for calls between the test runtime and workerd. miniflare's
// bridge serializes with devalue, which refuses the "__proto__" keys job data may hold (Workers
// RPC itself carries them); JSON.parse keeps such a key as plain data.
const UNDEFINED = "\u0000undefined";

export const encode = (value: unknown): string => JSON.stringify(value, (_key, v) => (v === undefined ? UNDEFINED : v));

export function decode<T>(text: string): T {
  const value = JSON.parse(text) as unknown;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== "object" || item === null) continue;
    for (const key of Object.keys(item)) {
      const child = (item as Record<string, unknown>)[key];
      if (child === UNDEFINED) (item as Record<string, unknown>)[key] = undefined;
      else stack.push(child);
    }
  }
  return value === UNDEFINED ? undefined as T : value as T;
}
