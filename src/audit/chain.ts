/**
 * The audit log's line format and hash chain, shared by the writer (audit-log.ts) and the verifier
 * (verify.ts). A line is one JSON object whose keys come in a fixed order, ending with
 * `"prev":"<hex>","hash":"<hex>"}`: `prev` is the previous line's hash (64 zeros for the first), and
 * `hash` is the SHA-256 of the line's text up to and including `prev`, closed with `}`. Changing,
 * removing, inserting or reordering a line breaks the chain at that line.
 */

import { nodeCrypto } from '../boot/crypto.js';

export const GENESIS = '0'.repeat(64);
const SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

export function sha256(data: string | Uint8Array): string {
  return nodeCrypto().createHash('sha256').update(data).digest('hex');
}

/** The line for `body` (a JSON object text without `hash`, ending in `"prev":"<hex>"}`), and its hash. */
export function seal(body: string): { line: string; hash: string } {
  const hash = sha256(body);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** Splits a sealed line into its body and the hash it claims; undefined when it is not one. */
export function unseal(line: string): { body: string; hash: string } | undefined {
  const match = SUFFIX.exec(line);
  if (match === null) return undefined;
  return { body: `${line.slice(0, match.index)}}`, hash: match[1]! };
}
