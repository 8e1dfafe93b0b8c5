/**
 * Development reload: `pool.reload()` replaces the workers one at a time (each replacement starts
 * before its predecessor drains, so capacity never drops to zero), then takes the tool catalogue from
 * the new workers. The `watch` option reloads when a `.py` file under the watched folders changes.
 * A reloaded worker's sessions end with SESSION_LOST (`recycled`), as with `pool.recycle()`.
 */

import { watch, type FSWatcher } from 'node:fs';

export interface ReloadHost {
  readonly workers: readonly { readonly id: number; readonly state: string; readonly retiring: boolean }[];
  recycle(workerId: number): Promise<void>;
  refreshCatalogue(): void;
  readonly state: string;
  /** Before the workers are replaced: a fork-server pool starts a fresh zygote (new imports). */
  beforeReload?(): Promise<void>;
}

export class Reloader {
  private running: Promise<void> | undefined;
  private again = false;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: ReloadHost) {}

  /** Replace every worker, one at a time. A reload asked for while one runs runs once more after it. */
  reload(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.again = false;
          await this.host.beforeReload?.();
          const ids = this.host.workers.filter((w) => w.state === 'ready' && !w.retiring).map((w) => w.id);
          for (const id of ids) {
            if (this.host.state !== 'ready' && this.host.state !== 'degraded') return;
            await this.host.recycle(id);
          }
          this.host.refreshCatalogue();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    };
    this.running = run();
    return this.running;
  }

  /** Reload (debounced) when a `.py` file under `dirs` changes. `onError` gets a failed reload. */
  watch(dirs: readonly string[], debounceMs: number, onError: (err: unknown) => void): void {
    for (const dir of dirs) {
      const watcher = watch(dir, { recursive: true, persistent: false }, (_event, file) => {
        if (file === null || !String(file).endsWith('.py')) return;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.reload().catch(onError);
        }, debounceMs);
        this.timer.unref();
      });
      watcher.on('error', onError);
      this.watchers.push(watcher);
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
