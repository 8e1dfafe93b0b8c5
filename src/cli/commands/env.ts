import { ensureEnvironment, checkEnvironmentOptions, type EnvironmentOptions } from '../../python-env/managed.js';
import { resolvePython } from '../../python-env/resolve.js';
import { EXIT_OK, UsageError, stringOption, type Command } from '../command.js';

export const command: Command = {
  name: 'env',
  summary: 'Build (or find) a managed Python environment ahead of time, e.g. in a container image',
  usage: 'snakepit env [-r requirements.txt] [-p package ...] [--base P] [--dir D] [--find-links D] [--no-index] [--installer uv|pip] [--json]',
  help: `
Builds the virtual environment a pool started with python: { packages, requirements, ... } would
build, keyed by a hash of the base interpreter, the requirements and the installer arguments, and
prints its interpreter. An environment that exists already is reused. Uses uv when it is on PATH or
beside the base interpreter, else venv + pip. The environment is built in a temporary folder and
renamed into place only when the install succeeded. Give the same options as the pool's (installArgs = --no-index --find-links D,
in that order) to get the same environment.

Options:
  -r, --requirements F   a requirements file
  -p, --package P        a requirement (repeatable)
  --base P               the interpreter to build from (default: see \`snakepit doctor\`)
  --dir D                folder of the environments (default $SNAKEPIT_ENV_DIR or ~/.cache/snakepit/envs)
  --no-index, --find-links D   install from a local folder of wheels only (no network)
  --installer I          auto (default), uv or pip
  --json                 { python, dir, key, built, installer }

Exit codes: 0 the environment is ready; 1 it could not be built (the package that was not found is
named); 2 usage error.`,
  options: {
    requirements: { type: 'string', short: 'r' },
    package: { type: 'string', short: 'p', multiple: true },
    base: { type: 'string' },
    dir: { type: 'string' },
    'find-links': { type: 'string' },
    'no-index': { type: 'boolean' },
    installer: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const packages = (ctx.values.package as unknown as string[] | undefined) ?? [];
    const requirements = stringOption(ctx, 'requirements');
    if (packages.length === 0 && requirements === undefined) throw new UsageError('give -r requirements.txt or at least one -p package');
    const installArgs = [
      ...(ctx.values['no-index'] === true ? ['--no-index'] : []),
      ...(stringOption(ctx, 'find-links') !== undefined ? ['--find-links', stringOption(ctx, 'find-links')!] : []),
    ];
    const spec: EnvironmentOptions = {
      packages,
      ...(requirements !== undefined ? { requirements } : {}),
      ...(stringOption(ctx, 'dir') !== undefined ? { dir: stringOption(ctx, 'dir')! } : {}),
      ...(installArgs.length ? { installArgs } : {}),
      ...(stringOption(ctx, 'installer') !== undefined ? { installer: stringOption(ctx, 'installer') as 'uv' } : {}),
    };
    const base = stringOption(ctx, 'base') ?? resolvePython({ cwd: ctx.cwd }).executable;
    let resolved;
    try {
      resolved = checkEnvironmentOptions(spec, ctx.cwd, base, 'environment');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const quiet = ctx.values.json === true;
    const env = await ensureEnvironment(resolved, quiet ? undefined : (line) => ctx.err(line));
    if (quiet) ctx.out(JSON.stringify(env, null, 2));
    else ctx.out(env.built ? `built ${env.python}` : `reused ${env.python}`);
    return EXIT_OK;
  },
};
