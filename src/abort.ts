/**
 * One `abort` listener per AbortSignal, however many calls it is passed to. A signal shared by many
 * calls (a request's controller fanned out, a shutdown signal given to every call) would otherwise
 * get a listener per call in flight, and Node warns past ten (MaxListenersExceededWarning); a Set
 * entry per call also costs less than an event listener.
 */

type Watchers = Set<() => void>;

const watched = new WeakMap<AbortSignal, Watchers>();

/**
 * Run `fn` once when `signal` aborts (the caller checks `signal.aborted` first). Returns the function
 * that stops watching, to call once the watcher is done with the signal.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let watchers = watched.get(signal);
  if (watchers === undefined) {
    const all: Watchers = new Set();
    watchers = all;
    watched.set(signal, all);
    signal.addEventListener(
      'abort',
      () => {
        watched.delete(signal);
        for (const watcher of [...all]) watcher();
        all.clear();
      },
      { once: true },
    );
  }
  const mine = watchers;
  mine.add(fn);
  return () => void mine.delete(fn);
}
