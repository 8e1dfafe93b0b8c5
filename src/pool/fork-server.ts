/**
 * Fork-server mode as the pool sees it: start the pool's ForkServer (src/worker/forkserver/) with
 * the pool's options, record its zygote in the run registry, and turn its news into pool events.
 */

import type { PoolEventMap } from '../events.js';
import type { ResolvedPoolOptions } from '../options.js';
import { ForkServer } from '../worker/forkserver/forkserver.js';
import type { RunRegistry } from '../worker/run-registry.js';
import { workerEnv } from './python-calls.js';

type Publish = <K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]) => void;

/** Start the fork server of a pool; rejects with the zygote's WorkerStartError (preload, import, threads, setup). */
export async function startForkServer(
  o: ResolvedPoolOptions,
  runId: string,
  registry: RunRegistry | undefined,
  publish: Publish,
): Promise<ForkServer> {
  let zygotePid: number | undefined;
  const server = new ForkServer(
    {
      python: o.python,
      adapter: o.adapter,
      cwd: o.cwd,
      env: workerEnv(o),
      preload: o.preload,
      setupInZygote: o.setupInZygote,
      runId,
      socketParent: o.stateDir === false ? undefined : o.stateDir,
      restart: o.restart,
      killGrace: o.killGrace,
    },
    {
      onZygoteReady(pid, loadMs, restarts) {
        zygotePid = pid;
        registry?.add(pid);
        publish('zygoteReady', { type: 'zygoteReady', pid, loadMs, restarts });
      },
      onZygoteExit(pid, code, signal, restartInMs) {
        if (pid !== undefined) registry?.remove(pid);
        publish('zygoteExit', { type: 'zygoteExit', pid, code, signal, restartInMs });
      },
      onZygoteLog(pid, line, stream) {
        publish('log', { type: 'log', workerId: 0, pid: pid ?? zygotePid, stream, line, level: stream === 'stderr' ? 'stderr' : 'info', requestId: undefined });
      },
    },
  );
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
