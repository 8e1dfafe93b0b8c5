import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { ROOT } from './helpers.js';

const run = promisify(execFile);

describe('examples', () => {
  it('the demo runs and shows each feature', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'examples', 'demo.ts')], {
      cwd: ROOT,
      timeout: 60_000,
    });
    assert.match(stdout, /1\. execute: add\(a=2, b=40\) = 42/);
    assert.match(stdout, /2\. Python error: code=PYTHON_ERROR type=ZeroDivisionError/);
    assert.match(stdout, /3\. timeout: TIMEOUT after \d+ ms/);
    assert.match(stdout, /cancelled after its deadline/);
    assert.match(stdout, /4\. concurrency: 8 CPU-bound calls on 2 worker processes/);
    assert.match(stdout, /5\. stream: streams \| arrive \| chunk \| by \| chunk/);
    assert.match(stdout, /pool closed; worker processes still alive: 0 of 2/);
  });
});
