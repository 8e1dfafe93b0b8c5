import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, freemem, tmpdir, totalmem } from 'node:os';
import { basename, delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { inspectCodeCache } from '../../boot/code-cache.js';
import { Pool } from '../../pool/pool.js';
import { resolvePython } from '../../python-env/resolve.js';
import { BRIDGE_PYTHONPATH } from '../../worker/process.js';
import { EXIT_FAILED, EXIT_OK, stringOption, type Command } from '../command.js';
import { PROBE } from '../doctor-probe.js';

interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** A problem that does not stop the pool (the JSON fallback, no bytecode cache): shown as `warn`. */
  readonly warning?: boolean;
  readonly detail: string;
  /** The command that fixes it, for a problem. */
  readonly fix?: string;
}

const GIB = 1024 ** 3;

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: env ?? process.env });
  return { ok: r.status === 0, out: (r.status === 0 ? r.stdout : r.error?.message ?? r.stderr ?? '').trim() };
}

function nvidia(): string[] {
  const r = run('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader']);
  return r.ok ? r.out.split('\n').filter(Boolean) : [];
}

/** bubblewrap present, and able to make namespaces here (containers often forbid it). */
function sandboxCheck(): Check {
  const version = run('bwrap', ['--version']);
  if (!version.ok) return { name: 'sandbox', ok: true, detail: 'bubblewrap not found: no sandbox (optional)', fix: 'apt-get install bubblewrap' };
  const name = `bubblewrap ${version.out.replace(/^bubblewrap\s*/, '')}`;
  const works = run('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true']);
  return works.ok
    ? { name: 'sandbox', ok: true, detail: `${name}, namespaces work` }
    : { name: 'sandbox', ok: false, warning: true, detail: `${name} cannot create namespaces here: ${works.out.split('\n')[0]}`, fix: 'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or run the container with --privileged / a seccomp profile that permits them' };
}

/** The library's code cache (src/boot/code-cache.ts) beside the built bundle, for a plain `node` of this release. */
function codeCacheCheck(): Check {
  const bundle = join(dirname(BRIDGE_PYTHONPATH), 'dist', 'cjs', 'bundle.js');
  if (!existsSync(bundle)) return { name: 'code cache', ok: true, detail: 'not used: the library runs from its sources' };
  const c = inspectCodeCache(bundle);
  const file = basename(c.file);
  if (c.status === 'disabled') return { name: 'code cache', ok: true, detail: 'off (SNAKEPIT_CODE_CACHE=0): every load compiles the library' };
  if (c.status === 'accepted') {
    return { name: 'code cache', ok: true, detail: c.warm ? `${file}, with what a pool runs` : `${file}, of the load (the first pool to run adds what it compiles)` };
  }
  const why = c.status === 'rejected' ? 'refused by this Node' : c.status === 'stale' ? 'left from another build of the library' : 'none yet for this Node';
  return c.writable
    ? { name: 'code cache', ok: true, detail: `${file}: ${why}; the first pool to run writes it` }
    : {
        name: 'code cache',
        ok: false,
        warning: true,
        detail: `${file}: ${why}, and ${dirname(c.file)} is read-only: every load compiles the library (about 6 ms more)`,
        fix: 'start and close one pool where the package folder can be written (when building the image)',
      };
}

async function poolStarts(python: string, userAdapter: string | undefined, cwd: string): Promise<{ ok: boolean; detail: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'snakepit-doctor-'));
  const adapter = userAdapter ?? join(dir, 'doctor_tools.py');
  if (userAdapter === undefined) writeFileSync(adapter, 'from snakepit_bridge import tool\n\n@tool\ndef ping() -> str:\n    return "pong"\n');
  const started = performance.now();
  try {
    const pool = await Pool.start({ adapter, python, cwd, size: 1, stateDir: false, heartbeatInterval: 0, startupTimeout: 60_000 });
    try {
      const ms = Math.round(performance.now() - started);
      const codec = pool.stats().workerList[0]?.codec ?? '?';
      if (userAdapter !== undefined) return { ok: true, detail: `${userAdapter}: a worker started in ${ms} ms with ${pool.tools().length} tools (codec ${codec})` };
      const reply = await pool.execute('ping');
      return { ok: reply === 'pong', detail: `a worker started and answered in ${ms} ms (codec ${codec})` };
    } finally {
      await pool.close();
    }
  } catch (e) {
    return { ok: false, detail: `${(e as { code?: string }).code ?? 'ERROR'}: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const command: Command = {
  name: 'doctor',
  summary: 'Check the installation: Node, the Python chosen and why, packages, accelerators, sandbox',
  usage: 'snakepit doctor [--python P] [--adapter A] [--json]',
  help: `
Reports the Node and Python versions, which Python executable was chosen and why, whether the
bridge imports, msgpack / numpy / pyarrow / torch versions, whether the bridge's bytecode cache is
writable, CPUs, memory, accelerators (NVIDIA GPUs through nvidia-smi and torch.cuda, Apple MPS),
sandbox support and the library's code cache; then starts one worker. Each problem comes with the command that fixes it.

Options:
  --python P    check this Python executable instead of the one resolution picks
  --adapter A   start the pool with this adapter (default: a one-tool adapter of its own); the
                Python is then resolved as for that adapter (a .venv beside it counts)
  --json        the report as one JSON object

Exit codes: 0 a worker started (warnings may remain); 1 the pool could not start; 2 usage error.`,
  options: { python: { type: 'string' }, adapter: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const adapter = stringOption(ctx, 'adapter');
    const adapterFile = adapter !== undefined && /\.py(:\w+)?$|\//.test(adapter) ? resolvePath(ctx.cwd, adapter.replace(/:\w+$/, '')) : undefined;
    const choice = resolvePython({ option: stringOption(ctx, 'python'), adapterFile, cwd: ctx.cwd });
    const checks: Check[] = [];
    const add = (c: Check): void => void checks.push(c);
    add({ name: 'node', ok: Number(process.versions.node.split('.')[0]) >= 20, detail: process.version, fix: 'install Node.js 20 or later' });
    const env = { ...process.env, PYTHONPATH: [BRIDGE_PYTHONPATH, process.env.PYTHONPATH].filter(Boolean).join(delimiter) };
    const probe = run(choice.executable, ['-c', PROBE], env);
    let info: Record<string, unknown> = {};
    if (!probe.ok) {
      add({ name: 'python', ok: false, detail: `${choice.executable} (${choice.reason}) does not run: ${probe.out}`, fix: 'install Python 3.10+ or pass --python / set $SNAKEPIT_PYTHON' });
    } else {
      info = JSON.parse(probe.out.split('\n').pop()!) as Record<string, unknown>;
      add({ name: 'python', ok: true, detail: `${info.python} at ${info.executable}, chosen by ${choice.reason}` });
      add(info.bridgeError
        ? { name: 'bridge', ok: false, detail: `snakepit_bridge does not import: ${info.bridgeError}`, fix: 'reinstall snakepit (the python/ folder ships in the package)' }
        : { name: 'bridge', ok: true, detail: `snakepit_bridge at ${info.bridge}` });
      if (info.dontWriteBytecode === true && info.bytecodeWritable === true) {
        add({ name: 'bytecode cache', ok: false, warning: true, detail: 'PYTHONDONTWRITEBYTECODE is set: every worker compiles the bridge (15-20 ms more per start) unless it was compiled once', fix: `${choice.executable} -m compileall ${info.bridge}` });
      } else if (info.bytecodeWritable === false) {
        add({ name: 'bytecode cache', ok: false, warning: true, detail: 'the bridge folder is read-only: every worker compiles the bridge (15-20 ms more per start)', fix: `${choice.executable} -m compileall ${info.bridge}` });
      } else if (info.bytecodeWritable === true) add({ name: 'bytecode cache', ok: true, detail: 'writable' });
      const mods = info.modules as Record<string, string | null>;
      add(mods.msgpack
        ? { name: 'msgpack', ok: true, detail: mods.msgpack }
        : { name: 'msgpack', ok: false, warning: true, detail: 'missing: the pool falls back to the slower JSON codec', fix: `${choice.executable} -m pip install msgpack` });
      for (const name of ['numpy', 'pyarrow', 'torch']) add({ name, ok: true, detail: mods[name] ?? 'not installed (optional)' });
    }
    add({ name: 'cpus', ok: true, detail: String(availableParallelism()) });
    add({ name: 'memory', ok: true, detail: `${(totalmem() / GIB).toFixed(1)} GiB total, ${(freemem() / GIB).toFixed(1)} GiB free` });
    const gpus = nvidia();
    const torchAcc = info.torch as { cuda?: boolean; devices?: string[]; mps?: boolean; error?: string } | undefined;
    const acc: string[] = [];
    if (gpus.length) acc.push(`nvidia-smi: ${gpus.join('; ')}`);
    if (torchAcc?.cuda) acc.push(`torch.cuda: ${torchAcc.devices?.join('; ')}`);
    else if (torchAcc !== undefined && torchAcc.error === undefined) acc.push('torch.cuda: not available');
    if (torchAcc?.mps) acc.push('Apple MPS available');
    add({ name: 'accelerators', ok: true, detail: acc.length ? acc.join(' | ') : 'none found (no nvidia-smi, no torch GPU)' });
    add(sandboxCheck());
    add(codeCacheCheck());
    const start = probe.ok ? await poolStarts(choice.executable, adapter, ctx.cwd) : { ok: false, detail: 'skipped: Python does not run' };
    add({ name: 'pool', ok: start.ok, detail: start.detail, fix: start.ok ? undefined : 'see the problems above' } as Check);

    if (ctx.values.json === true) {
      ctx.out(JSON.stringify({ ok: start.ok, python: { executable: choice.executable, reason: choice.reason }, checks }, null, 2));
    } else {
      for (const c of checks) {
        ctx.out(`${c.ok ? 'ok  ' : c.warning ? 'warn' : 'FAIL'} ${c.name.padEnd(15)} ${c.detail}`);
        if (!c.ok && c.fix) ctx.out(`     ${''.padEnd(15)} fix: ${c.fix}`);
      }
      ctx.out(start.ok ? 'snakepit doctor: ready' : 'snakepit doctor: the pool could not start');
    }
    return start.ok ? EXIT_OK : EXIT_FAILED;
  },
};
