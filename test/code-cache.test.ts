import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import vm from 'node:vm';
import { buildSync } from 'esbuild';
import { after, before, beforeEach, describe, it } from 'node:test';
import { cacheFileOf, inspectCodeCache, loadBundle, type CodeCacheState } from '../src/boot/code-cache.js';
import { CODE_CACHE_KEY, codeCachePoolClosed, codeCachePoolStarted } from '../src/boot/warm.js';
import { ROOT } from './helpers.js';

const exec = promisify(execFile);

/**
 * A CommonJS bundle as esbuild writes the library: requires a built-in, knows its file, and imports a
 * module when first needed, as src/boot/import.ts does.
 */
const BUNDLE = `"use strict";
const os = require("node:os");
exports.file = __filename;
exports.dir = __dirname;
exports.add = function add(a, b) { return a + b; };
exports.eol = os.EOL;
exports.realm = () => globalThis;
exports.lazy = () => (typeof __snakepit_import === "function" ? __snakepit_import("node:path") : import("node:path")).then((m) => m.sep);
`;

describe('the code cache loader (src/boot/code-cache.ts)', () => {
  let dir: string;
  let bundle: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'snakepit-code-cache-'));
    bundle = path.join(dir, 'bundle.js');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  // Each test starts from the bundle alone.
  beforeEach(() => {
    for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { recursive: true, force: true });
    writeFileSync(bundle, BUNDLE);
  });

  type Lib = { file: string; dir: string; add(a: number, b: number): number; eol: string; lazy(): Promise<string> };
  // The tests run under tsx, which turns source maps on: off here, as in a plain `node app.js`.
  const load = (env: NodeJS.ProcessEnv = {}, sourceMaps = false): { lib: Lib; state: CodeCacheState } => {
    const { exports, state } = loadBundle(bundle, { env, sourceMaps });
    return { lib: exports as Lib, state };
  };
  /**
   * Load in a new process: V8 keeps what it compiled in a process, and a bundle compiled once would be
   * taken from there, whatever the cache file holds.
   */
  type Seen = { status: string; warm: boolean; wantsSave: boolean; sum: number; saved?: boolean };
  const loadElsewhere = async (env: NodeJS.ProcessEnv = {}, save?: boolean, flags: string[] = []): Promise<Seen> => {
    const code = `const { loadBundle } = require(${JSON.stringify(path.join(ROOT, 'src', 'boot', 'code-cache.ts'))});
      const { exports, state } = loadBundle(${JSON.stringify(bundle)}, { env: ${JSON.stringify(env)}, sourceMaps: false });
      exports.lazy().then((sep) => {
        if (sep !== ${JSON.stringify(path.sep)} || exports.file !== ${JSON.stringify(bundle)}) throw new Error('the bundle did not run as required');
        const seen = { status: state.status, warm: state.warm, wantsSave: state.wantsSave, sum: exports.add(2, 3) };
        process.stdout.write(JSON.stringify(${save === undefined} ? seen : { ...seen, saved: state.save(${save === true}) }));
      });`;
    const { stdout } = await exec(process.execPath, [...flags, '--import', 'tsx', '-e', code], { cwd: ROOT });
    return JSON.parse(stdout) as Seen;
  };
  const works = async (lib: Lib): Promise<void> => {
    assert.equal(lib.file, bundle);
    assert.equal(lib.dir, dir);
    assert.equal(lib.add(2, 3), 5);
    assert.equal(typeof lib.eol, 'string');
    assert.equal(await lib.lazy(), path.sep);
  };

  it('runs a bundle without a cache, writes one once, and the next load uses it', async () => {
    const first = load();
    assert.equal(first.state.status, 'missing');
    assert.equal(first.state.wantsSave, true);
    await works(first.lib);
    assert.equal(first.state.file, cacheFileOf(bundle));
    assert.equal(path.basename(cacheFileOf(bundle, [])), `bundle.js.node-${process.version}-${process.arch}.cache`);
    assert.match(path.basename(first.state.file), /^bundle\.js\.node-v[\d.]+-\w+-[0-9a-f]{8}\.cache$/, 'the tests run with options (tsx)');
    assert.equal(first.state.save(true), true);
    assert.equal(first.state.save(true), false, 'at most once per load');
    assert.equal(first.state.wantsSave, false);
    assert.deepEqual(readdirSync(dir).sort(), ['bundle.js', path.basename(first.state.file)], 'no temporary file is left');

    // Another process (its options may differ from this one's, and so its cache file).
    rmSync(first.state.file);
    assert.deepEqual(await loadElsewhere({}, true), { status: 'missing', warm: false, wantsSave: true, sum: 5, saved: true });

    assert.deepEqual(await loadElsewhere(), { status: 'accepted', warm: true, wantsSave: false, sum: 5 }, 'a warm cache used is not written again');
  });

  it('a cache written at load only (not warm) is used, and still asks to be written once a pool has run', async () => {
    assert.equal((await loadElsewhere({}, false)).saved, true);
    assert.deepEqual(await loadElsewhere(), { status: 'accepted', warm: false, wantsSave: true, sum: 5 });
  });

  it('a cache of an older bundle is not used: another size, or the same size modified later', async () => {
    assert.equal(load().state.save(true), true);
    writeFileSync(bundle, BUNDLE.replace('a + b', 'a - b'));
    const changed = load();
    assert.equal(changed.state.status, 'stale');
    assert.equal(changed.lib.add(2, 3), -1, 'the new source runs');

    writeFileSync(bundle, BUNDLE);
    assert.equal(load().state.save(true), true);
    // The same length, edited in place later (as a patch would): only the modification time tells.
    writeFileSync(bundle, BUNDLE.replace('a + b', 'a * b'));
    const later = new Date(Date.now() + 5_000);
    utimesSync(bundle, later, later);
    const edited = load();
    assert.equal(edited.state.status, 'stale');
    assert.equal(edited.lib.add(2, 3), 6);
    assert.equal(edited.state.wantsSave, true);
  });

  it('a cache V8 refuses (another Node, or damaged) is reported, the bundle still runs, and it is written again', async () => {
    assert.equal((await loadElsewhere({}, true)).saved, true);
    const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.cache'))!);
    const raw = readFileSync(file);
    raw.fill(0x5a, 24); // the header still matches the bundle; V8's data does not
    writeFileSync(file, raw);
    assert.deepEqual(await loadElsewhere({}, true), { status: 'rejected', warm: false, wantsSave: true, sum: 5, saved: true });
    assert.equal((await loadElsewhere()).status, 'accepted');

    writeFileSync(file, 'not a cache');
    assert.equal((await loadElsewhere()).status, 'stale');
  });

  it('processes started with other options (V8 flags) keep caches of their own', async () => {
    assert.equal((await loadElsewhere({}, true)).saved, true);
    assert.equal((await loadElsewhere({}, undefined, ['--expose-gc'])).status, 'missing');
    assert.equal((await loadElsewhere({}, true, ['--expose-gc'])).saved, true);
    assert.equal((await loadElsewhere()).status, 'accepted');
    assert.equal((await loadElsewhere({}, undefined, ['--expose-gc'])).status, 'accepted');
    assert.equal(readdirSync(dir).length, 3);
    // Options that are not V8's fall back on the plain file (of a process started without options).
    const tsxOnly = readdirSync(dir).find((f) => f === path.basename(cacheFileOf(bundle, ['--import', 'tsx'])))!;
    cpSync(path.join(dir, tsxOnly), cacheFileOf(bundle, []));
    assert.deepEqual(await loadElsewhere({}, undefined, ['--input-type=commonjs']), { status: 'accepted', warm: true, wantsSave: false, sum: 5 });
    assert.notEqual(cacheFileOf(bundle, ['--expose-gc']), cacheFileOf(bundle, ['--max-old-space-size=512']));
  });

  it('inspectCodeCache (snakepit doctor) says what the plain file holds, and whether V8 takes it', async () => {
    const plain = cacheFileOf(bundle, []);
    assert.deepEqual(inspectCodeCache(bundle, {}), { file: plain, status: 'missing', warm: false, writable: true });
    assert.equal(inspectCodeCache(bundle, { SNAKEPIT_CODE_CACHE: '0' }).status, 'disabled');
    assert.equal((await loadElsewhere({}, true)).saved, true);
    cpSync(cacheFileOf(bundle, ['--import', 'tsx']), plain);
    // In a process of its own: V8 would take the bundle this process compiled from its own memory.
    const inspect = async (): Promise<unknown> => {
      const code = `const { inspectCodeCache } = require(${JSON.stringify(path.join(ROOT, 'src', 'boot', 'code-cache.ts'))});
        process.stdout.write(JSON.stringify(inspectCodeCache(${JSON.stringify(bundle)}, {})));`;
      return JSON.parse((await exec(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT })).stdout);
    };
    assert.deepEqual(await inspect(), { file: plain, status: 'accepted', warm: true, writable: true });
    const raw = readFileSync(plain);
    raw.fill(0x5a, 24);
    writeFileSync(plain, raw);
    assert.deepEqual(await inspect(), { file: plain, status: 'rejected', warm: true, writable: true });
    writeFileSync(bundle, BUNDLE.replace('a + b', 'a - b'));
    assert.equal(inspectCodeCache(bundle, {}).status, 'stale');
  });

  it('SNAKEPIT_CODE_CACHE=0 reads and writes nothing; the bundle is required as it is', async () => {
    const { lib, state } = load({ SNAKEPIT_CODE_CACHE: '0' });
    assert.equal(state.status, 'disabled');
    assert.equal(state.wantsSave, false);
    assert.equal(state.save(true), false);
    await works(lib);
    assert.deepEqual(readdirSync(dir), ['bundle.js']);
  });

  it('a cache that cannot be written is left alone, with nothing left behind', async () => {
    const file = cacheFileOf(bundle);
    mkdirSync(path.join(file, 'occupied'), { recursive: true }); // a folder where the file would go
    const { lib, state } = load();
    assert.equal(state.status, 'missing');
    assert.equal(state.save(true), false);
    await works(lib);
    assert.deepEqual(readdirSync(dir).sort(), ['bundle.js', path.basename(file)]);
  });

  it('a bundle missing beside the loader (taken into an application bundle) is named, with what to do', () => {
    assert.throws(() => loadBundle(path.join(dir, 'elsewhere', 'bundle.js'), { sourceMaps: false }), (err: Error) => {
      assert.match(err.message, /snakepit: .*elsewhere\/bundle\.js is missing/);
      assert.match(err.message, /mark it external/);
      return true;
    });
  });

  it('in a context of its own (as Jest runs a test file), the bundle is required there, with that context\'s globals', () => {
    // The loader, compiled as the build compiles it, run in a new context with a `require` that runs
    // modules in that context too, as Jest's does.
    const loader = buildSync({
      entryPoints: [path.join(ROOT, 'src', 'boot', 'code-cache.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      logLevel: 'error',
    }).outputFiles[0]!.text;
    const context = vm.createContext({ process, Buffer, console, URL });
    const contextRequire = (id: string): unknown => {
      if (id.startsWith('node:')) return createRequire(bundle)(id);
      const module = { exports: {} };
      const source = id === 'loader' ? loader : readFileSync(id, 'utf8');
      const wrapped = vm.runInContext(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, context) as (
        ...args: unknown[]
      ) => void;
      wrapped(module.exports, contextRequire, module, id, path.dirname(id));
      return module.exports;
    };
    const { loadBundle: load } = contextRequire('loader') as typeof import('../src/boot/code-cache.js');
    const { exports, state } = load(bundle, { env: {}, sourceMaps: false, require: contextRequire });
    assert.equal(state.status, 'disabled');
    const lib = exports as Lib & { realm(): unknown };
    assert.equal(lib.add(2, 3), 5);
    assert.equal(lib.realm(), vm.runInContext('globalThis', context), "the bundle runs with the context's globals");
    assert.deepEqual(readdirSync(dir), ['bundle.js']);
  });

  it('source maps turn it off: Node maps the stack traces of what require loads, and only of that', async () => {
    const { lib, state } = load({}, true);
    assert.equal(state.status, 'disabled');
    await works(lib);
    assert.equal(process.sourceMapsEnabled, true, 'tsx turned them on');
    assert.equal(loadBundle(bundle).state.status, 'disabled', "the default is the process's setting");
    assert.deepEqual(readdirSync(dir), ['bundle.js']);
  });
});

describe('when the library asks for the cache to be written (src/boot/warm.ts)', () => {
  it('once: when the first pool closes, or a second after it started', async () => {
    const saves: boolean[] = [];
    let wants = true;
    const fake = {
      get wantsSave() {
        return wants;
      },
      save(warm: boolean) {
        saves.push(warm);
        wants = false;
        return true;
      },
    };
    const g = globalThis as Record<symbol, unknown>;
    const before = g[CODE_CACHE_KEY];
    g[CODE_CACHE_KEY] = fake;
    try {
      codeCachePoolClosed(); // no pool has started: nothing ran worth keeping
      assert.deepEqual(saves, []);
      codeCachePoolStarted();
      codeCachePoolStarted();
      assert.deepEqual(saves, [], 'not at start');
      codeCachePoolClosed();
      assert.deepEqual(saves, [true]);
      codeCachePoolClosed();
      await new Promise((r) => setTimeout(r, 1_100)); // the timer was cleared, and nothing is wanted now
      assert.deepEqual(saves, [true]);
    } finally {
      g[CODE_CACHE_KEY] = before;
    }
  });

  it('a second after the first pool started, when no pool closes by then (in a process of its own)', async () => {
    const code = `const { CODE_CACHE_KEY, codeCachePoolStarted } = require(${JSON.stringify(path.join(ROOT, 'src', 'boot', 'warm.ts'))});
      const saves = [];
      let wants = true;
      globalThis[CODE_CACHE_KEY] = { get wantsSave() { return wants; }, save(warm) { saves.push(warm); wants = false; return true; } };
      codeCachePoolStarted();
      const early = saves.length;
      setTimeout(() => process.stdout.write(JSON.stringify({ early, saves })), 1_300);`;
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT });
    assert.deepEqual(JSON.parse(stdout), { early: 0, saves: [true] });
  });
});
