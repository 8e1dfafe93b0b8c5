/**
 * What a `snakepit` command is: a name, its help, its options (node:util parseArgs) and a run function
 * that returns the exit code. Exit codes: 0 success, 1 the command ran and failed (a call raised, the
 * pool could not start, a generated file is stale), 2 usage error (unknown command or option, missing
 * argument).
 */

import type { ParseArgsConfig } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly cwd: string;
  out(text: string): void;
  err(text: string): void;
}

export interface Command {
  readonly name: string;
  /** One line for `snakepit --help`. */
  readonly summary: string;
  /** `snakepit name <arg> [options]` */
  readonly usage: string;
  /** The rest of `snakepit name --help`: what it does, its options, its exit codes. */
  readonly help: string;
  readonly options: OptionSpecs;
  run(ctx: CommandContext): Promise<number>;
  /**
   * A command that parses its own arguments (and prints its own help) gets them unparsed here instead:
   * the dispatcher calls this rather than `run`.
   */
  runArgs?(argv: readonly string[], ctx: Pick<CommandContext, 'out' | 'err' | 'cwd'>): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage line, exit 2. */
export class UsageError extends Error {}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function intOption(ctx: CommandContext, name: string): number | undefined {
  const v = stringOption(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}
