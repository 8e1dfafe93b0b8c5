/**
 * Fork-server mode as the pool sees it: the pool's transport is a ForkServerTransport
 * (src/transport/forkserver.ts) made from the pool's options; its zygote is recorded in the run
 * registry, and its news become pool events.
 */

import type { PoolEventMap } from '../events.js';
import type { ResolvedPoolOptions } from '../options.js';
import { ForkServerTransport } from '../transport/forkserver.js';
import type { RunRegistry } from '../worker/run-registry.js';
import { workerEnv } from './python-calls.js';

type Publish = <K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]) => void;

/** The fork-server transport of a pool; `registry` is read when the zygote starts (after the pool opened it). */
export function forkServerTransport(
  o: ResolvedPoolOptions,
  runId: string,
  registry: () => RunRegistry | undefined,
  publish: Publish,
): ForkServerTransport {
  let zygotePid: number | undefined;
  return new ForkServerTransport(
    {
      python: o.python,
      adapter: o.adapter,
      cwd: o.cwd,
      env: workerEnv(o),
      preload: o.preload,
      setupInZygote: o.setupInZygote,
      runId,
      startupTimeout: o.startupTimeout,
      socketParent: o.stateDir === false ? undefined : o.stateDir,
      restart: o.restart,
      killGrace: o.killGrace,
      sandbox: o.sandbox,
    },
    {
      onZygoteReady(pid, loadMs, restarts) {
        zygotePid = pid;
        registry()?.add(pid);
        publish('zygoteReady', { type: 'zygoteReady', pid, loadMs, restarts });
      },
      onZygoteExit(pid, code, signal, restartInMs) {
        if (pid !== undefined) registry()?.remove(pid);
        publish('zygoteExit', { type: 'zygoteExit', pid, code, signal, restartInMs });
      },
      onZygoteLog(pid, line, stream) {
        const level = stream === 'stderr' ? 'stderr' : 'info';
        publish('log', { type: 'log', workerId: 0, pid: pid ?? zygotePid, stream, line, level, requestId: undefined });
      },
    },
  );
}
