/**
 * Checking arguments against the tools' annotations before a call is sent (the `checkArguments` pool
 * option): a wrong type becomes INVALID_ARGUMENTS naming the parameter, the expected type and what was
 * given, instead of a surprise deep in Python (`"3" * 3`, an AttributeError inside NumPy). Values are
 * judged by what they become in Python (docs/data.md): any integral number or bigint is an `int`.
 */

import type { TypeNode } from '../codegen/type-node.js';
import { InvalidArgumentsError } from '../errors.js';
import { Decimal } from '../protocol/decimal.js';
import { NDArray } from '../protocol/ndarray.js';
import type { ToolInfo } from './tools.js';

const MAX_ITEMS = 10_000; // a long list is checked in its first items only: the check stays cheap

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isBytes(v: unknown): boolean {
  return v instanceof Uint8Array || v instanceof ArrayBuffer || v instanceof DataView || (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer);
}

/** What was given, for the message: `"3" (string)`, `3.5 (number)`, `an array`. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return `${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)} (string)`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${String(v)} (${typeof v})`;
  if (typeof v === 'bigint') return `${v}n (bigint)`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof NDArray) return `an NDArray of dtype ${v.dtype}`;
  if (isPlainObject(v)) return 'an object';
  return `a ${(v as object).constructor?.name ?? typeof v}`;
}

/** Undefined when `value` fits `node`; else the path below the argument and the node it failed. */
function mismatch(value: unknown, node: TypeNode, at: string): { at: string; node: TypeNode; value: unknown } | undefined {
  const fail = { at, node, value };
  switch (node.kind) {
    case 'unknown':
    case 'ref':
    case 'iterator':
      return undefined;
    case 'int':
      return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint' ? undefined : fail;
    case 'float':
      return typeof value === 'number' || typeof value === 'bigint' ? undefined : fail;
    case 'str':
      return typeof value === 'string' ? undefined : fail;
    case 'bool':
      return typeof value === 'boolean' ? undefined : fail;
    case 'none':
      return value === null || value === undefined ? undefined : fail;
    case 'bytes':
      return isBytes(value) ? undefined : fail;
    case 'datetime':
    case 'date':
      return value instanceof Date ? undefined : fail;
    case 'decimal':
      // An integral number arrives as a Python int, which mixes with Decimal; a float does not.
      return value instanceof Decimal || typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)) ? undefined : fail;
    case 'ndarray':
      if (value instanceof NDArray) return node.dtype === null || value.dtype === node.dtype ? undefined : fail;
      return ArrayBuffer.isView(value) && !(value instanceof Uint8Array) && !(value instanceof DataView) ? undefined : fail;
    case 'list':
    case 'set': {
      const items = Array.isArray(value) ? value : node.kind === 'set' && value instanceof Set ? [...value] : undefined;
      if (items === undefined) return fail;
      for (let i = 0; i < Math.min(items.length, MAX_ITEMS); i++) {
        const bad = mismatch(items[i], node.item, `${at}[${i}]`);
        if (bad) return bad;
      }
      return undefined;
    }
    case 'tuple': {
      if (!Array.isArray(value) || value.length !== node.items.length) return fail;
      for (let i = 0; i < value.length; i++) {
        const bad = mismatch(value[i], node.items[i]!, `${at}[${i}]`);
        if (bad) return bad;
      }
      return undefined;
    }
    case 'dict': {
      if (value instanceof Map) {
        for (const [k, v] of value) {
          const bad = mismatch(k, node.key, `${at} key`) ?? mismatch(v, node.value, `${at}[${String(k)}]`);
          if (bad) return bad;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return fail;
      if (node.key.kind !== 'str' && node.key.kind !== 'unknown') return fail;
      for (const [k, v] of Object.entries(value)) {
        const bad = mismatch(v, node.value, `${at}.${k}`);
        if (bad) return bad;
      }
      return undefined;
    }
    case 'union':
      return node.options.some((o) => mismatch(value, o, at) === undefined) ? undefined : fail;
    case 'literal':
    case 'enum':
      return node.values.some((v) => v === value) ? undefined : fail;
    case 'object': {
      if (node.source === 'namedtuple') {
        if (!Array.isArray(value)) return fail;
        for (let i = 0; i < node.fields.length; i++) {
          const field = node.fields[i]!;
          if (i >= value.length) return field.required ? fail : undefined;
          const bad = mismatch(value[i], field.type, `${at}.${field.name}`);
          if (bad) return bad;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return fail;
      for (const field of node.fields) {
        const v = value[field.name];
        if (v === undefined) {
          if (field.required) return { at: `${at}.${field.name}`, node: field.type, value: v };
          continue;
        }
        const bad = mismatch(v, field.type, `${at}.${field.name}`);
        if (bad) return bad;
      }
      return undefined;
    }
  }
}

/** A short rendering of a type tree, for nested mismatches (the top level uses the Python text). */
function typeText(node: TypeNode): string {
  switch (node.kind) {
    case 'list':
    case 'set':
      return `${node.kind}[${typeText(node.item)}]`;
    case 'tuple':
      return `tuple[${node.items.map(typeText).join(', ')}]`;
    case 'dict':
      return `dict[${typeText(node.key)}, ${typeText(node.value)}]`;
    case 'union':
      return node.options.map(typeText).join(' | ');
    case 'literal':
      return `Literal[${node.values.map((v) => JSON.stringify(v)).join(', ')}]`;
    case 'enum':
      return `${node.name} (${node.values.map((v) => JSON.stringify(v)).join(', ')})`;
    case 'object':
    case 'ref':
      return node.name;
    case 'ndarray':
      return node.dtype === null ? 'ndarray' : `ndarray of ${node.dtype}`;
    case 'unknown':
      return node.text ?? 'Any';
    case 'iterator':
      return `Iterator[${typeText(node.item)}]`;
    default:
      return node.kind === 'none' ? 'None' : node.kind;
  }
}

/** Throws INVALID_ARGUMENTS for the first argument that does not fit its annotation. */
export function checkArguments(tool: ToolInfo, args: Record<string, unknown> | undefined): void {
  if (args === undefined) return;
  for (const p of tool.parameters) {
    const schema = p.schema;
    if (schema === undefined || schema.kind === 'unknown') continue;
    const value = args[p.name];
    if (value === undefined) continue; // missing ones are Python's to report (required or default)
    if (value === null && p.default === null) continue; // `x: str = None`
    const bad = mismatch(value, schema, p.name);
    if (bad === undefined) continue;
    const expected = bad.at === p.name ? (p.type ?? typeText(schema)) : typeText(bad.node);
    throw new InvalidArgumentsError(
      `tool ${tool.name}: argument ${bad.at} must be ${expected}, got ${describeValue(bad.value)}`,
      { tool: tool.name },
    );
  }
}
