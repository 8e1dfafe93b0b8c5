/**
 * How the zygote process is started (zygote.ts owns the conversation with it): its command line and
 * environment. Unsandboxed, `snakepit_bridge.zygote`'s `main()` as `python -m` would run it, without
 * runpy (bridgeArgs in ../process.ts), with the host's environment and the pool's; with a sandbox,
 * that command under bubblewrap (src/security/sandbox.ts), which also sees `binds` (the connect-back
 * socket's private folder) and keeps, in a clean environment, the pool's env, the SNAKEPIT_* variables
 * and the single-thread defaults.
 */

import { delimiter } from 'node:path';
import { ENV } from '../../protocol/messages.js';
import { sandboxLaunch, type Launch, type ResolvedSandbox } from '../../security/sandbox.js';
import { BRIDGE_PYTHONPATH, bridgeArgs } from '../process.js';

export interface ZygoteSpec {
  python: string;
  adapter: string;
  cwd: string | undefined;
  env: Readonly<Record<string, string>>;
  preload: readonly string[];
  setupInZygote: boolean;
  runId: string;
  /** Milliseconds the zygote has to import, set up and say `ready` (the pool's startupTimeout). */
  startupTimeout: number;
  /** Run the zygote (and so every worker it forks) under bubblewrap. */
  sandbox?: ResolvedSandbox | undefined;
  /** Folders the sandbox must see (the connect-back socket's private folder), bound read-only. */
  binds?: readonly string[];
}

/**
 * Threads started at import make forking unsafe. Unless the user says otherwise: BLAS thread pools get
 * one thread each, and Arrow's jemalloc (loaded by pandas when pyarrow is installed) starts no
 * background purging thread.
 */
const SINGLE_THREAD_DEFAULTS: Record<string, string> = {
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  JE_ARROW_MALLOC_CONF: 'background_thread:false',
};

export function zygoteLaunch(spec: ZygoteSpec): Launch {
  const inherited = spec.env.PYTHONPATH ?? process.env.PYTHONPATH;
  const env: Record<string, string | undefined> = { ...process.env, ...spec.env };
  for (const [key, value] of Object.entries(SINGLE_THREAD_DEFAULTS)) env[key] ??= value;
  Object.assign(env, {
    PYTHONPATH: inherited ? `${BRIDGE_PYTHONPATH}${delimiter}${inherited}` : BRIDGE_PYTHONPATH,
    PYTHONUNBUFFERED: '1',
    [ENV.HOST_PID]: String(process.pid),
    [ENV.RUN_ID]: spec.runId,
    [ENV.ZYGOTE_PRELOAD]: spec.preload.join(','),
    [ENV.ZYGOTE_SETUP]: spec.setupInZygote ? '1' : '0',
  });
  const args = bridgeArgs('snakepit_bridge.zygote', spec.adapter);
  if (spec.sandbox === undefined) return { command: spec.python, args, env };
  return sandboxLaunch(spec.sandbox, {
    python: spec.python,
    args,
    env,
    // A clean environment keeps the pool's env and the single-thread defaults.
    poolEnv: { ...SINGLE_THREAD_DEFAULTS, ...spec.env },
    cwd: spec.cwd,
    adapter: spec.adapter,
    bridge: BRIDGE_PYTHONPATH,
    binds: spec.binds,
  });
}
