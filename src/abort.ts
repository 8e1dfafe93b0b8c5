/**
 * One `abort` listener per AbortSignal, however many calls it is passed to at once. A signal shared by
 * many calls (a request's controller fanned out, a shutdown signal given to every call) would otherwise
 * get a listener per call in flight, and Node warns past ten (MaxListenersExceededWarning). The
 * listener goes once the last call watching the signal has settled: nothing is left on a signal
 * that outlives its calls (reliability R14).
 */

interface Watch {
  readonly watchers: Set<() => void>;
  readonly listener: () => void;
}

const watched = new WeakMap<AbortSignal, Watch>();

/**
 * Run `fn` once when `signal` aborts (the caller checks `signal.aborted` first). Returns the function
 * that stops watching, to call once the watcher is done with the signal.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let watch = watched.get(signal);
  if (watch === undefined) {
    const watchers = new Set<() => void>();
    const listener = (): void => {
      watched.delete(signal);
      signal.removeEventListener('abort', listener); // already gone (once); removed by name too, for code that tracks listeners
      const all = [...watchers];
      watchers.clear();
      for (const watcher of all) watcher();
    };
    watch = { watchers, listener };
    watched.set(signal, watch);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { watchers, listener } = watch;
  watchers.add(fn);
  return () => {
    if (!watchers.delete(fn) || watchers.size > 0) return;
    // The last watcher is done: take the listener off the signal.
    if (watched.get(signal)?.listener === listener) watched.delete(signal);
    signal.removeEventListener('abort', listener);
  };
}
