/**
 * The OpenAPI 3.1 document of a gateway, generated from the pool's tool catalogue: one operation per
 * tool, its request body from the parameters, its response from the return annotation, streams as
 * server-sent events, errors as problem details. Python annotations map to JSON Schema as the JSON
 * codec carries values (docs/data.md); an annotation it cannot read becomes `{}` (any value).
 */

import type { ToolInfo } from '../../pool/tools.js';

type Schema = Record<string, unknown>;

const SIMPLE: Record<string, Schema> = {
  int: { type: 'integer' },
  float: { type: 'number' },
  complex: {},
  str: { type: 'string' },
  bool: { type: 'boolean' },
  None: { type: 'null' },
  NoneType: { type: 'null' },
  bytes: { type: 'object', properties: { $bytes: { type: 'string', contentEncoding: 'base64' } }, required: ['$bytes'] },
  bytearray: { type: 'object', properties: { $bytes: { type: 'string', contentEncoding: 'base64' } }, required: ['$bytes'] },
  datetime: { type: 'string', format: 'date-time' },
  date: { type: 'string', format: 'date' },
  Decimal: { type: 'string' },
  list: { type: 'array' },
  tuple: { type: 'array' },
  set: { type: 'array' },
  frozenset: { type: 'array' },
  dict: { type: 'object' },
  Any: {},
  object: {},
};

/** Splits `a, b[c, d], e` at top-level commas. */
function splitTop(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[' || ch === '(') depth++;
    else if (ch === ']' || ch === ')') depth--;
    else if (depth === 0 && text.startsWith(sep, i)) {
      out.push(text.slice(start, i).trim());
      start = i + sep.length;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/** JSON Schema of a Python annotation as written (`list[int]`, `Optional[str]`, `int | None`). */
export function schemaOf(annotation: string | null): Schema {
  if (annotation === null) return {};
  const text = annotation.trim().replace(/^typing\./, '');
  const union = splitTop(text, '|');
  if (union.length > 1) return { anyOf: union.map(schemaOf) };
  const m = /^([\w.]+)\[(.*)\]$/s.exec(text);
  if (m === null) return SIMPLE[text.split('.').pop()!] ?? {};
  const head = m[1]!.split('.').pop()!;
  const args = splitTop(m[2]!, ',');
  switch (head) {
    case 'list':
    case 'List':
    case 'set':
    case 'Set':
    case 'frozenset':
    case 'Sequence':
    case 'Iterable':
      return { type: 'array', items: schemaOf(args[0] ?? null) };
    case 'tuple':
    case 'Tuple':
      if (args.length === 2 && args[1] === '...') return { type: 'array', items: schemaOf(args[0]!) };
      return { type: 'array', prefixItems: args.map(schemaOf), minItems: args.length, maxItems: args.length };
    case 'dict':
    case 'Dict':
    case 'Mapping':
      return { type: 'object', additionalProperties: schemaOf(args[1] ?? null) };
    case 'Optional':
      return { anyOf: [schemaOf(args[0] ?? null), { type: 'null' }] };
    case 'Union':
      return { anyOf: args.map(schemaOf) };
    case 'Literal':
      return { enum: args.map((a) => (/^['"]/.test(a) ? a.slice(1, -1) : a === 'None' ? null : a === 'True' ? true : a === 'False' ? false : Number(a))) };
    case 'Generator':
    case 'Iterator':
    case 'AsyncGenerator':
    case 'AsyncIterator':
      return schemaOf(args[0] ?? null);
    default:
      return {};
  }
}

function requestSchema(tool: ToolInfo): Schema {
  if (tool.batch !== undefined || tool.parameters.some((p) => p.kind === 'var_keyword')) return { type: 'object' };
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const p of tool.parameters) {
    if (p.kind === 'var_positional') continue;
    const s = schemaOf(p.type);
    properties[p.name] = 'default' in p ? { ...s, default: p.default } : s;
    if (p.required) required.push(p.name);
  }
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false };
}

const PROBLEM = { $ref: '#/components/schemas/Problem' };
const ERROR_RESPONSES = Object.fromEntries(
  [
    ['400', 'invalid arguments or options'],
    ['401', 'missing or unknown credentials'],
    ['404', 'no such tool'],
    ['413', 'payload over the limit'],
    ['429', 'a quota of the tenant refused the call'],
    ['500', 'the Python tool raised'],
    ['503', 'the pool is saturated, failed, closed or draining'],
    ['504', 'the deadline passed'],
  ].map(([status, description]) => [status, { description, content: { 'application/problem+json': { schema: PROBLEM } } }]),
);

export function openApiDocument(tools: readonly ToolInfo[], info: { title: string; version: string }): Schema {
  const paths: Record<string, Schema> = {};
  for (const tool of tools) {
    const result = schemaOf(tool.returns);
    const content: Schema = tool.stream
      ? {
          'text/event-stream': { schema: { type: 'string', description: 'one `chunk` event per value (JSON), then `end`; `error` with a problem' } },
          'application/json': { schema: { type: 'array', items: result } },
        }
      : { 'application/json': { schema: result } };
    paths[`/v1/tools/${encodeURIComponent(tool.name)}`] = {
      post: {
        operationId: tool.name,
        summary: tool.doc.split('\n')[0] || tool.name,
        ...(tool.doc ? { description: tool.doc } : {}),
        requestBody: { required: false, content: { 'application/json': { schema: requestSchema(tool) } } },
        responses: { '200': { description: tool.stream ? 'the chunks of the stream' : 'the result', content }, ...ERROR_RESPONSES },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
          },
          required: ['type', 'title', 'status', 'code'],
        },
      },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    },
  };
}
