/**
 * The audit log (reliability.md R36): one hash-chained record per settled call and per refusal;
 * `verifyAuditLog` detects a modified, removed or moved line; a host SIGKILLed loses no settled call.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyAuditLog, type AuditRecord, type PythonRef } from '../src/index.js';
import { frameBytes } from '../src/protocol/frames.js';
import { MsgpackEncoder } from '../src/protocol/msgpack-encode.js';
import { HostProcess } from './control.js';
import { fixture, rejection, startPool } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

function digest(args: Record<string, unknown>): string {
  return createHash('sha256').update(frameBytes(new MsgpackEncoder().encodeFrame(args))).digest('hex');
}

describe('audit log', () => {
  const file = path.join(dir, 'audit.jsonl');

  it('records every call: principal, tool, digest, outcome, times, pid; denials with their reason', async () => {
    const seen: AuditRecord[] = [];
    const pool = await startPool({
      adapter: fixture('sessions.py'),
      size: 1,
      allow: ['math.*'],
      audit: { path: file, onRecord: (r) => seen.push(r) },
    });
    try {
      assert.equal(await pool.execute('plain', {}, { principal: 'alice' }), 1);
      assert.equal((await rejection(pool.python.call('os.system', ['id'], { principal: 'mallory' }))).code, 'PERMISSION_DENIED');
      assert.equal(await pool.python.call('math.sqrt', [9], { principal: 'bob' }), 3);
      const s = pool.session();
      const model = await s.execute<PythonRef>('model', { weight: 2 }, { principal: 'carol' });
      assert.equal((await rejection(model.get('__class__', { principal: 'carol' }))).code, 'PERMISSION_DENIED');
      assert.equal((await rejection(s.execute('crash', {}))).code, 'SESSION_LOST');
      await s.close();
    } finally {
      await pool.destroy();
    }
    const records = lines(file).map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(records, seen, 'the callback sees what the file holds');
    const pid = records[0]!.pid;
    const [plain, system, sqrt, model, dunder, crash] = records;
    assert.deepEqual(
      { principal: plain!.principal, tool: plain!.tool, outcome: plain!.outcome, code: plain!.code, digest: plain!.argsDigest },
      { principal: 'alice', tool: 'plain', outcome: 'ok', code: null, digest: digest({}) },
    );
    assert.ok(typeof pid === 'number' && pid > 0);
    assert.ok(plain!.queueMs >= 0 && plain!.runMs! >= 0);
    assert.deepEqual([system!.principal, system!.tool, system!.target, system!.outcome, system!.code, system!.pid], ['mallory', '$python.call', 'os.system', 'denied', 'PERMISSION_DENIED', null]);
    assert.match(system!.reason!, /not allowed by the pool's allow list/);
    assert.equal(system!.argsDigest, digest({ name: 'os.system', args: ['id'], kwargs: {} }));
    assert.deepEqual([sqrt!.principal, sqrt!.target, sqrt!.outcome], ['bob', 'math.sqrt', 'ok']);
    assert.equal(model!.session, dunder!.session);
    assert.deepEqual([dunder!.tool, dunder!.target, dunder!.outcome], ['$ref.get', 'sessions.Model.__class__', 'denied']);
    assert.match(dunder!.reason!, /private/);
    assert.deepEqual([crash!.outcome, crash!.code], ['error', 'SESSION_LOST']);
    assert.deepEqual(records.map((r) => r.seq), records.map((_, i) => i + 1));
    const result = verifyAuditLog(file);
    assert.deepEqual(result, { ok: true, records: records.length, lastHash: records[records.length - 1]!.hash });
  });

  it('a second pool continues the chain; raw arguments only when asked for', async () => {
    const before = lines(file).length;
    const pool = await startPool({ adapter: fixture('basic.py'), size: 1, audit: { path: file, rawArguments: true } });
    try {
      await pool.execute('add', { a: 1, b: 2 });
    } finally {
      await pool.close();
    }
    const all = lines(file);
    assert.equal(all.length, before + 1);
    const last = JSON.parse(all[all.length - 1]!) as AuditRecord;
    assert.deepEqual([last.seq, last.args, last.argsDigest], [before + 1, { a: 1, b: 2 }, null]);
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('detects a modified, a removed and a moved line', () => {
    const original = lines(file);
    const check = (edited: string[]): ReturnType<typeof verifyAuditLog> => {
      const copy = path.join(dir, `edited-${Math.random()}.jsonl`);
      writeFileSync(copy, `${edited.join('\n')}\n`);
      return verifyAuditLog(copy);
    };
    const modified = original.slice();
    modified[1] = modified[1]!.replace('"mallory"', '"alice"');
    assert.deepEqual(check(modified), { ok: false, records: 1, line: 2, problem: 'its content does not match its hash: the line was modified' });
    const removed = original.slice();
    removed.splice(2, 1);
    const r = check(removed);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.line, 3);
    const moved = original.slice();
    [moved[2], moved[3]] = [moved[3]!, moved[2]!];
    assert.equal(check(moved).ok, false);
    assert.equal(check(original.slice(1)).ok, false, 'the first line removed');
    assert.equal(check(['{"seq":1}']).ok, false, 'not sealed');
  });

  it('a host SIGKILLed loses no settled call', async () => {
    const crashFile = path.join(dir, 'crash.jsonl');
    const h = new HostProcess({ adapter: fixture('basic.py'), size: 2, stateDir: false, audit: { path: crashFile } });
    try {
      await h.waitFor('ready');
      for (let i = 0; i < 40; i++) h.send({ cmd: 'call', tool: 'add', args: { a: i, b: 1000 } });
      await h.waitFor('result');
      h.child.kill('SIGKILL');
      await h.exited;
    } finally {
      h.child.kill('SIGKILL');
    }
    const settled = h.lines.filter((l) => l.event === 'result').map((l) => l.value as number);
    assert.ok(settled.length >= 1);
    const result = verifyAuditLog(crashFile);
    assert.ok(result.ok, JSON.stringify(result));
    const logged = new Set(lines(crashFile).map((l) => JSON.parse(l) as AuditRecord).filter((r) => r.outcome === 'ok').map((r) => r.argsDigest));
    for (const value of settled) assert.ok(logged.has(digest({ a: value - 1000, b: 1000 })), `settled call ${value} is in the log`);
  });
});
