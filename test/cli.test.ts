/** The `snakepit` command, run as a child process: output and exit code of each command. */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cli, TSX } from './cli-helpers.js';
import { fixture, PYTHON, ROOT } from './helpers.js';

describe('snakepit cli', () => {
  test('--help lists every command; no command is a usage error (2); an unknown one too', () => {
    const help = cli(['--help']);
    assert.equal(help.code, 0);
    for (const name of ['doctor', 'tools', 'call', 'codegen', 'init']) assert.match(help.stdout, new RegExp(`\\n  ${name} `));
    assert.equal(cli([]).code, 2);
    const unknown = cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const helpUnknown = cli(['help', 'frobnicate']);
    assert.equal(helpUnknown.code, 2);
    assert.match(helpUnknown.stderr, /snakepit help: unknown command "frobnicate"/);
    assert.equal(cli(['help', 'call']).code, 0);
    // A name the command table inherits is not a command.
    assert.equal(cli(['constructor']).code, 2);
    assert.equal(cli(['help', 'toString']).code, 2);
    const version = cli(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `snakepit ${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  test('every command has --help with its exit codes; an unknown option is exit 2', () => {
    for (const name of ['doctor', 'tools', 'call', 'codegen', 'init']) {
      const r = cli([name, '--help']);
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, new RegExp(`^Usage: snakepit ${name}`), name);
      assert.match(r.stdout, /Exit codes:/, name);
    }
    const bad = cli(['tools', '--frob']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown option '--frob'/);
  });

  test('doctor --json: the Python chosen and why, packages, and a worker that started', () => {
    const r = cli(['doctor', '--json'], { env: { SNAKEPIT_DOCTOR_TORCH: '0' } });
    assert.equal(r.code, 0, r.stderr);
    type Report = { ok: boolean; python: { executable: string; reason: string }; checks: { name: string; ok: boolean; detail: string }[] };
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.ok, true);
    assert.deepEqual(report.python, { executable: PYTHON, reason: '$SNAKEPIT_PYTHON' });
    const names = report.checks.map((c) => c.name);
    for (const n of ['node', 'python', 'bridge', 'msgpack', 'numpy', 'cpus', 'memory', 'accelerators', 'sandbox', 'code cache', 'pool']) {
      assert.ok(names.includes(n), n);
    }
    // The library built beside the sources (npm install builds it), its cache folder writable: no warning.
    assert.equal(report.checks.find((c) => c.name === 'code cache')!.ok, true);
    assert.match(report.checks.find((c) => c.name === 'pool')!.detail, /answered/);
  });

  test('doctor reports NVIDIA GPUs from nvidia-smi', () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'snakepit-fake-smi-'));
    try {
      const smi = path.join(bin, 'nvidia-smi');
      writeFileSync(smi, '#!/bin/sh\necho "NVIDIA H100 80GB HBM3, 81559 MiB, 550.54"\n');
      chmodSync(smi, 0o755);
      const r = cli(['doctor', '--json'], { env: { SNAKEPIT_DOCTOR_TORCH: '0', PATH: `${bin}${path.delimiter}${process.env.PATH}` } });
      const report = JSON.parse(r.stdout) as { checks: { name: string; detail: string }[] };
      assert.equal(report.checks.find((c) => c.name === 'accelerators')!.detail, 'nvidia-smi: NVIDIA H100 80GB HBM3, 81559 MiB, 550.54');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('doctor --adapter starts the pool with that adapter; exit 1 with its import error', () => {
    const ok = cli(['doctor', '--adapter', fixture('typed_tools.py')], { env: { SNAKEPIT_DOCTOR_TORCH: '0' } });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok {3}pool {12}.*typed_tools\.py: a worker started in \d+ ms with \d+ tools/);
    const broken = cli(['doctor', '--adapter', fixture('import_error.py')], { env: { SNAKEPIT_DOCTOR_TORCH: '0' } });
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /FAIL pool +WORKER_START_FAILED: worker \d+: cannot load adapter/);
  });

  test('doctor exits 1 naming the executable when the Python does not run', () => {
    const r = cli(['doctor', '--python', '/nonexistent/python3']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL python +\/nonexistent\/python3 \(options\.python\) does not run/);
    assert.match(r.stdout, /the pool could not start/);
  });

  test('tools: signatures and docstrings; --json carries the type trees', () => {
    const r = cli(['tools', fixture('typed_tools.py')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^add\(a: int, b: int = 2\) -> int\n {4}Add two integers\./m);
    assert.match(r.stdout, /^count\(n: int\) -> Iterator\[int\] {2}\[stream\]/m);
    const json = cli(['tools', fixture('typed_tools.py'), '--json']);
    const tools = JSON.parse(json.stdout) as { name: string; parameters: { name: string; schema: unknown }[]; returnsSchema: unknown }[];
    const add = tools.find((t) => t.name === 'add')!;
    assert.deepEqual(add.parameters[0]!.schema, { kind: 'int' });
    assert.deepEqual(tools.find((t) => t.name === 'count')!.returnsSchema, { kind: 'int' });
    const missing = cli(['tools', 'no_such_file.py']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /INVALID_OPTIONS .*file not found/);
  });

  test('call: the result as JSON; a stream as JSON lines; a Python error with its traceback, exit 1', () => {
    const ok = cli(['call', fixture('typed_tools.py'), 'add', '{"a": 40}']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout), 42);
    // Values without a JSON form: bigints beyond 2^53 as strings, NDArrays as { dtype, shape, data }, Maps as $map.
    const ints = cli(['call', fixture('typed_tools.py'), 'ints']);
    assert.deepEqual(JSON.parse(ints.stdout), { column: [9, '1152921504606846979', -1], float: 3, nested: { n: 1 }, keys: { $map: [[1, 'one']] } });
    const array = cli(['call', fixture('typed_tools.py'), 'arrays', '{"a": [1], "b": [2]}']);
    assert.deepEqual(JSON.parse(array.stdout), { dtype: 'int64', shape: [3], data: [0, 0, 0] });
    const stream = cli(['call', fixture('typed_tools.py'), 'count', '{"n": 3}']);
    assert.equal(stream.stdout, '0\n1\n2\n');
    const failed = cli(['call', fixture('typed_tools.py'), 'add', '{"a": "x"}']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^PYTHON_ERROR: TypeError: can only concatenate str/m);
    assert.match(failed.stderr, /Traceback \(most recent call last\)/);
    const notFound = cli(['call', fixture('typed_tools.py'), 'predcit']);
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, /TOOL_NOT_FOUND/);
    const badJson = cli(['call', fixture('typed_tools.py'), 'add', '{a:1}']);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /arguments must be a JSON object/);
  });

  test('init writes a starter that runs at once; a second init refuses to overwrite (exit 1)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-init-'));
    try {
      const r = cli(['init', dir, '--import-from', path.join(ROOT, 'src', 'index.js')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(path.join(dir, 'client.ts'), 'utf8'), /greet\(args: GreetArgs, options\?: ExecuteOptions\): Promise<string>;/);
      assert.match(readFileSync(path.join(dir, 'README.md'), 'utf8'), /snakepit codegen tools\.py -o client\.ts/);
      const run = spawnSync(process.execPath, ['--import', TSX, 'main.ts'], { cwd: dir, encoding: 'utf8', env: { ...process.env, SNAKEPIT_PYTHON: PYTHON } });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'Hello, world!\n1\n2\n3\n');
      const again = cli(['init', dir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /tools\.py, client\.ts, main\.ts already exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('serve: the gateway behind the snakepit command; SIGTERM drains and exits 0; bad usage exits 2', async () => {
    assert.equal(cli(['serve']).code, 2);
    assert.match(cli(['dashboard', '--help']).stdout, /^usage: snakepit dashboard --adapter FILE/);
    assert.equal(cli(['dashboard', '--frob']).code, 2);
    assert.match(cli(['serve', '--help']).stdout, /^usage: snakepit serve <adapter>/);
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src', 'cli', 'main.ts'), 'serve', fixture('typed_tools.py'), '--port', '0', '--size', '1'], {
      cwd: ROOT,
      env: { ...process.env, SNAKEPIT_PYTHON: PYTHON },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const res = await fetch(`${url}/v1/tools/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 2, b: 3 }) });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /5/);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
