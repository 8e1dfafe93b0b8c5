/**
 * The pool's tool catalogue, learnt from the first worker's `hello`, and the admission checks it
 * answers: is the tool known, are the arguments keyword arguments, is it called the way it streams.
 */

import { InvalidArgumentsError, NotStreamingError, ToolNotFoundError } from '../errors.js';
import type { HelloInfo } from '../protocol/messages.js';
import { toolInfo, type ToolInfo } from './tools.js';

/** The catalogue entry of the built-in tools (`$python.*`, `$ref.*`), which are never streams. */
const BUILTIN_INFO: ToolInfo = Object.freeze({ name: '$builtin', doc: '', parameters: [], returns: null, async: false, stream: false });

let jsonFallbackWarned = false;

export class Catalogue {
  private readonly tools = new Map<string, ToolInfo>();

  /** Learn the tools from a ready worker's hello (the first one), and warn once of a JSON fallback. */
  learn(info: HelloInfo, preferredCodec: string | undefined, python: string): void {
    if (this.tools.size === 0) {
      for (const tool of info.tools) this.tools.set(tool.name, toolInfo(tool));
    }
    if (info.codec === 'json' && preferredCodec === 'msgpack' && !jsonFallbackWarned) {
      jsonFallbackWarned = true;
      process.emitWarning(
        `the worker's Python (${python}) has no msgpack module; using the slower JSON codec. ` +
          'Install msgpack in that environment for native binary transfer.',
        { code: 'SNAKEPIT_JSON_FALLBACK' },
      );
    }
  }

  /** Take the tools of `info` instead of the ones known (after a reload the adapter may have changed). */
  replace(info: HelloInfo): void {
    this.tools.clear();
    for (const tool of info.tools) this.tools.set(tool.name, toolInfo(tool));
  }

  /**
   * The tool a call names, checked against how it is called; throws TOOL_NOT_FOUND (listing the
   * tools), INVALID_ARGUMENTS or NOT_STREAMING.
   */
  check(tool: unknown, args: unknown, wantStream: boolean, collect: boolean, builtin: boolean): ToolInfo {
    if (typeof tool !== 'string') throw new InvalidArgumentsError(`tool name must be a string, got ${typeof tool}`);
    const info = builtin ? BUILTIN_INFO : this.tools.get(tool);
    if (info === undefined) throw new ToolNotFoundError(tool, this.names());
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      throw new InvalidArgumentsError(`arguments of ${tool} must be an object of keyword arguments`, { tool });
    }
    if (info.stream && !wantStream && !collect) {
      throw new NotStreamingError(`tool ${tool} is a generator: consume it with pool.stream(), or pass { collect: true } to execute`, { tool });
    }
    if (!info.stream && wantStream) {
      throw new NotStreamingError(`tool ${tool} is not a generator: call it with pool.execute()`, { tool });
    }
    return info;
  }

  names(): string[] {
    return [...this.tools.keys()].sort();
  }

  list(): ToolInfo[] {
    return [...this.tools.values()];
  }
}
