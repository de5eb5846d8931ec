/**
 * Whether `text` takes more than `maxBytes` as UTF-8, as it travels in a frame or a body.
 * `text.length` counts UTF-16 units: "é" is one unit but two bytes, "€" one unit but three,
 * so a limit in units would let frames through at up to three times their byte limit.
 */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  // Every UTF-16 unit is 1 to 3 bytes (a surrogate pair, two units, is 4), so most texts are decided by their length.
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8Length(text) > maxBytes;
}

/** Bytes of `text` in UTF-8 (a lone surrogate as U+FFFD, three bytes, as TextEncoder writes it), without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: two units, four bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}
