/** The tool catalogue as the pool exposes it. */

import type { TypeNode } from '../codegen/type-node.js';
import type { WireTool } from '../protocol/messages.js';

export interface ToolParameter {
  readonly name: string;
  /** The Python annotation as text (`int`, `list[str]`), or null. */
  readonly type: string | null;
  readonly required: boolean;
  /** `positional_or_keyword`, `keyword_only`, `var_keyword`, ... */
  readonly kind: string;
  /** The default when it is a plain value (null, boolean, number, string). */
  readonly default?: unknown;
  /** `repr()` of any other default. */
  readonly defaultRepr?: string;
  /** The annotation's type tree; present when the pool was started with `types: true` or `checkArguments`. */
  readonly schema?: TypeNode;
}

export interface ToolInfo {
  readonly name: string;
  readonly doc: string;
  readonly parameters: readonly ToolParameter[];
  readonly returns: string | null;
  readonly async: boolean;
  /** A generator: consume it with `pool.stream`. */
  readonly stream: boolean;
  /** The result's type tree (a generator's: each chunk's); present with `types: true` or `checkArguments`. */
  readonly returnsSchema?: TypeNode;
  /** Dynamic batching declared by the tool (`@tool(batch=Batch(...))`): see docs/serving.md. */
  readonly batch?: { readonly maxSize: number; readonly maxWaitMs: number };
  /** Result caching declared by the tool (`@tool(cache=Cache(...))`): see docs/serving.md. */
  readonly cache?: { readonly ttlMs: number; readonly maxEntries: number };
}

export function toolInfo(wire: WireTool): ToolInfo {
  return Object.freeze({
    name: wire.name,
    doc: wire.doc,
    returns: wire.returns,
    async: wire.async,
    stream: wire.stream,
    ...(wire.returns_schema !== undefined && wire.returns_schema !== null ? { returnsSchema: wire.returns_schema as TypeNode } : {}),
    ...(wire.batch !== undefined ? { batch: Object.freeze({ maxSize: wire.batch.max_size, maxWaitMs: wire.batch.max_wait_ms }) } : {}),
    ...(wire.cache !== undefined ? { cache: Object.freeze({ ttlMs: wire.cache.ttl_s * 1000, maxEntries: wire.cache.max_entries }) } : {}),
    parameters: Object.freeze(
      wire.params.map((p) =>
        Object.freeze({
          name: p.name,
          type: p.type,
          required: p.required,
          kind: p.kind,
          ...('default' in p ? { default: p.default } : {}),
          ...(p.default_repr !== undefined ? { defaultRepr: p.default_repr } : {}),
          ...(p.schema !== undefined && p.schema !== null ? { schema: p.schema as TypeNode } : {}),
        }),
      ),
    ),
  });
}
