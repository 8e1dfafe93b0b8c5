/**
 * A TypeScript client from the tool catalogue: one method per tool taking one object of keyword
 * arguments, typed from the Python annotations, with the docstrings as TSDoc. Streams return
 * `AsyncIterable<T>`. The file imports only types from `snakepit`, plus nothing at run time.
 */

import type { ToolInfo, ToolParameter } from '../pool/tools.js';
import { Declarations, docComment, identifier, propertyKey, renderType } from './render-type.js';
import { INT64_POLICIES, isInt64Policy, type Int64Policy } from '../protocol/int64.js';
import type { TypeNode } from './type-node.js';
import { InvalidArgumentsError, InvalidOptionsError } from '../errors.js';
import { describe } from '../option-checks.js';

export interface GenerateOptions {
  /** Shown in the header: where the catalogue came from. */
  readonly source: string;
  /** Module the generated file imports the library's types from. Default `snakepit`. */
  readonly importFrom?: string;
  /** How a Python `int` result is typed; match the pool's `int64` option. Default `number`. */
  readonly int64?: Int64Policy;
}

const UNKNOWN: TypeNode = { kind: 'unknown' };

/** The catalogue and options as `generateClient` needs them; INVALID_ARGUMENTS or INVALID_OPTIONS naming what is wrong. */
function checkGenerateArgs(tools: unknown, options: unknown): void {
  if (!Array.isArray(tools)) throw new InvalidArgumentsError(`generateClient needs the tool catalogue (pool.tools()), an array, got ${describe(tools)}`);
  for (const [i, tool] of tools.entries()) {
    const t = tool as Partial<ToolInfo> | null;
    if (typeof t !== 'object' || t === null || typeof t.name !== 'string' || !Array.isArray(t.parameters)) {
      throw new InvalidArgumentsError(`generateClient: catalogue entry ${i} is not a tool description (pool.tools() gives them)`);
    }
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionsError(`generateClient options must be an object ({ source }), got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  if (typeof o.source !== 'string') throw new InvalidOptionsError(`generateClient option source must be a string, got ${describe(o.source)}`);
  if (o.importFrom !== undefined && (typeof o.importFrom !== 'string' || o.importFrom === '')) {
    throw new InvalidOptionsError(`generateClient option importFrom must be a non-empty string, got ${describe(o.importFrom)}`);
  }
  if (o.int64 !== undefined && !isInt64Policy(o.int64)) {
    throw new InvalidOptionsError(`generateClient option int64 must be one of ${INT64_POLICIES.join(', ')}, got ${describe(o.int64)}`);
  }
}

/** The TypeScript name of a tool's argument type: `add_numbers` -> `AddNumbersArgs`. */
function argsTypeName(tool: string): string {
  const parts = tool.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return identifier(parts.map((p) => p[0]!.toUpperCase() + p.slice(1)).join('') || 'Tool') + 'Args';
}

function paramDoc(p: ToolParameter): string | undefined {
  if (p.default !== undefined) return `Default: \`${JSON.stringify(p.default)}\``;
  if (p.defaultRepr !== undefined) return `Default: \`${p.defaultRepr}\``;
  return undefined;
}

export function generateClient(tools: readonly ToolInfo[], options: GenerateOptions): string {
  checkGenerateArgs(tools, options);
  const sorted = [...tools].sort((a, b) => a.name.localeCompare(b.name));
  const usedArgNames = new Set<string>();
  const argNames = sorted.map((tool) => {
    let name = argsTypeName(tool.name);
    while (usedArgNames.has(name)) name = `_${name}`;
    usedArgNames.add(name);
    return name;
  });
  const decls = new Declarations(options.int64 ?? 'number', ['Client', 'createClient', ...usedArgNames]);
  const argTypes: string[] = [];
  const methods: string[] = [];
  const bodies: string[] = [];
  for (const [i, tool] of sorted.entries()) {
    const argsName = argNames[i]!;
    const lines: string[] = [];
    let anyRequired = false;
    for (const p of tool.parameters) {
      if (p.kind === 'var_positional') continue; // keyword arguments only
      if (p.kind === 'var_keyword') {
        lines.push(`  [key: string]: unknown;`);
        continue;
      }
      anyRequired ||= p.required;
      const type = renderType(p.schema ?? UNKNOWN, 'arg', decls);
      lines.push(docComment(paramDoc(p), '  ') + `  ${propertyKey(p.name)}${p.required ? '' : '?'}: ${type};`);
    }
    argTypes.push(`/** Keyword arguments of \`${tool.name}\`. */\nexport type ${argsName} = {${lines.length ? `\n${lines.join('\n')}\n` : ''}};\n`);
    const result = renderType(tool.returnsSchema ?? UNKNOWN, 'result', decls);
    const key = propertyKey(tool.name);
    const argsParam = `args${anyRequired ? '' : '?'}: ${argsName}`;
    const doc = docComment(tool.doc + (tool.stream ? `${tool.doc ? '\n\n' : ''}A stream: one chunk per value the generator yields.` : ''), '  ');
    const name = JSON.stringify(tool.name);
    if (tool.stream) {
      methods.push(`${doc}  ${key}(${argsParam}, options?: StreamOptions): AsyncIterable<${result}>;`);
      bodies.push(`    ${key}: (args, options) => target.stream<${result}>(${name}, args, options),`);
    } else {
      methods.push(`${doc}  ${key}(${argsParam}, options?: ExecuteOptions): Promise<${result}>;`);
      bodies.push(`    ${key}: (args, options) => target.execute<${result}>(${name}, args, options),`);
    }
  }
  const imports = ['ExecuteOptions', 'Pool', 'Session', 'StreamOptions', ...decls.imports].sort();
  return [
    `// Generated by \`snakepit codegen\` from ${options.source}. Do not edit: run \`snakepit codegen\` again.`,
    `// Python int results are typed as ${decls.int64 === 'auto' ? 'number | bigint' : decls.int64}: start the pool with { int64: '${decls.int64}' }.`,
    '/* eslint-disable */',
    `import type { ${imports.join(', ')} } from '${options.importFrom ?? 'snakepit'}';`,
    '',
    ...[...decls.byName.values()],
    ...argTypes,
    '/** One method per tool of the adapter. */',
    'export interface Client {',
    ...methods,
    '}',
    '',
    '/** The adapter\'s tools as typed methods, called through a pool or a session. */',
    'export function createClient(target: Pool | Session): Client {',
    '  return {',
    ...bodies,
    '  };',
    '}',
    '',
  ].join('\n');
}
