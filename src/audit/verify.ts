/**
 * `verifyAuditLog(path)`: checks an audit log's hash chain (chain.ts). Every line must be sealed by
 * the hash of its own text, name the previous line's hash as `prev` (64 zeros for the first) and carry
 * the next `seq`. A modified line fails its own hash; a removed, inserted or moved line fails the
 * chain where it was. Lines cut from the end leave a valid, shorter chain: compare `lastHash` with a
 * copy kept elsewhere (the `onRecord` callback can ship each hash) to detect that.
 */

import { readFileSync } from 'node:fs';
import { GENESIS, sha256, unseal } from './chain.js';
import { InvalidArgumentsError } from '../errors.js';
import { describe } from '../option-checks.js';

export type AuditVerification =
  | { ok: true; records: number; lastHash: string }
  | { ok: false; records: number; line: number; problem: string };

export function verifyAuditLog(file: string): AuditVerification {
  if (typeof file !== 'string' || file === '') throw new InvalidArgumentsError(`verifyAuditLog takes the audit log's path, got ${describe(file)}`);
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let prev = GENESIS;
  let seq = 0;
  for (let i = 0; i < lines.length; i++) {
    const fail = (problem: string): AuditVerification => ({ ok: false, records: i, line: i + 1, problem });
    const sealed = unseal(lines[i]!);
    if (sealed === undefined) return fail('not a sealed audit record (no hash at its end)');
    if (sha256(sealed.body) !== sealed.hash) return fail('its content does not match its hash: the line was modified');
    let record: { seq?: unknown; prev?: unknown };
    try {
      record = JSON.parse(sealed.body) as typeof record;
    } catch {
      return fail('not valid JSON');
    }
    if (record.prev !== prev) return fail('it does not follow the line before it: a line was removed, inserted or moved');
    if (record.seq !== seq + 1) return fail(`its seq is ${String(record.seq)}, expected ${seq + 1}`);
    prev = sealed.hash;
    seq++;
  }
  return { ok: true, records: lines.length, lastHash: prev };
}
