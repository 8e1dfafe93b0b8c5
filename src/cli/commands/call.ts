import { PythonError, SnakepitError } from '../../errors.js';
import { startPool } from '../catalogue.js';
import { EXIT_FAILED, EXIT_OK, UsageError, intOption, stringOption, type Command } from '../command.js';
import { toJson } from '../json.js';

export const command: Command = {
  name: 'call',
  summary: 'Call one tool and print its result as JSON',
  usage: "snakepit call <adapter> <tool> ['{\"kw\": value}'] [--timeout ms] [--python P]",
  help: `
Starts one worker, calls the tool with the keyword arguments given as a JSON object, and prints the
result as JSON on stdout. A generator tool prints one chunk per line (JSON Lines). Bigints that fit
a double print as numbers, larger ones as strings; bytes as {"$bytes": base64}; NDArrays as
{dtype, shape, data}.

Options:
  --timeout ms  deadline of the call (default 60000)
  --python P    the Python executable

Exit codes: 0 the call succeeded; 1 it failed (code, message and Python traceback on stderr) or the
adapter could not be loaded; 2 usage error (bad JSON, missing tool name).`,
  options: { timeout: { type: 'string' }, python: { type: 'string' } },
  async run(ctx) {
    const [adapter, tool, json] = ctx.positionals;
    if (tool === undefined) throw new UsageError('missing the tool name');
    let args: unknown = {};
    if (json !== undefined) {
      try {
        args = JSON.parse(json);
      } catch (e) {
        throw new UsageError(`arguments must be a JSON object: ${(e as Error).message}`);
      }
      if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new UsageError('arguments must be a JSON object of keyword arguments');
    }
    const timeout = intOption(ctx, 'timeout');
    const pool = await startPool({ adapter, python: stringOption(ctx, 'python'), cwd: ctx.cwd, timeout });
    try {
      const info = pool.tools().find((t) => t.name === tool);
      if (info?.stream === true) {
        for await (const chunk of pool.stream(tool, args as Record<string, unknown>)) ctx.out(toJson(chunk));
      } else {
        ctx.out(toJson(await pool.execute(tool, args as Record<string, unknown>), 2));
      }
      return EXIT_OK;
    } catch (e) {
      if (!(e instanceof SnakepitError)) throw e;
      ctx.err(`${e.code}: ${e.message}`);
      const traceback = e instanceof PythonError ? e.traceback : (e as SnakepitError & { pythonTraceback?: string }).pythonTraceback;
      if (traceback) ctx.err(traceback);
      return EXIT_FAILED;
    } finally {
      await pool.close();
    }
  },
};
