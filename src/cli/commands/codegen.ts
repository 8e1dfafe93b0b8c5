import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, resolve as resolvePath } from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateClient } from '../../codegen/generate.js';
import { generateModuleClient, type ModuleDescription } from '../../codegen/module.js';
import { resolvePython } from '../../python-env/resolve.js';
import { BRIDGE_PYTHONPATH } from '../../worker/process.js';
import type { Int64Policy } from '../../codegen/render-type.js';
import { startPool } from '../catalogue.js';
import { EXIT_FAILED, EXIT_OK, UsageError, stringOption, type Command } from '../command.js';

/** The module's public functions as the chosen Python reads them (module_catalogue.py). */
function describeModule(module: string, python: string | undefined, cwd: string): ModuleDescription {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(module)) throw new UsageError(`--module must be a dotted module name, got ${JSON.stringify(module)}`);
  const exe = resolvePython({ option: python, cwd }).executable;
  const env = { ...process.env, PYTHONPATH: [BRIDGE_PYTHONPATH, process.env.PYTHONPATH].filter(Boolean).join(delimiter) };
  const r = spawnSync(exe, ['-m', 'snakepit_bridge.module_catalogue', module], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    const last = (r.stderr || r.error?.message || '').trim().split('\n').pop();
    throw new Error(`cannot read module ${module} with ${exe}: ${last}`);
  }
  return JSON.parse(r.stdout) as ModuleDescription;
}

export const command: Command = {
  name: 'codegen',
  summary: 'Generate a typed TypeScript client from the adapter\'s signatures',
  usage: 'snakepit codegen <adapter> | --module numpy.linalg [-o client.ts] [--check] [--int64 number|bigint|auto] [--import-from snakepit] [--python P]',
  help: `
Starts one worker, reads the tool catalogue with each annotation's type, and writes a TypeScript
file exporting createClient(pool | session): one method per tool taking one object of keyword
arguments, typed from the Python annotations, with the docstrings as TSDoc. See docs/codegen.md.

 With --module M instead of an adapter: typed wrappers for the public functions of
the Python module M (from their runtime signatures), called through pool.python.call; the pool must
allow them (allow: ['M.*']).

Options:
  --module M         wrappers for a library module's functions instead of an adapter's tools
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
    module: { type: 'string' },
  },
  async run(ctx) {
    const adapter = ctx.positionals[0];
    const out = stringOption(ctx, 'out');
    const check = ctx.values.check === true;
    if (check && out === undefined) throw new UsageError('--check needs -o FILE: the file to compare');
    const int64 = stringOption(ctx, 'int64') ?? 'number';
    if (int64 !== 'number' && int64 !== 'bigint' && int64 !== 'auto') throw new UsageError(`--int64 must be number, bigint or auto, got ${JSON.stringify(int64)}`);
    const importFrom = stringOption(ctx, 'import-from') ?? 'snakepit';
    const module = stringOption(ctx, 'module');
    let text: string;
    if (module !== undefined) {
      if (adapter !== undefined) throw new UsageError('give an adapter or --module, not both');
      text = generateModuleClient(describeModule(module, stringOption(ctx, 'python'), ctx.cwd), { importFrom, int64: int64 as Int64Policy });
    } else {
      const pool = await startPool({ adapter, python: stringOption(ctx, 'python'), cwd: ctx.cwd }, { types: true });
      try {
        text = generateClient(pool.tools(), { source: adapter!, importFrom, int64: int64 as Int64Policy });
      } finally {
        await pool.close();
      }
    }
    if (out === undefined) {
      ctx.out(text);
      return EXIT_OK;
    }
    const file = resolvePath(ctx.cwd, out);
    if (check) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (current === text) {
        ctx.out(`${out} is up to date`);
        return EXIT_OK;
      }
      ctx.err(`${out} is ${current === undefined ? 'missing' : 'stale'}: run snakepit codegen ${adapter ?? `--module ${module}`} -o ${out}`);
      return EXIT_FAILED;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    ctx.out(`wrote ${out}`);
    return EXIT_OK;
  },
};
