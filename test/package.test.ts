import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { ROOT } from './helpers.js';

const run = promisify(execFile);

describe('the npm package', () => {
  it('ships the compiled library, its types and the whole Python package, and nothing it should not', async () => {
    // `npm pack` runs `prepare`, which builds dist/ as an install from git would.
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts=false'], { cwd: ROOT, timeout: 120_000 });
    const files = new Set((JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'python/pyproject.toml', 'python/snakepit_bridge/py.typed']) {
      assert.ok(files.has(needed), `${needed} is in the package`);
    }
    const bridge = readdirSync(path.join(ROOT, 'python', 'snakepit_bridge')).filter((f) => f.endsWith('.py') || f.endsWith('.json'));
    for (const file of bridge) assert.ok(files.has(`python/snakepit_bridge/${file}`), `${file} is in the package`);
    for (const file of files) {
      assert.doesNotMatch(file, /__pycache__|\.pyc$|^test\/|^bench\/|^src\//, `${file} should not be in the package`);
    }
  });
});
