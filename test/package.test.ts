import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PYTHON, ROOT } from './helpers.js';

const exec = promisify(execFile);

/** npm's own settings passed down when the tests run under npm would redirect the installs below. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_/i.test(key) && !/^npm_config_(registry|cache|userconfig)$/i.test(key)) delete env[key];
  }
  return env;
}

async function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd, timeout, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline'];

const TOOLS_PY = 'from snakepit_bridge import tool\n\n\n@tool\ndef add(a: int, b: int) -> int:\n    return a + b\n';
const MAIN_CJS = `const { Pool, SnakepitError } = require('snakepit');
(async () => {
  const pool = await Pool.start({ adapter: './tools.py', python: process.env.SNAKEPIT_PYTHON, size: 1 });
  try {
    const sum = await pool.execute('add', { a: 2, b: 3 });
    const err = await pool.execute('add', { a: 1 }).catch((e) => e);
    // node:crypto loads at its first use (src/boot/crypto.ts): a pool of plain calls never loads it.
    const crypto = process.moduleLoadList.includes('NativeModule crypto');
    console.log(JSON.stringify({ sum, typed: err instanceof SnakepitError, code: err.code, crypto }));
  } finally {
    await pool.close();
  }
})();
`;
const MAIN_MJS = `import { Pool } from 'snakepit';
const pool = await Pool.start({ adapter: './tools.py', python: process.env.SNAKEPIT_PYTHON, size: 1 });
try {
  console.log(JSON.stringify({ sum: await pool.execute('add', { a: 4, b: 5 }) }));
} finally {
  await pool.close();
}
`;
/** How the package loaded: the code cache's state, and whether import and require gave one module. */
const CACHE_MJS = `import { createRequire } from 'node:module';
import * as esm from 'snakepit';
const cjs = createRequire(import.meta.url)('snakepit');
const state = globalThis[Symbol.for('snakepit.codeCache')];
console.log(JSON.stringify({ status: state.status, warm: state.warm, one: esm.Pool === cjs.Pool }));
`;
const CHECK_CTS = `import snakepit = require('snakepit');
export const started: Promise<snakepit.Pool> = snakepit.Pool.start({ adapter: './tools.py' });
export const code: string = new snakepit.PoolClosedError().code;
`;
const CHECK_MTS = `import { Pool, type PoolOptions } from 'snakepit';
const options: PoolOptions = { adapter: './tools.py' };
export const started: Promise<Pool> = Pool.start(options);
`;

/** A new app that depends on `spec` (a folder, a git URL or a tarball), installed with npm. */
async function newApp(dir: string, spec: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir), version: '1.0.0', private: true }));
  writeFileSync(path.join(dir, 'tools.py'), TOOLS_PY);
  writeFileSync(path.join(dir, 'main.cjs'), MAIN_CJS);
  writeFileSync(path.join(dir, 'main.mjs'), MAIN_MJS);
  writeFileSync(path.join(dir, 'cache.mjs'), CACHE_MJS);
  await run('npm', [...NPM_INSTALL, spec], dir, 180_000);
  return dir;
}

async function runApp(dir: string, main: string): Promise<unknown> {
  const { stdout } = await exec(process.execPath, [main], { cwd: dir, timeout: 30_000, env: { ...cleanEnv(), SNAKEPIT_PYTHON: PYTHON } });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('the npm package, installed into a brand-new app', () => {
  // A snapshot of the working tree as a fresh checkout: committed in a git repository of its own, with
  // no node_modules and no dist/, as a user's clone is.
  let work: string;
  let checkout: string;
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'snakepit-package-'));
    checkout = path.join(work, 'checkout');
    const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT);
    for (const file of listed.split('\0').filter(Boolean)) {
      if (/^(bench|examples|test)\//.test(file)) continue; // not needed to build or install
      try {
        cpSync(path.join(ROOT, file), path.join(checkout, file));
      } catch {
        // listed but deleted in the working tree
      }
    }
    await run('git', ['init', '-q'], checkout);
    await run('git', ['add', '-A'], checkout);
    await run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'snapshot'], checkout);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('from a path: prepare builds without dev dependencies; require() and import both run a call', async () => {
    const app = await newApp(path.join(work, 'from-path'), checkout);
    // The build leaves a code cache of the load; the first pool to run writes one of what it compiled.
    assert.deepEqual(await runApp(app, 'cache.mjs'), { status: 'accepted', warm: false, one: true });
    assert.deepEqual(await runApp(app, 'main.cjs'), { sum: 5, typed: true, code: 'INVALID_ARGUMENTS', crypto: false });
    assert.deepEqual(await runApp(app, 'cache.mjs'), { status: 'accepted', warm: true, one: true });
    assert.deepEqual(await runApp(app, 'main.mjs'), { sum: 9 });
    // The types resolve for a CommonJS and an ES module TypeScript file alike.
    writeFileSync(path.join(app, 'check.cts'), CHECK_CTS);
    writeFileSync(path.join(app, 'check.mts'), CHECK_MTS);
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const types = path.join(ROOT, 'node_modules', '@types');
    await run(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--skipLibCheck']
        .concat(['--typeRoots', types, '--types', 'node', 'check.cts', 'check.mts']),
      app,
    );
  });

  it('from a git URL', async () => {
    const app = await newApp(path.join(work, 'from-git'), `git+file://${checkout}`);
    assert.deepEqual(await runApp(app, 'main.cjs'), { sum: 5, typed: true, code: 'INVALID_ARGUMENTS', crypto: false });
    // The `snakepit` command is installed with the package.
    const { stdout: version } = await exec(path.join(app, 'node_modules', '.bin', 'snakepit'), ['--version'], { cwd: app, env: cleanEnv() });
    assert.match(version, /^snakepit \d+\.\d+\.\d+\n$/);
  });

  it('from an npm pack tarball, which holds the built library, its types and the Python package, nothing else', async () => {
    // `npm pack` runs `prepare`, which builds dist/.
    const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', work], checkout)) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = new Set(packed[0]!.files.map((f) => f.path));
    const needed = ['dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/bundle.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/cli.js'];
    for (const file of [...needed, 'python/pyproject.toml', 'python/snakepit_bridge/py.typed']) {
      assert.ok(files.has(file), `${file} is in the package`);
    }
    const bridge = readdirSync(path.join(ROOT, 'python', 'snakepit_bridge')).filter((f) => f.endsWith('.py') || f.endsWith('.json'));
    for (const file of bridge) assert.ok(files.has(`python/snakepit_bridge/${file}`), `${file} is in the package`);
    for (const file of files) {
      assert.doesNotMatch(file, /__pycache__|\.pyc$|^test\/|^bench\/|^src\//, `${file} should not be in the package`);
    }
    const app = await newApp(path.join(work, 'from-tarball'), path.join(work, packed[0]!.filename));
    assert.deepEqual(await runApp(app, 'main.mjs'), { sum: 9 });
    assert.deepEqual(await runApp(app, 'main.cjs'), { sum: 5, typed: true, code: 'INVALID_ARGUMENTS', crypto: false });
    // The `snakepit` command is installed with the package.
    const bin = path.join(app, 'node_modules', '.bin', 'snakepit');
    const { stdout: version } = await exec(bin, ['--version'], { cwd: app, env: cleanEnv() });
    assert.match(version, /^snakepit \d+\.\d+\.\d+\n$/);
    // The built command is one bundle: only the dispatcher runs a command. An unknown command lists
    // the commands (loading each) and starts nothing; `serve --help` prints its help once.
    await assert.rejects(exec(bin, ['run'], { cwd: app, env: cleanEnv() }), (e: { code?: number; stdout: string; stderr: string }) => {
      assert.equal(e.code, 2);
      assert.match(e.stderr, /unknown command "run"/);
      assert.match(e.stderr, /Commands:[\s\S]*serve[\s\S]*agent/);
      assert.doesNotMatch(e.stdout + e.stderr, /snakepit serve:|snakepit agent:|python worker/);
      return true;
    });
    const { stdout: serveHelp, stderr: serveErr } = await exec(bin, ['serve', '--help'], { cwd: app, env: cleanEnv() });
    assert.equal(serveHelp.match(/usage: snakepit serve/g)?.length, 1);
    assert.equal(serveErr, '');
  });
});
