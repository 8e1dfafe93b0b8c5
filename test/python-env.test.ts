/**
 * Managed environments, built offline from a wheel made in the test (`--no-index --find-links`):
 * built once and reused, used by the pool's workers, a missing package named, nothing half-built kept.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Pool, PythonEnvironmentError } from '../src/index.js';
import { checkEnvironmentOptions, ensureEnvironment, missingPackage } from '../src/python-env/managed.js';
import { cli } from './cli-helpers.js';
import { fixture, PYTHON } from './helpers.js';

const WHEEL = String.raw`
import base64, hashlib, sys, zipfile
out = sys.argv[1]
files = {
    "tinypkg/__init__.py": "VALUE = 42\n",
    "tinypkg-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1.0\n",
    "tinypkg-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
with zipfile.ZipFile(out + "/tinypkg-0.1.0-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinypkg-0.1.0.dist-info/RECORD,,")
    z.writestr("tinypkg-0.1.0.dist-info/RECORD", "\n".join(record) + "\n")
`;

describe('managed environments', () => {
  let root: string;
  let wheels: string;
  let envs: string;
  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'snakepit-env-'));
    wheels = path.join(root, 'wheels');
    envs = path.join(root, 'envs');
    execFileSync('mkdir', ['-p', wheels]);
    execFileSync(PYTHON, ['-c', WHEEL, wheels]);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const spec = () => ({ packages: ['tinypkg==0.1.0'], base: PYTHON, dir: envs, installArgs: ['--no-index', '--find-links', wheels], installer: 'pip' as const });

  test('a pool builds the environment once, its workers use it, a second start reuses it', async () => {
    const pool = await Pool.start({ adapter: fixture('uses_tinypkg.py'), size: 2, codec: 'json', python: spec() });
    let dir: string;
    try {
      assert.equal(await pool.execute('value'), 42);
      dir = (await pool.execute('prefix')) as string;
      assert.equal(path.dirname(dir), envs);
      assert.equal(pool.options.pythonReason, `the managed environment ${dir}`);
    } finally {
      await pool.close();
    }
    const again = await ensureEnvironment(checkEnvironmentOptions(spec(), root, PYTHON));
    assert.equal(again.built, false);
    assert.equal(again.dir, dir);
    assert.deepEqual(readdirSync(envs), [path.basename(dir)], 'one environment, no temporary folder left');
  });

  test('a package that is not there fails naming it, and nothing half-built is kept', async () => {
    const before = readdirSync(envs);
    await assert.rejects(
      Pool.start({ adapter: fixture('uses_tinypkg.py'), size: 1, python: { ...spec(), packages: ['no-such-snakepit-package'] } }),
      (err: unknown) => {
        assert.ok(err instanceof PythonEnvironmentError);
        assert.equal(err.code, 'PYTHON_ENV_FAILED');
        assert.equal(err.package, 'no-such-snakepit-package');
        assert.match(err.message, /package "no-such-snakepit-package" was not found/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(envs), before);
  });

  test('snakepit env finds the environment a pool built (same options, same key); a missing package is exit 1', () => {
    const args = ['env', '-p', 'tinypkg==0.1.0', '--base', PYTHON, '--dir', envs, '--no-index', '--find-links', wheels, '--installer', 'pip', '--json'];
    const first = cli(args);
    assert.equal(first.code, 0, first.stderr);
    const found = JSON.parse(first.stdout) as { python: string; dir: string; built: boolean };
    assert.equal(found.built, false);
    assert.equal(path.dirname(found.dir), envs);
    assert.ok(existsSync(found.python));
    const text = cli(args.slice(0, -1));
    assert.equal(text.code, 0);
    assert.equal(text.stdout, `reused ${found.python}\n`);
    const missing = cli(['env', '-p', 'nope-not-here', '--base', PYTHON, '--dir', envs, '--no-index', '--installer', 'pip']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /PYTHON_ENV_FAILED .*package "nope-not-here" was not found/);
    assert.equal(cli(['env']).code, 2);
  });

  test('option checks and installer messages', () => {
    assert.throws(() => checkEnvironmentOptions({}, root, PYTHON), /options\.python needs packages or requirements/);
    assert.throws(() => checkEnvironmentOptions({ packages: ['x'], frob: 1 }, root, PYTHON), /options\.python\.frob is not an environment option/);
    assert.throws(() => checkEnvironmentOptions({ requirements: 'nope.txt' }, root, PYTHON), /requirements: file not found/);
    assert.equal(missingPackage('ERROR: No matching distribution found for foo-bar==1.0'), 'foo-bar==1.0');
    assert.equal(missingPackage('  ╰─▶ Because foo was not found in the package registry and you require foo'), 'foo');
  });

  test('with uv (beside the base interpreter): built, reused, a missing package named', async () => {
    const uvCache = path.join(root, 'uv-cache');
    const saved = process.env.UV_CACHE_DIR;
    process.env.UV_CACHE_DIR = uvCache;
    try {
      const uvEnvs = path.join(root, 'uv-envs');
      const options = checkEnvironmentOptions({ ...spec(), installer: 'auto', dir: uvEnvs }, root, PYTHON);
      const built = await ensureEnvironment(options);
      assert.equal(built.installer, 'uv', 'uv is in the dev extra, beside the test interpreter');
      assert.equal(built.built, true);
      const value = execFileSync(built.python, ['-c', 'import tinypkg; print(tinypkg.VALUE)'], { encoding: 'utf8' });
      assert.equal(value.trim(), '42');
      assert.equal((await ensureEnvironment(options)).built, false);
      await assert.rejects(
        ensureEnvironment(checkEnvironmentOptions({ ...spec(), installer: 'uv', dir: uvEnvs, packages: ['no-such-snakepit-package'] }, root, PYTHON)),
        (err: unknown) => err instanceof PythonEnvironmentError && err.package === 'no-such-snakepit-package',
      );
      assert.deepEqual(readdirSync(uvEnvs), [built.key]);
    } finally {
      if (saved === undefined) delete process.env.UV_CACHE_DIR;
      else process.env.UV_CACHE_DIR = saved;
    }
  });
});
