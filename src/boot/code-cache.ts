/**
 * Loading the library's bundle through V8's code cache. The built package's entry points
 * (dist/cjs/index.js, and dist/index.js above it) are this loader: it compiles dist/cjs/bundle.js with
 * the code V8 compiled for it last time (a `.cache` file beside the bundle), as Python does with
 * `__pycache__`. Without the cache V8 compiles the 500 KB bundle at every load, and each function again
 * the first time it runs; with it, loading the package and a first pool's start and first call skip
 * most of that (docs/architecture.md, Decisions).
 *
 * The cache is code, as trusted as the bundle: it is read and written only beside the bundle, never in a
 * shared temporary folder. Each Node release and architecture has a file of its own (cacheFileOf); a
 * process started with command-line options that V8 takes as flags (`--expose-gc`,
 * `--max-old-space-size`: V8 refuses a cache made under other flags) gets one of its own beside it, so
 * that processes started both ways do not write over each other's. A file V8 refuses, one left from an
 * older bundle (its size or modification time differ) or a missing one is written again, once per process,
 * when the first pool closes or a second after it started, whichever comes first: by then the functions
 * a pool runs are compiled too. A folder that cannot be written is left alone. `SNAKEPIT_CODE_CACHE=0`
 * turns the cache off (nothing read, nothing written), and so do source maps (`--enable-source-maps`):
 * Node maps the stack traces of what `require` loads, not of a script compiled here, so the bundle is
 * then required as it is; and so it is in a test runner's context of its own (Jest), which must load it
 * itself.
 */

import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { CODE_CACHE_KEY } from './warm.js';

/**
 * What the loader found: the cache used, refused by V8, left from another bundle, absent, or turned off
 * (by SNAKEPIT_CODE_CACHE=0 or source maps).
 */
export type CodeCacheStatus = 'accepted' | 'rejected' | 'stale' | 'missing' | 'disabled';

export interface CodeCacheState {
  readonly bundle: string;
  /** The cache file used (or refused), or the one `save` writes. */
  readonly file: string;
  readonly status: CodeCacheStatus;
  /** Whether the file read held code compiled while a pool ran (not only at load). */
  readonly warm: boolean;
  /** Whether `save` would write: the cache was not used, or was written at load only. */
  readonly wantsSave: boolean;
  /**
   * Write the cache file from what V8 has compiled so far (`warm`: a pool has run). At most once per
   * process; false when nothing was written (done already, turned off, or the folder is read-only).
   */
  save(warm: boolean): boolean;
}

const MAGIC = 0x43435053; // "SPCC"
const FORMAT = 1;
/** magic u32, format u8, warm u8, 2 bytes unused, bundle size f64, bundle mtime (ms) f64. */
const HEADER = 24;

function header(size: number, mtimeMs: number, warm: boolean): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(MAGIC, 0);
  h.writeUInt8(FORMAT, 4);
  h.writeUInt8(warm ? 1 : 0, 5);
  h.writeDoubleLE(size, 8);
  h.writeDoubleLE(mtimeMs, 16);
  return h;
}

/** The cache file's V8 data when its header matches this bundle; 'missing' or 'stale' otherwise. */
function readCache(file: string, size: number, mtimeMs: number): { data: Buffer; warm: boolean } | 'missing' | 'stale' {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch {
    return 'missing';
  }
  if (raw.length <= HEADER || raw.readUInt32LE(0) !== MAGIC || raw.readUInt8(4) !== FORMAT) return 'stale';
  if (raw.readDoubleLE(8) !== size || raw.readDoubleLE(16) !== mtimeMs) return 'stale';
  return { data: raw.subarray(HEADER), warm: raw.readUInt8(5) === 1 };
}

/** Node's command-line options, without the code of `-e` or `-p` (which say nothing of V8's flags). */
function nodeOptions(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^(-e|-p|-pe|--eval|--print)$/.test(arg)) i++;
    else if (!/^--(eval|print)=/.test(arg)) out.push(arg);
  }
  return out;
}

/**
 * The cache file of `bundle` for the running Node release and architecture, and for processes started
 * with other command-line options (`process.execArgv` and NODE_OPTIONS, hashed) one of their own.
 */
export function cacheFileOf(bundle: string, options = [...nodeOptions(process.execArgv), process.env.NODE_OPTIONS ?? '']): string {
  const flags = options.join(' ').trim();
  let hash = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < flags.length; i++) hash = Math.imul(hash ^ flags.charCodeAt(i), 0x01000193) >>> 0;
  const suffix = flags === '' ? '' : `-${hash.toString(16).padStart(8, '0')}`;
  return `${bundle}.node-${process.version}-${process.arch}${suffix}.cache`;
}

/**
 * The bundle's source, in the wrapper `require` puts around a module plus `import()` for the bundle
 * (src/boot/import.ts), compiled with the V8 data of `found` when there is some; and what V8 made of it.
 */
function compile(
  bundle: string,
  source: string,
  found: { data: Buffer } | 'missing' | 'stale',
): { script: Script; status: Exclude<CodeCacheStatus, 'disabled'> } {
  const cachedData = typeof found === 'object' ? found.data : undefined;
  const wrapped = `(function (exports, require, module, __filename, __dirname, __snakepit_import) { ${source}\n});`;
  const script = new Script(wrapped, { filename: bundle, cachedData });
  const status = typeof found !== 'object' ? found : script.cachedDataRejected === true ? 'rejected' : 'accepted';
  return { script, status };
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Leave `state` where the library (src/boot/warm.ts) finds it; the first bundle loaded keeps the place. */
function publish(state: CodeCacheState): void {
  (globalThis as { [CODE_CACHE_KEY]?: CodeCacheState })[CODE_CACHE_KEY] ??= state;
}

/**
 * What the cache file of `bundle` for a plain `node` of this release holds (`snakepit doctor`): whether
 * V8 takes it (the bundle is compiled with it, not run), whether a pool's run wrote it, and whether its
 * folder can be written.
 */
export function inspectCodeCache(
  bundle: string,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; status: CodeCacheStatus; warm: boolean; writable: boolean } {
  const file = cacheFileOf(bundle, []);
  const canWrite = writable(dirname(file));
  if (env.SNAKEPIT_CODE_CACHE === '0') return { file, status: 'disabled', warm: false, writable: canWrite };
  const { size, mtimeMs } = statSync(bundle);
  const found = readCache(file, size, mtimeMs);
  if (typeof found !== 'object') return { file, status: found, warm: false, writable: canWrite };
  return { file, status: compile(bundle, readFileSync(bundle, 'utf8'), found).status, warm: found.warm, writable: canWrite };
}

/**
 * Whether this code runs in Node's main context. A test runner that runs each test file in a context of
 * its own (Jest) loads modules there; `runInThisContext` would run the bundle in the main context
 * instead, with other globals (`Error`, timers) than the tests'.
 */
function inMainContext(): boolean {
  return new Script('globalThis').runInThisContext() === globalThis;
}

/**
 * Run the CommonJS bundle at `bundle` as `require` would, compiled with its code cache; returns its
 * exports. The state is left on `globalThis[CODE_CACHE_KEY]` (the first bundle loaded keeps it).
 * `env` and `sourceMaps` default to the process's; `require` is the entry point's, which requires the
 * bundle as it is when the cache is off (or this runs in a context of its own: then always).
 */
export function loadBundle(
  bundle: string,
  {
    env = process.env,
    sourceMaps = process.sourceMapsEnabled,
    require: requireBundle = createRequire(bundle),
  }: { env?: NodeJS.ProcessEnv; sourceMaps?: boolean; require?: (id: string) => unknown } = {},
): { exports: unknown; state: CodeCacheState } {
  if (!existsSync(bundle)) {
    // What a bundler that took this loader into an application's own bundle leaves behind.
    throw new Error(
      `snakepit: ${bundle} is missing: the library loads its bundle from beside its entry point, and runs the Python ` +
        'package in its python/ folder; keep snakepit out of bundles (mark it external) and install it as a package',
    );
  }
  const own = cacheFileOf(bundle);
  const plain = cacheFileOf(bundle, []);
  if (env.SNAKEPIT_CODE_CACHE === '0' || sourceMaps || !inMainContext()) {
    const off: CodeCacheState = { bundle, file: plain, status: 'disabled', warm: false, wantsSave: false, save: () => false };
    publish(off);
    return { exports: requireBundle(bundle), state: off };
  }
  const { size, mtimeMs } = statSync(bundle);
  const source = readFileSync(bundle, 'utf8');
  // This process's options' own file, else the plain one (most options say nothing to V8).
  let read = own;
  let found = readCache(own, size, mtimeMs);
  if (found === 'missing' && own !== plain) [read, found] = [plain, readCache(plain, size, mtimeMs)];
  const compiled = compile(bundle, source, found);
  const status = compiled.status;
  let script: Script | undefined = compiled.script;
  const warm = status === 'accepted' && (found as { warm: boolean }).warm;
  // Where a new cache goes: over the file read (used, or left from an older bundle); else, when V8
  // refused it (other flags) or there is none, this process's own, so that processes started with other
  // options do not write over each other's.
  const file = status === 'accepted' || status === 'stale' ? read : own;
  let saved = false;
  const state: CodeCacheState = {
    bundle,
    file,
    status,
    warm,
    get wantsSave() {
      return !saved && !warm;
    },
    save(asWarm: boolean): boolean {
      if (saved || script === undefined) return false;
      saved = true;
      const done = script;
      script = undefined;
      // A read-only install keeps what it has, without serialising a cache it cannot write.
      if (!writable(dirname(file))) return false;
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, Buffer.concat([header(size, mtimeMs, asWarm), done.createCachedData()]), { mode: 0o644 });
        renameSync(tmp, file);
        return true;
      } catch {
        try {
          rmSync(tmp, { force: true });
        } catch {
          /* nothing more to do: the cache is an optimisation */
        }
        return false;
      }
    },
  };
  publish(state);
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  if (!state.wantsSave) script = undefined;
  const load = (specifier: string): Promise<unknown> => import(specifier);
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle), load);
  return { exports: module.exports, state };
}
