/**
 * Opt-in handling of SIGINT and SIGTERM for pools started with `handleSignals: true`.
 *
 * First signal: every such pool closes gracefully (no new calls, running and queued calls finish,
 * workers are shut down). Second signal: every pool is destroyed at once (pending calls rejected,
 * worker groups SIGKILLed synchronously). Either way, once the pools are down the signal is raised
 * again with the default disposition, so the process ends the way it would have without this module,
 * unless the application has listeners of its own for that signal, in which case they decide.
 *
 * Without `handleSignals`, a signal ends the host at once and the workers' lifeline ends them.
 */

export interface SignalTarget {
  close(): Promise<void>;
  /** Kill every worker process group now, synchronously. */
  killNow(): void;
  destroy(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type HandledSignal = (typeof SIGNALS)[number];

const targets = new Set<SignalTarget>();
let installed = false;
let received = 0;

function raise(signal: HandledSignal): void {
  uninstall();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function onSignal(signal: HandledSignal): void {
  received++;
  const pools = [...targets];
  if (received === 1) {
    void Promise.allSettled(pools.map((p) => p.close())).then(() => {
      if (received === 1) raise(signal);
    });
    return;
  }
  for (const pool of pools) pool.killNow();
  void Promise.allSettled(pools.map((p) => p.destroy()));
  raise(signal);
}

const listeners: Record<HandledSignal, () => void> = {
  SIGINT: () => onSignal('SIGINT'),
  SIGTERM: () => onSignal('SIGTERM'),
};

function install(): void {
  if (installed) return;
  installed = true;
  received = 0;
  for (const signal of SIGNALS) process.on(signal, listeners[signal]);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const signal of SIGNALS) process.removeListener(signal, listeners[signal]);
}

export function handleSignalsFor(target: SignalTarget): void {
  targets.add(target);
  install();
}

/** The pool is closed: forget it; with no pool left the listeners are removed. */
export function releaseSignals(target: SignalTarget): void {
  targets.delete(target);
  if (targets.size === 0 && received === 0) uninstall();
}
