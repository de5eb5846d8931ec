// Which addresses an outgoing request may reach: no loopback, private, link-local, shared,
// multicast, reserved or cloud-metadata address, unless allow-listed. A name is checked by
// what it resolves to where the runtime can resolve (a `Resolver` from the runtime adapter);
// on Cloudflare Workers nothing can be resolved, so only literal addresses and known names
// are refused there (Cloudflare's own egress does not reach private networks).
import { RefusedError } from "./errors.ts";

/** Every address a host name resolves to (IPv4 and IPv6), as text. */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export interface AddressGuardOptions {
  /**
   * Hosts and networks that are reachable even if private: exact host names (`"localhost"`,
   * `"hooks.internal"`), addresses (`"127.0.0.1"`, `"::1"`) or CIDR ranges (`"10.0.0.0/8"`).
   * For tests and internal endpoints. @default []
   */
  allow?: readonly string[];
  /** Resolves names so that a public name pointing at a private address is refused too. @default none (literal addresses only) */
  resolve?: Resolver;
}

type Bytes = readonly number[]; // 4 (IPv4) or 16 (IPv6) octets

/** Names that always mean this machine or a metadata service, whatever DNS says. */
const BLOCKED_NAMES = [/^localhost$/, /\.localhost$/, /^metadata\.google\.internal$/, /^metadata$/, /^instance-data(\.ec2\.internal)?$/];

// [network, prefix length]; IPv4 ranges also cover their IPv4-mapped and NAT64 IPv6 forms.
const BLOCKED_V4: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], // link-local + metadata 169.254.169.254
  ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.88.99.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15],
  ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
];
const BLOCKED_V6: [string, number][] = [
  ["::", 128], ["::1", 128], ["::", 96] /* IPv4-compatible */, ["100::", 64], ["2001::", 32] /* Teredo */, ["2001:db8::", 32],
  ["fc00::", 7] /* unique local, AWS metadata fd00:ec2::254 */, ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
];
const RANGES = [...BLOCKED_V4, ...BLOCKED_V6].map(([net, bits]) => ({ net: parseAddress(net)!, bits }));

export function parseIPv4(text: string): Bytes | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

export function parseIPv6(text: string): Bytes | null {
  let body = text.replace(/^\[|\]$/g, "").replace(/%.*$/, ""); // brackets of a URL host, a zone id
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes its two hex groups.
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const v4 = parseIPv4(dotted[1]!);
    if (!v4) return null;
    const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
    body = `${body.slice(0, dotted.index)}:${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const group = (s: string) => (s === "" ? [] : s.split(":"));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const words = [...head.map((g) => parseInt(g, 16)), ...Array<number>(8 - known).fill(0), ...rest.map((g) => parseInt(g, 16))];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** An IPv4 or IPv6 address (a URL's bracketed form too) as octets, or null for a name. */
export function parseAddress(text: string): Bytes | null {
  return parseIPv4(text) ?? (text.includes(":") ? parseIPv6(text) : null);
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address. */
function embeddedV4(bytes: Bytes): Bytes | null {
  if (bytes.length !== 16) return null;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12)) return bytes.slice(12);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return bytes.slice(2, 6);
  return null;
}

function inRange(bytes: Bytes, net: Bytes, bits: number): boolean {
  if (bytes.length !== net.length) return false;
  for (let i = 0; i < bytes.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
}

/** Whether an address (text) is one a webhook must not reach: loopback, private, link-local, metadata, reserved. */
export function isBlockedAddress(text: string): boolean {
  const bytes = parseAddress(text);
  if (!bytes) return true; // not an address at all: refuse rather than guess
  const v4 = embeddedV4(bytes);
  if (v4 && RANGES.some((r) => inRange(v4, r.net, r.bits))) return true;
  return RANGES.some((r) => inRange(bytes, r.net, r.bits));
}

/** An allow-list entry, parsed once: a host name, or an address range. */
type Allowed = { name: string } | { net: Bytes; bits: number };

export function parseAllowList(entries: readonly string[]): Allowed[] {
  return entries.map((entry) => {
    const [address, prefix] = entry.split("/");
    const net = parseAddress(address!);
    if (net) {
      const bits = prefix === undefined ? net.length * 8 : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > net.length * 8) throw new TypeError(`allow: "${entry}" has a bad prefix length (0–${net.length * 8})`);
      return { net, bits };
    }
    if (prefix !== undefined || !/^[a-z0-9.-]+$/i.test(entry)) throw new TypeError(`allow: "${entry}" is neither a host name, an address nor a CIDR range`);
    return { name: entry.toLowerCase() };
  });
}

function allowedAddress(text: string, allowed: readonly Allowed[]): boolean {
  const bytes = parseAddress(text);
  return bytes !== null && allowed.some((a) => "net" in a && (inRange(bytes, a.net, a.bits) || inRange(embeddedV4(bytes) ?? [], a.net, a.bits)));
}

/**
 * Refuses (`WEBHOOK_REFUSED`, unrecoverable) a URL that is not http(s) or whose host is, or
 * resolves to, an address outside the public internet, unless allow-listed. Resolution failure
 * is a refusal too: the request would fail anyway.
 */
export async function guardUrl(url: URL, allowed: readonly Allowed[], resolve: Resolver | undefined): Promise<void> {
  const where = `${url.protocol}//${url.host}`;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RefusedError("WEBHOOK_REFUSED", `Refused ${url.protocol} URL: only http and https are allowed`);
  }
  if (url.username || url.password) throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: credentials in the URL (send them as a header)`);
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (allowed.some((a) => "name" in a && a.name === host)) return;
  if (parseAddress(host)) {
    if (allowedAddress(host, allowed)) return;
    if (isBlockedAddress(host)) throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: not a public address (allow-list it to reach it)`);
    return;
  }
  if (BLOCKED_NAMES.some((name) => name.test(host))) throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: a local or metadata host name`);
  if (!resolve) return;
  let addresses: readonly string[];
  try {
    addresses = await resolve(host);
  } catch (cause) {
    throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: the name does not resolve`, { cause });
  }
  if (addresses.length === 0) throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: the name resolves to no address`);
  for (const address of addresses) {
    if (!allowedAddress(address, allowed) && isBlockedAddress(address)) {
      throw new RefusedError("WEBHOOK_REFUSED", `Refused ${where}: it resolves to ${address}, not a public address`);
    }
  }
}
