import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateClient } from '../../codegen/generate.js';
import type { Int64Policy } from '../../codegen/render-type.js';
import { startPool } from '../catalogue.js';
import { EXIT_FAILED, EXIT_OK, UsageError, stringOption, type Command } from '../command.js';

export const command: Command = {
  name: 'codegen',
  summary: 'Generate a typed TypeScript client from the adapter\'s signatures',
  usage: 'snakepit codegen <adapter> [-o client.ts] [--check] [--int64 number|bigint|auto] [--import-from snakepit] [--python P]',
  help: `
Starts one worker, reads the tool catalogue with each annotation's type, and writes a TypeScript
file exporting createClient(pool | session): one method per tool taking one object of keyword
arguments, typed from the Python annotations, with the docstrings as TSDoc. See docs/codegen.md.

Options:
  -o, --out FILE     write the client there (default: print it on stdout)
  --check            do not write: exit 1 when FILE differs from what would be generated (for CI)
  --int64 POLICY     how Python int results are typed; match the pool's int64 option (default number)
  --import-from M    module the client imports the library's types from (default snakepit)
  --python P         the Python executable

Exit codes: 0 written (or up to date with --check); 1 stale with --check, or the adapter could not
be loaded; 2 usage error.`,
  options: {
    out: { type: 'string', short: 'o' },
    check: { type: 'boolean' },
    int64: { type: 'string' },
    'import-from': { type: 'string' },
    python: { type: 'string' },
  },
  async run(ctx) {
    const adapter = ctx.positionals[0];
    const out = stringOption(ctx, 'out');
    const check = ctx.values.check === true;
    if (check && out === undefined) throw new UsageError('--check needs -o FILE: the file to compare');
    const int64 = stringOption(ctx, 'int64') ?? 'number';
    if (int64 !== 'number' && int64 !== 'bigint' && int64 !== 'auto') throw new UsageError(`--int64 must be number, bigint or auto, got ${JSON.stringify(int64)}`);
    const pool = await startPool({ adapter, python: stringOption(ctx, 'python'), cwd: ctx.cwd }, { types: true });
    let text: string;
    try {
      text = generateClient(pool.tools(), {
        source: adapter!,
        importFrom: stringOption(ctx, 'import-from') ?? 'snakepit',
        int64: int64 as Int64Policy,
      });
    } finally {
      await pool.close();
    }
    if (out === undefined) {
      ctx.out(text);
      return EXIT_OK;
    }
    const file = path.resolve(ctx.cwd, out);
    if (check) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (current === text) {
        ctx.out(`${out} is up to date`);
        return EXIT_OK;
      }
      ctx.err(`${out} is ${current === undefined ? 'missing' : 'stale'}: run snakepit codegen ${adapter} -o ${out}`);
      return EXIT_FAILED;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    ctx.out(`wrote ${out}`);
    return EXIT_OK;
  },
};
