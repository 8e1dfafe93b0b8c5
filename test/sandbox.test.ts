/**
 * Sandboxed workers (reliability.md R29): no network, no writes outside the writable paths, no host
 * environment secrets, while ordinary tools, crash recovery and host-exit cleanup keep working.
 */

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SandboxUnavailableError, WorkerCrashedError, type Pool } from '../src/index.js';
import { readRss } from '../src/worker/procfs.js';
import { assertNothingOutlivesKilledHost } from './control.js';
import { ROOT, fixture, rejection, startPool } from './helpers.js';

const adapter = fixture('sandboxed.py');
const out = mkdtempSync(path.join(tmpdir(), 'snakepit-sandbox-out-'));
// Visible in the sandbox (not under a masked /tmp), hence read-only there.
const readOnly = mkdtempSync(path.join(existsSync('/var/tmp') ? '/var/tmp' : path.join(ROOT, 'test'), 'snakepit-sandbox-ro-'));
const MARK = `mark-${process.pid}-${Date.now()}`;
const SECRET = 'sandbox-secret-3f9a';


describe('sandboxed workers', () => {
  let pool: Pool;
  let server: Server;
  let port = 0;
  before(async () => {
    process.env.SECRET_TOKEN = SECRET;
    server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    pool = await startPool({ adapter, size: 1, env: { SANDBOX_MARK: MARK }, sandbox: { writable: [out] } });
  });
  after(async () => {
    await pool.destroy();
    server.close();
    delete process.env.SECRET_TOKEN;
    rmSync(out, { recursive: true, force: true });
    rmSync(readOnly, { recursive: true, force: true });
  });

  it('ordinary tools work, with no new privileges and no capabilities, in a pid namespace of their own', async () => {
    assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
    const status = await pool.execute<{ pid: number; no_new_privs: string; cap_eff: string }>('status');
    assert.equal(status.no_new_privs, '1');
    assert.equal(BigInt(`0x${status.cap_eff}`), 0n);
    const hostPid = pool.stats().workerList[0]!.pid!;
    assert.notEqual(status.pid, hostPid, 'the worker sees its own pid namespace');
    assert.ok((readRss(hostPid) ?? 0) > 8 * 1024 * 1024, 'RSS (maxRss, stats) is the worker\'s, not bwrap\'s');
  });

  it('cannot open a TCP connection to a server on the host (an unconfined worker can)', async () => {
    assert.match(await pool.execute<string>('connect', { port }), /^refused/);
    const open = await startPool({ adapter, size: 1 });
    try {
      assert.equal(await open.execute('connect', { port }), 'connected');
    } finally {
      await open.destroy();
    }
  });

  it('cannot write outside the writable paths; can write inside them', async () => {
    assert.match(await pool.execute<string>('write', { path: path.join(readOnly, 'f') }), /refused: Read-only file system/);
    assert.equal(existsSync(path.join(readOnly, 'f')), false);
    assert.match(await pool.execute<string>('write', { path: path.join(ROOT, 'sandbox-escape') }), /refused/);
    assert.equal(existsSync(path.join(ROOT, 'sandbox-escape')), false);
    assert.equal(await pool.execute('write', { path: path.join(out, 'result') }), 'written');
    assert.equal(readFileSync(path.join(out, 'result'), 'utf8'), 'x');
    // /tmp is private: a file written there never reaches the host's /tmp.
    const privateTmp = path.join(tmpdir(), `snakepit-private-${process.pid}`);
    assert.equal(await pool.execute('write', { path: privateTmp }), 'written');
    assert.equal(existsSync(privateTmp), false);
  });

  it('cannot read a host environment secret; gets what the pool passes', async () => {
    assert.equal(await pool.execute('env', { name: 'SECRET_TOKEN' }), null);
    assert.equal(await pool.execute('env', { name: 'HOME' }), null);
    assert.equal(await pool.execute('env', { name: 'SANDBOX_MARK' }), MARK);
  });

  it('a crashed worker is replaced, still sandboxed', async () => {
    const err = await rejection(pool.execute('crash'));
    assert.ok(err instanceof WorkerCrashedError, err.message);
    assert.equal((err as WorkerCrashedError).signal, 'SIGKILL', 'the signal is named through bwrap');
    assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    assert.equal(await pool.execute('env', { name: 'SECRET_TOKEN' }), null);
  });

  it('no process survives a SIGKILLed host, a session of its own included', async () => {
    const mark = `${MARK}-host`;
    // The 2 workers and the grandchild carry the mark.
    await assertNothingOutlivesKilledHost({ adapter, size: 2, env: { SANDBOX_MARK: mark }, sandbox: {}, stateDir: false }, ['SANDBOX_MARK', mark], 3);
  });

  it('an adapter under the masked /tmp is still readable (bound read-only again)', async () => {
    const adapterDir = mkdtempSync(path.join(tmpdir(), 'snakepit-sandbox-adapter-'));
    try {
      writeFileSync(path.join(adapterDir, 'tmp_adapter.py'), 'from snakepit_bridge import tool\n\n\n@tool\ndef one() -> int:\n    return 1\n');
      const p = await startPool({ adapter: path.join(adapterDir, 'tmp_adapter.py'), size: 1, sandbox: {} });
      try {
        assert.equal(await p.execute('one'), 1);
      } finally {
        await p.destroy();
      }
    } finally {
      rmSync(adapterDir, { recursive: true, force: true });
    }
  });

  it('where the platform cannot sandbox, Pool.start fails with SANDBOX_UNAVAILABLE naming what is missing', async () => {
    const missing = await rejection(startPool({ adapter, size: 1, sandbox: { bwrap: '/nonexistent/bwrap' } }));
    assert.ok(missing instanceof SandboxUnavailableError);
    assert.equal(missing.missing, 'bwrap');
    const fake = path.join(readOnly, 'bwrap-denied');
    mkdirSync(readOnly, { recursive: true });
    writeFileSync(fake, '#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const denied = await rejection(startPool({ adapter, size: 1, sandbox: { bwrap: fake } }));
    assert.ok(denied instanceof SandboxUnavailableError);
    assert.equal(denied.missing, 'namespaces');
    assert.match(denied.message, /No permissions to create new namespace/);
    assert.match((await rejection(startPool({ adapter, sandbox: { writable: ['/no/such/dir'] } }))).message, /options\.sandbox\.writable\[0\] "\/no\/such\/dir" does not exist/);
    assert.match((await rejection(startPool({ adapter, sandbox: { writable: ['rel'] } }))).message, /must be an absolute path/);
  });
});
