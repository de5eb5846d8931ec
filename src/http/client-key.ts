import type { Context } from "hono";
import * as v from "valibot";
import { recordedClientAddress } from "../adapter/client-address.ts";

/**
 * Whether to believe X-Forwarded-For: `false` (anyone can send it), `true` for one proxy of
 * yours in front, or how many there are. The client is the entry the outermost of your proxies
 * appended: `hops` from the right, since everything to its left came from the client.
 */
export type TrustProxy = boolean | number;

export const TrustProxySchema = v.union([v.boolean(), v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100))]);

/** Longest address kept as a key: an IPv6 address with a zone fits; a header's junk does not grow memory. */
const MAX_ADDRESS_LENGTH = 100;

/**
 * Where a request came from: the forwarded address when `trustProxy` says to believe it, else
 * the connection's address as the runtime adapter recorded it, else null (no way to tell
 * clients apart: `app.request()`, or a server that records nothing).
 */
export function clientAddress(c: Context, trustProxy: TrustProxy): string | null {
  const hops = trustProxy === true ? 1 : trustProxy === false ? 0 : trustProxy;
  if (hops > 0) {
    const chain = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const forwarded = chain[chain.length - hops];
    if (forwarded) return forwarded.slice(0, MAX_ADDRESS_LENGTH);
  }
  return recordedClientAddress(c.req.raw)?.slice(0, MAX_ADDRESS_LENGTH) ?? null;
}

/** The rate-limit key of a client: `ip:<address>`, or one key all unknown clients share. */
export function clientKey(c: Context, trustProxy: TrustProxy): string {
  const address = clientAddress(c, trustProxy);
  return address === null ? "anonymous" : `ip:${address}`;
}
