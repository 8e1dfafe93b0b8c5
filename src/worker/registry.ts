/**
 * Live workers of this process. When the host process exits, for any reason Node still runs `exit`
 * handlers for, every worker's process group is killed synchronously. (A SIGKILLed host cannot run
 * anything: the workers' lifeline in Python covers that case.)
 */

interface Killable {
  killNow(): void;
}

const live = new Set<Killable>();
let installed = false;

function killAll(): void {
  for (const worker of live) worker.killNow();
  live.clear();
}

export function trackWorker(worker: Killable): void {
  if (!installed) {
    installed = true;
    process.on('exit', killAll);
  }
  live.add(worker);
}

export function untrackWorker(worker: Killable): void {
  live.delete(worker);
}
