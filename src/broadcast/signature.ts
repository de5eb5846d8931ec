// HMAC-SHA256 signatures, as Pusher uses them for channel auth and its HTTP API, on crypto.subtle.
import { toHex } from "../util/hex.ts";

const encoder = new TextEncoder();

/** A signer for one secret: the key is imported once. */
export class Signer {
  readonly #key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.#key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  }

  async hex(text: string): Promise<string> {
    const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(text)));
    return toHex(signature);
  }

  /** Whether `given` is the signature of `text`, compared in time that does not depend on where they differ. */
  async verify(text: string, given: string): Promise<boolean> {
    return equalInConstantTime(await this.hex(text), given);
  }
}

export function equalInConstantTime(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
