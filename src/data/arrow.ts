/**
 * Arrow tables: the optional `apache-arrow` package, loaded the first time a table crosses. Tables
 * travel as Arrow IPC stream bytes (an attachment when large); a received table is read over the
 * received bytes without another copy.
 *
 * Loading is synchronous (the codecs are), through `require`: of the package's ES module build where
 * Node can require ES modules (20.19 and later), so that tables are instances of the same classes as
 * those of an application that imports `apache-arrow`; of its CommonJS build otherwise. An application
 * whose copy of `apache-arrow` is another (a bundle, another version) registers it with `useArrow`.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EncodeError, InvalidArgumentsError } from '../errors.js';

/** The part of the `apache-arrow` module used here. */
export interface ArrowModule {
  Table: abstract new (...args: never[]) => object;
  tableFromIPC(bytes: Uint8Array): unknown;
  tableToIPC(table: never, type?: 'stream' | 'file'): Uint8Array;
  RecordBatchStreamWriter?: { writeAll(input: never): unknown };
}

const ARROW_MISSING = 'the apache-arrow package is not installed: install it with `npm install apache-arrow`';

let registered: ArrowModule[] = [];
let loaded: ArrowModule | null | undefined;
let resolvable: boolean | undefined;
let blocked = false;

const require = createRequire(import.meta.url);

/** Is `apache-arrow` available (registered, or installed where this library can resolve it)? */
export function arrowAvailable(): boolean {
  if (blocked) return false;
  if (registered.length > 0 || loaded) return true;
  resolvable ??= installedBeside() || resolves();
  return resolvable;
}

/**
 * Is the package in a `node_modules` folder that `require` searches? A few file checks: the first
 * `require.resolve` of a process costs over a millisecond (the resolver's code, package.json reads),
 * and this runs before the first worker is spawned. `resolves` stays the answer when it is not found
 * there (NODE_PATH, global folders).
 */
function installedBeside(): boolean {
  return (require.resolve.paths('apache-arrow') ?? []).some((dir) => existsSync(join(dir, 'apache-arrow', 'package.json')));
}

function resolves(): boolean {
  try {
    require.resolve('apache-arrow');
    return true;
  } catch {
    return false;
  }
}

function load(): ArrowModule | null {
  if (blocked) return null;
  if (registered.length > 0) return registered[0]!;
  if (loaded !== undefined) return loaded;
  let entry: string;
  try {
    entry = require.resolve('apache-arrow');
  } catch {
    resolvable = false;
    loaded = null;
    return null;
  }
  const esm = join(dirname(entry), 'Arrow.node.mjs');
  try {
    loaded = require(esm) as ArrowModule;
  } catch {
    loaded = require(entry) as ArrowModule;
  }
  return loaded;
}

/** The loaded `apache-arrow` module; throws Error naming what to install when it is missing. */
function arrowModule(): ArrowModule {
  const mod = load();
  if (mod === null) throw new Error(ARROW_MISSING);
  return mod;
}

/**
 * Uses this `apache-arrow` module (`import * as arrow from 'apache-arrow'; useArrow(arrow)`) for the
 * tables received from now on and to recognise the tables sent: for an application whose copy of the
 * package is not the one this library resolves (a bundle, a CommonJS application, another version).
 */
export function useArrow(module: ArrowModule): void {
  if (typeof module?.tableFromIPC !== 'function' || typeof module.tableToIPC !== 'function' || typeof module.Table !== 'function') {
    throw new InvalidArgumentsError('useArrow needs the apache-arrow module (import * as arrow from "apache-arrow")');
  }
  registered = [module, ...registered.filter((m) => m !== module)];
}

/** For tests: behave as if `apache-arrow` were not installed (true), or as normal again (false). */
export function blockArrowForTesting(block: boolean): void {
  blocked = block;
}

function looksLikeTable(value: object): boolean {
  const ctor = (value as { constructor?: { name?: string } }).constructor;
  return ctor?.name === 'Table' && 'schema' in value && 'batches' in value;
}

function loadCommonJs(): ArrowModule | undefined {
  try {
    return require(require.resolve('apache-arrow')) as ArrowModule;
  } catch {
    return undefined;
  }
}

/**
 * The module whose Table class made `value` (its constructor exactly: the writer of another copy of
 * the package would not recognise its column types). Never loads the package for a plain value.
 */
function moduleOf(value: object): ArrowModule | undefined {
  const ctor = (value as { constructor?: unknown }).constructor;
  for (const mod of registered) if (ctor === mod.Table) return mod;
  if (loaded && ctor === loaded.Table) return loaded;
  if (!looksLikeTable(value)) return undefined;
  const mod = load();
  if (mod && ctor === mod.Table) return mod;
  const cjs = loadCommonJs();
  return cjs && ctor === cjs.Table ? cjs : undefined;
}

/** Is this an Arrow table (of any copy of apache-arrow)? */
export function isArrowTable(value: object): boolean {
  return moduleOf(value) !== undefined || looksLikeTable(value);
}

function writerOf(table: object): ArrowModule {
  const mod = moduleOf(table);
  if (mod === undefined) {
    throw new EncodeError(
      'cannot encode an Arrow Table made by a copy of apache-arrow that snakepit did not load: ' +
        "register that copy with useArrow (import * as arrow from 'apache-arrow'; useArrow(arrow))",
    );
  }
  return mod;
}

/** The pieces of one Arrow IPC stream, to be written back to back. */
export class IpcParts {
  readonly byteLength: number;
  constructor(readonly parts: readonly Uint8Array[]) {
    let n = 0;
    for (const p of parts) n += p.byteLength;
    this.byteLength = n;
  }
}

/**
 * The table as the pieces of an Arrow IPC stream: apache-arrow's stream writer produces the
 * messages' metadata and views of the column buffers, which are sent as they are (no copy). Falls
 * back to one serialised buffer (`tableToIPC`) when the writer does not expose its pieces.
 */
export function tableToIpcParts(table: object): IpcParts {
  const mod = writerOf(table);
  const writer = mod.RecordBatchStreamWriter?.writeAll(table as never) as { _sink?: { _values?: unknown } } | undefined;
  const values = writer?._sink?._values;
  if (Array.isArray(values) && values.length > 0 && values.every((v) => v instanceof Uint8Array)) {
    return new IpcParts([...(values as Uint8Array[])]);
  }
  return new IpcParts([mod.tableToIPC(table as never, 'stream')]);
}

/** The table as Arrow IPC stream bytes in one buffer. */
export function tableToIpc(table: object): Uint8Array {
  return writerOf(table).tableToIPC(table as never, 'stream');
}

/** The table of Arrow IPC stream bytes, read without copying them. Throws Error when apache-arrow is missing. */
export function tableFromIpc(bytes: Uint8Array): unknown {
  return arrowModule().tableFromIPC(bytes);
}
