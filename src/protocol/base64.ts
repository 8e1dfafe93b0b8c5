/**
 * Base64 text to bytes, refusing what is not base64. `Buffer.from(text, 'base64')` skips every
 * character outside the alphabet and stops at the first `=`, so `"!!!"` became zero bytes and a
 * damaged string fewer bytes, without a word: data altered in silence. Accepted here: the standard
 * and the URL-safe alphabets, with or without padding (`=` only at the end, making a multiple of 4).
 */

const ALPHABET = /^[A-Za-z0-9+/_-]*(={0,2})$/;

/** The bytes of `text`, or undefined when it is not base64 (or not a string). */
export function decodeBase64(text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  const m = ALPHABET.exec(text);
  if (m === null) return undefined;
  const padding = m[1]!.length;
  const body = text.length - padding;
  if (body % 4 === 1 || (padding > 0 && text.length % 4 !== 0)) return undefined;
  return Buffer.from(text, 'base64');
}
