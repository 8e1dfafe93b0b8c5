/** The client generator on hand-made catalogues: names, collisions, keyword-only shapes. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateClient } from '../src/codegen/generate.js';
import type { ToolInfo } from '../src/pool/tools.js';

function tool(name: string, parameters: ToolInfo['parameters'], extra: Partial<ToolInfo> = {}): ToolInfo {
  return { name, doc: '', parameters, returns: null, async: false, stream: false, ...extra };
}

describe('generateClient', () => {
  test('tool names that are not identifiers are quoted; **kwargs opens the argument type; *args is left out', () => {
    const text = generateClient(
      [
        tool('do-thing', [
          { name: 'a', type: 'int', required: true, kind: 'positional_or_keyword', schema: { kind: 'int' } },
          { name: 'rest', type: null, required: false, kind: 'var_positional' },
          { name: 'extra', type: null, required: false, kind: 'var_keyword' },
        ]),
      ],
      { source: 'x.py' },
    );
    assert.match(text, /"do-thing"\(args: DoThingArgs, options\?: ExecuteOptions\): Promise<unknown>;/);
    assert.match(text, /export type DoThingArgs = \{\n {2}a: number \| bigint;\n {2}\[key: string\]: unknown;\n\};/);
    assert.ok(!text.includes('rest'));
    assert.match(text, /"do-thing": \(args, options\) => target\.execute<unknown>\("do-thing", args, options\),/);
  });

  test('two classes of one name and different shapes get numbered names; the same class is declared once', () => {
    const a = { kind: 'object', name: 'Point', source: 'dataclass', fields: [{ name: 'x', type: { kind: 'float' }, required: true }] } as const;
    const b = {
      kind: 'object',
      name: 'Point',
      source: 'typeddict',
      fields: [{ name: 'lat', type: { kind: 'float' }, required: true }, { name: 'near', type: { kind: 'list', item: { kind: 'ref', name: 'Point' } }, required: false }],
    } as const;
    const text = generateClient(
      [
        tool('f', [{ name: 'p', type: 'Point', required: true, kind: 'positional_or_keyword', schema: a }], { returnsSchema: a }),
        tool('g', [{ name: 'p', type: 'Point', required: true, kind: 'positional_or_keyword', schema: b }]),
      ],
      { source: 'x.py' },
    );
    assert.equal(text.match(/export interface Point \{/g)?.length, 1);
    assert.match(text, /export interface Point2 \{\n {2}lat: number;\n {2}near\?: Point2\[\];\n\}/);
    assert.match(text, /f\(args: FArgs, options\?: ExecuteOptions\): Promise<Point>;/);
    assert.match(text, / {2}p: Point2;/);
  });

  test('int64 policy types int results; the output is stable (sorted, no timestamp)', () => {
    const tools = [tool('b', [], { returnsSchema: { kind: 'int' } }), tool('a', [], { returnsSchema: { kind: 'list', item: { kind: 'int' } } })];
    const number = generateClient(tools, { source: 's' });
    assert.match(number, /a\(args\?: AArgs, options\?: ExecuteOptions\): Promise<number\[\]>;\n {2}b\(/);
    assert.match(generateClient(tools, { source: 's', int64: 'bigint' }), /b\(args\?: BArgs, options\?: ExecuteOptions\): Promise<bigint>;/);
    assert.match(generateClient(tools, { source: 's', int64: 'auto' }), /Promise<\(number \| bigint\)\[\]>/);
    assert.equal(generateClient([...tools].reverse(), { source: 's' }), number);
  });

  test('a Python class named like a generated declaration gets a number', () => {
    const client = { kind: 'object', name: 'Client', source: 'dataclass', fields: [{ name: 'id', type: { kind: 'int' }, required: true }] } as const;
    const args = { kind: 'enum', name: 'FArgs', values: ['a'] } as const;
    const text = generateClient([tool('f', [{ name: 'c', type: 'Client', required: true, kind: 'positional_or_keyword', schema: client }, { name: 'e', type: null, required: true, kind: 'positional_or_keyword', schema: args }])], { source: 's' });
    assert.match(text, /export interface Client2 \{/);
    assert.match(text, /export type FArgs2 = "a";/);
    assert.match(text, /export type FArgs = \{\n {2}c: Client2;\n {2}e: FArgs2;\n\};/);
  });

  test('NDArray takes the dtypes NDArray knows as its type parameter, others stay generic', () => {
    const arr = (dtype: string | null) => tool(`t_${String(dtype).replace(/\W/g, '')}`, [], { returnsSchema: { kind: 'ndarray', dtype } });
    const text = generateClient([arr('float16'), arr('datetime64[ns]'), arr('object'), arr(null)], { source: 's' });
    assert.match(text, /Promise<NDArray<'float16'>>/);
    assert.match(text, /Promise<NDArray<'datetime64\[ns\]'>>/);
    assert.equal(text.match(/Promise<NDArray>;/g)?.length, 2);
  });
});
