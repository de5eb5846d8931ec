/** Lower-case hex of bytes: digests and signatures as Redis and Pusher expect them. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
