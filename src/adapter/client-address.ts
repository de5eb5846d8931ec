// The address a connection came from, handed from a runtime adapter to the apps without a
// header: a client can send any header, but cannot reach into this map. Keyed by the Request
// object the server built, so it goes away with the request.
const addresses = new WeakMap<Request, string>();

/** Records where `request` came from (adapters call it before the app sees the request). */
export function recordClientAddress(request: Request, address: string | null | undefined): void {
  if (typeof address === "string" && address.length > 0) addresses.set(request, address);
}

/** The address an adapter recorded for `request`, or null (served some other way, or `app.request()`). */
export function recordedClientAddress(request: Request): string | null {
  return addresses.get(request) ?? null;
}
