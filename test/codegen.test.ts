/**
 * Generated clients: `snakepit codegen` on an adapter using every annotation form; the file compiles
 * under strict, a misuse fails to compile with the expected errors, and the client calls the pool.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './cli-helpers.js';
import { fixture, ROOT, withPool } from './helpers.js';

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function tsc(dir: string, files: string[]): { code: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [TSC, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
      '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), ...files],
    { cwd: dir, encoding: 'utf8' },
  );
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('codegen', () => {
  let dir: string;
  let client: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'snakepit-codegen-'));
    const r = cli(['codegen', fixture('typed_tools.py'), '-o', path.join(dir, 'client.ts'), '--import-from', path.join(ROOT, 'src', 'index.js')]);
    assert.equal(r.code, 0, r.stderr);
    client = readFileSync(path.join(dir, 'client.ts'), 'utf8');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every annotation form maps to its TypeScript type', () => {
    const expect = [
      'add(args: AddArgs, options?: ExecuteOptions): Promise<number>;',
      '  a: number | bigint;\n  /** Default: `2` */\n  b?: number | bigint;',
      '  value: unknown;', // unannotated: unknown, never any
      'untyped_stream(args: UntypedStreamArgs, options?: StreamOptions): AsyncIterable<unknown>;',
      '  pair: readonly [number | bigint, string];',
      '  many: readonly (number | bigint)[];',
      '  mapping: Record<string, number | bigint>;',
      '  unique: ReadonlySet<string> | readonly string[];',
      '  maybe?: string | null;',
      '  either?: number | bigint | string;',
      '  mode?: "fast" | "slow";',
      'export type Color = "red" | "green";',
      '/** A film, as a TypedDict. */\nexport interface Movie {\n  title?: string;\n  year?: number;\n}',
      'export interface Point {\n  x: number;\n  y: number;\n  label?: string;\n  tags?: string[];\n}',
      'export type Pair = [left: number, right?: string];',
      'export interface User {\n  name: string;\n  age?: number | null;\n  friends?: User[];\n}',
      'pydantic_user(args: PydanticUserArgs, options?: ExecuteOptions): Promise<User | null>;',
      "  a: NDArray<'float32'>;\n  b: NDArray;",
      "arrays(args: ArraysArgs, options?: ExecuteOptions): Promise<NDArray<'int64'>>;",
      '  when: Date;\n  day: Date;\n  amount: Decimal;\n  raw: Uint8Array;',
      'count(args: CountArgs, options?: StreamOptions): AsyncIterable<number>;',
      'words(args: WordsArgs, options?: StreamOptions): AsyncIterable<string>;',
      'nothing(args?: NothingArgs, options?: ExecuteOptions): Promise<null>;',
      '   * Add two integers.\n   *\n   * Returns their sum.\n',
      'export function createClient(target: Pool | Session): Client {',
    ];
    for (const text of expect) assert.ok(client.includes(text), `missing:\n${text}`);
    assert.ok(!/\bany\b/.test(client.replace(/anything/g, '')), 'the client never uses any');
    assert.ok(!client.includes('ctx'), 'ctx is left out');
  });

  test('the client compiles under strict; a wrong tool name, a missing argument and a wrong type do not', () => {
    writeFileSync(
      path.join(dir, 'good.ts'),
      `import { createClient } from './client.js';
declare const target: Parameters<typeof createClient>[0];
const c = createClient(target);
export async function f(): Promise<number> {
  for await (const n of c.count({ n: 3 })) void (n satisfies number);
  const p = await c.objects({ movie: { title: 'x' }, point: { x: 1, y: 2 }, pair: [1, 'r'], user: {} });
  await c.shapes({ pair: [1, 'a'], many: [1, 2n], mapping: { a: 1 }, unique: new Set(['a']), mode: 'slow', color: 'green' });
  await c.nothing();
  return (await c.add({ a: 1 })) + p.x;
}
`,
    );
    writeFileSync(
      path.join(dir, 'wrong.ts'),
      `import { createClient } from './client.js';
declare const target: Parameters<typeof createClient>[0];
const c = createClient(target);
export async function f(): Promise<void> {
  await c.predcit({ a: 1 });
  await c.add({});
  await c.add({ a: 'three' });
  await c.shapes({ pair: [1, 'a'], many: [], mapping: {}, unique: [], mode: 'medium' });
}
`,
    );
    // One compiler run: the client and the right use compile clean, the misuse fails as expected.
    const wrong = tsc(dir, ['client.ts', 'good.ts', 'wrong.ts']);
    assert.equal(wrong.code, 2);
    assert.doesNotMatch(wrong.out, /(client|good)\.ts\(/, wrong.out);
    assert.match(wrong.out, /wrong\.ts\(5,\d+\): error TS2339: Property 'predcit' does not exist on type 'Client'/);
    assert.match(wrong.out, /wrong\.ts\(6,\d+\): error TS2345: .*\n\s+Property 'a' is missing in type '\{\}' but required in type 'AddArgs'/);
    assert.match(wrong.out, /wrong\.ts\(7,\d+\): error TS2322: Type 'string' is not assignable to type 'number \| bigint'/);
    assert.match(wrong.out, /wrong\.ts\(8,\d+\): error TS2322: Type '"medium"' is not assignable to type '"fast" \| "slow"/);
    assert.equal(wrong.out.match(/error TS/g)?.length, 4, wrong.out);
  });

  test('the generated client calls the pool and a session', async () => {
    const { createClient } = (await import(path.join(dir, 'client.ts'))) as typeof import('./fixtures/typed-client-shape.js');
    await withPool({ adapter: fixture('typed_tools.py') }, async (pool) => {
      const c = createClient(pool);
      assert.equal(await c.add({ a: 1, b: 5 }), 6);
      const seen: number[] = [];
      for await (const n of c.count({ n: 3 })) seen.push(n);
      assert.deepEqual(seen, [0, 1, 2]);
      const session = pool.session();
      assert.equal(await createClient(session).add({ a: 2 }), 4);
      await session.close();
    });
  });

  test('--check: 0 when up to date, 1 when stale or missing', () => {
    const out = path.join(dir, 'client.ts');
    const args = ['codegen', fixture('typed_tools.py'), '-o', out, '--import-from', path.join(ROOT, 'src', 'index.js'), '--check'];
    const fresh = cli(args);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout, /is up to date/);
    appendFileSync(out, '// edited\n');
    const stale = cli(args);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /is stale: run snakepit codegen/);
    const missing = cli(['codegen', fixture('typed_tools.py'), '-o', path.join(dir, 'none.ts'), '--check']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /is missing/);
    assert.equal(cli(['codegen', fixture('typed_tools.py'), '--check']).code, 2);
  });

  test('--module: typed wrappers for a library module, called through python.call', async () => {
    const out = path.join(dir, 'linalg.ts');
    const r = cli(['codegen', '--module', 'numpy.linalg', '-o', out, '--import-from', path.join(ROOT, 'src', 'index.js')]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /\/\*\* Compute the determinant of an array\. \*\/\n {2}det\(args: NumpyLinalgDetArgs, options\?: CallOptions\): Promise<unknown>;/);
    // Types from numpy's shipped .pyi stubs, overloads merged.
    // The members of a generated union, in any order: numpy's stubs order their overloads by version
    // (2.5 also lists some integers as literals of norm's `ord`).
    const unionOf = (re: RegExp): string[] => {
      const m = re.exec(text);
      assert.ok(m, `${re} not in the generated module`);
      return m[1]!.split(' | ');
    };
    const ord = unionOf(/export type NumpyLinalgNormArgs = \{\n {2}x: unknown;\n {2}\/\*\* Default: `null` \*\/\n {2}ord\?: ([^;\n]+);/);
    for (const t of ['number', '"fro"', '"nuc"', 'null']) assert.ok(ord.includes(t), `ord: ${ord.join(' | ')}`);
    const inv = unionOf(/inv\(args: NumpyLinalgInvArgs, options\?: CallOptions\): Promise<([^;\n]+)>;/);
    for (const t of ["NDArray<'float64'>", 'NDArray']) assert.ok(inv.includes(t), `inv: ${inv.join(' | ')}`);
    writeFileSync(path.join(dir, 'use-linalg.ts'), `import { createNumpyLinalg } from './linalg.js';
declare const target: Parameters<typeof createNumpyLinalg>[0];
export const p = createNumpyLinalg(target).det({ a: [[1, 2], [3, 4]] });
export const wrong = createNumpyLinalg(target).dett({ a: 1 });
export const missing = createNumpyLinalg(target).det({});
export const badOrd = createNumpyLinalg(target).norm({ x: [1], ord: 'max' });
`);
    const compiled = tsc(dir, ['linalg.ts', 'use-linalg.ts']);
    assert.match(compiled.out, /use-linalg\.ts\(4,\d+\): error TS2551: Property 'dett' does not exist/);
    assert.match(compiled.out, /use-linalg\.ts\(5,\d+\): error TS2345: .*\n\s+Property 'a' is missing/);
    assert.match(compiled.out, /use-linalg\.ts\(6,\d+\): error TS2322: Type '"max"' is not assignable/);
    assert.equal(compiled.out.match(/error TS/g)?.length, 3, compiled.out);
    const { createNumpyLinalg } = (await import(out)) as { createNumpyLinalg: (t: unknown) => Record<string, (a: object) => Promise<unknown>> };
    await withPool({ adapter: fixture('typed_tools.py'), allow: ['numpy.linalg.*'] }, async (pool) => {
      const linalg = createNumpyLinalg(pool);
      assert.ok(Math.abs((await linalg.det!({ a: [[1, 2], [3, 4]] })) as number + 2) < 1e-9);
      assert.equal(await linalg.norm!({ x: [3, 4] }), 5);
      // cholesky's `a` is positional-only: passed by position.
      const l = (await linalg.cholesky!({ a: [[4, 0], [0, 9]] })) as { data: Float64Array };
      assert.deepEqual([...l.data], [2, 0, 0, 3]);
    });
  });
});
