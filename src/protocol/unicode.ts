/**
 * Strings that are not valid Unicode: a lone surrogate (half of a UTF-16 pair) has no UTF-8 form, and
 * `Buffer.write` puts U+FFFD in its place without a word. Both codecs refuse such a string, as the
 * worker does for a Python `str` with unpaired surrogates.
 */

import { EncodeError } from '../errors.js';

/**
 * `String.prototype.isWellFormed` (ES2024, in Node 20): typed here, so that code compiled against the
 * ES2022 library (this package's, and a generated client's that imports its sources) accepts it.
 */
type MaybeWellFormed = { isWellFormed(): boolean };

/** Throws ENCODE_ERROR naming the first lone surrogate of `s`, if it has one. */
export function checkWellFormed(s: string): void {
  if (!(s as unknown as MaybeWellFormed).isWellFormed()) throw new EncodeError(loneSurrogate(s));
}

function loneSurrogate(s: string): string {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    else if (c >= 0xd800 && c <= 0xdfff) break;
  }
  const code = s.charCodeAt(i).toString(16).toUpperCase();
  return `cannot encode a string with a lone surrogate (U+${code} at index ${i}): it is not valid Unicode, and UTF-8 would replace it`;
}
