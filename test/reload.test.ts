/** Development reload: pool.reload() and the watch option replace the workers with the changed adapter. */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SnakepitError } from '../src/index.js';
import { startPool, waitFor } from './helpers.js';

// Each version has a different length, so a cached bytecode file can never pass for the new source.
const version = (v: string, extra = ''): string =>
  `from snakepit_bridge import tool\n\n\n@tool\ndef version() -> str:\n    return ${JSON.stringify(v)}\n${extra}`;

describe('reload', () => {
  test('pool.reload() rolls the workers one at a time and reads the catalogue again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-reload-'));
    const adapter = path.join(dir, 'tools.py');
    writeFileSync(adapter, version('one'));
    const pool = await startPool({ adapter, size: 2 });
    try {
      const before = pool.stats().workerList.map((w) => w.pid);
      assert.equal(await pool.execute('version'), 'one');
      writeFileSync(adapter, version('second', '\n\n@tool\ndef extra() -> int:\n    return 7\n'));
      // Calls keep being served while the workers roll over.
      const during = Promise.all(Array.from({ length: 20 }, () => pool.execute('version')));
      await pool.reload();
      for (const v of await during) assert.ok(v === 'one' || v === 'second');
      const after = pool.stats().workerList.map((w) => w.pid);
      assert.equal(after.length, 2);
      for (const pid of after) assert.ok(!before.includes(pid), 'every worker was replaced');
      assert.equal(await pool.execute('version'), 'second');
      assert.equal(await pool.execute('extra'), 7);
      assert.ok(pool.tools().some((t) => t.name === 'extra'));

      // A broken adapter: the reload rejects and the old workers keep serving.
      writeFileSync(adapter, 'this is not python\n');
      await assert.rejects(pool.reload(), (err: unknown) => err instanceof SnakepitError && err.code === 'WORKER_START_FAILED');
      assert.equal(await pool.execute('version'), 'second');
    } finally {
      await pool.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('watch: a changed .py file reloads the workers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-watch-'));
    const adapter = path.join(dir, 'tools.py');
    writeFileSync(adapter, version('one'));
    const pool = await startPool({ adapter, size: 1, watch: true });
    try {
      assert.deepEqual(pool.options.watch, [dir]);
      assert.equal(await pool.execute('version'), 'one');
      writeFileSync(adapter, version('watched'));
      let seen: unknown;
      await waitFor(() => {
        void pool.execute('version').then((v) => (seen = v), () => {});
        return seen === 'watched';
      }, 15_000, 'the watched change to be served');
    } finally {
      await pool.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
