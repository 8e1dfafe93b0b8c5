/**
 * A type tree (type-node.ts) as TypeScript type text. Arguments and results differ where the wire
 * mapping differs (docs/data.md): an argument `int` accepts a bigint too, a `set` accepts an array,
 * bytes accept any Uint8Array; a result `int` follows the int64 policy. Named types (enums, objects)
 * are collected as declarations and referred to by name.
 */

import { DTYPES, type DType } from '../protocol/dtypes.js';
import type { Int64Policy } from '../protocol/int64.js';
import type { ObjectField, TypeNode } from './type-node.js';

export type { Int64Policy } from '../protocol/int64.js';
export type Direction = 'arg' | 'result';

/** A dtype name NDArray knows (src/protocol/dtypes.ts): its TypeScript type parameter. */
function knownDType(name: string): boolean {
  return DTYPES.has(name as DType) || name === 'bfloat16' || /^(datetime64|timedelta64)\[(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\]$/.test(name);
}

/** Declarations of named types met while rendering, by name, in the order first met. */
export class Declarations {
  readonly byName = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  /** Runtime names the file must import as types (`NDArray`, `Decimal`). */
  readonly imports = new Set<string>();
  /** Named types being rendered (a `ref` inside one means that one: a recursive type). */
  private readonly rendering: { readonly py: string; readonly declared: string }[] = [];

  /** Names the file declares or imports itself: a Python class of that name gets a number. */
  private readonly reserved: Set<string>;

  constructor(readonly int64: Int64Policy, reserved: Iterable<string> = []) {
    this.reserved = new Set(['Pool', 'Session', 'ExecuteOptions', 'StreamOptions', 'CallOptions', 'NDArray', 'Decimal', ...reserved]);
  }

  /** The declared name of a named node; declares it on first sight (same name, other shape: a suffix). */
  name(node: TypeNode & { name: string }, render: (declared: string) => string): string {
    const key = JSON.stringify(node);
    const known = this.keys.get(key);
    if (known !== undefined) return known;
    let name = identifier(node.name);
    for (let i = 2; this.byName.has(name) || this.reserved.has(name); i++) name = `${identifier(node.name)}${i}`;
    this.keys.set(key, name);
    this.byName.set(name, ''); // reserved before rendering
    this.rendering.push({ py: node.name, declared: name });
    try {
      this.byName.set(name, render(name));
    } finally {
      this.rendering.pop();
    }
    return name;
  }

  /** The declared name for a `ref` node: the enclosing type of that Python name being rendered. */
  ref(name: string): string {
    for (let i = this.rendering.length - 1; i >= 0; i--) if (this.rendering[i]!.py === name) return this.rendering[i]!.declared;
    const id = identifier(name);
    return this.byName.has(id) ? id : 'unknown';
  }
}

export function identifier(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

/** `name` as a property key: bare when it is an identifier, quoted otherwise. */
export function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

export function docComment(text: string | undefined, indent: string): string {
  if (text === undefined || text.trim() === '') return '';
  const lines = text.replace(/\*\//g, '*\\/').split('\n');
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function literal(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  return 'unknown';
}

function group(text: string): string {
  return /[|&]/.test(text) && !/^[[({]/.test(text) ? `(${text})` : text;
}

export function renderType(node: TypeNode, dir: Direction, decls: Declarations): string {
  switch (node.kind) {
    case 'int':
      if (dir === 'arg') return 'number | bigint';
      return decls.int64 === 'bigint' ? 'bigint' : decls.int64 === 'auto' ? 'number | bigint' : 'number';
    case 'float':
      return 'number';
    case 'str':
      return 'string';
    case 'bool':
      return 'boolean';
    case 'none':
      return 'null';
    case 'bytes':
      return 'Uint8Array';
    case 'datetime':
    case 'date':
      return 'Date';
    case 'decimal':
      decls.imports.add('Decimal');
      return 'Decimal';
    case 'unknown':
      return 'unknown';
    case 'list': {
      const item = group(renderType(node.item, dir, decls));
      return dir === 'arg' ? `readonly ${item}[]` : `${item}[]`;
    }
    case 'set': {
      const item = renderType(node.item, dir, decls);
      return dir === 'arg' ? `ReadonlySet<${item}> | readonly ${group(item)}[]` : `Set<${item}>`;
    }
    case 'tuple': {
      const items = node.items.map((i) => renderType(i, dir, decls)).join(', ');
      return dir === 'arg' ? `readonly [${items}]` : `[${items}]`;
    }
    case 'dict': {
      const value = renderType(node.value, dir, decls);
      if (node.key.kind === 'str') return `Record<string, ${value}>`;
      const key = renderType(node.key, dir, decls);
      return dir === 'arg' ? `ReadonlyMap<${key}, ${value}>` : `Map<${key}, ${value}>`;
    }
    case 'union': {
      const parts = [...new Set(node.options.map((o) => renderType(o, dir, decls)))];
      return parts.includes('unknown') ? 'unknown' : parts.join(' | ');
    }
    case 'literal':
      return node.values.length === 0 ? 'never' : [...new Set(node.values.map(literal))].join(' | ');
    case 'enum':
      return decls.name(node, (declared) => {
        const values = node.values.map(literal);
        return `/** The values of the Python enum ${node.name}. */\nexport type ${declared} = ${values.join(' | ') || 'never'};\n`;
      });
    case 'object':
      // Arguments and results share one declaration, written as a result (what Python sends back).
      return decls.name(node, (declared) => renderObject(declared, node.name, node.source, node.doc, node.fields, 'result', decls));
    case 'ref':
      return decls.ref(node.name);
    case 'ndarray':
      decls.imports.add('NDArray');
      return node.dtype !== null && knownDType(node.dtype) ? `NDArray<'${node.dtype}'>` : 'NDArray';
    case 'iterator':
      return dir === 'arg' ? 'unknown' : `${group(renderType(node.item, dir, decls))}[]`;
  }
}

function renderObject(
  name: string,
  pyName: string,
  source: string,
  doc: string | undefined,
  fields: readonly ObjectField[],
  dir: Direction,
  decls: Declarations,
): string {
  const head = docComment(doc || `The Python ${source} ${pyName}.`, '');
  if (source === 'namedtuple') {
    // A NamedTuple is a tuple on the wire: an array, in field order.
    const items = fields.map((f) => `${propertyKey(f.name)}${f.required ? '' : '?'}: ${renderType(f.type, dir, decls)}`);
    return `${head}export type ${name} = [${items.join(', ')}];\n`;
  }
  const body = fields.map((f) => `  ${propertyKey(f.name)}${f.required ? '' : '?'}: ${renderType(f.type, dir, decls)};`);
  return `${head}export interface ${name} {\n${body.join('\n')}\n}\n`;
}
