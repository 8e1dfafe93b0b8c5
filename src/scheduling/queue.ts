/** A FIFO of waiting calls with O(1) push, shift and removal (removed entries are skipped lazily). */

export interface Queued {
  /** Set when the entry left the queue by another way (abort, timeout); shift skips it. */
  dequeued: boolean;
}

export class CallQueue<T extends Queued> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private live = 0;
  peak = 0;

  get length(): number {
    return this.live;
  }

  push(item: T): void {
    item.dequeued = false;
    this.items.push(item);
    this.live++;
    if (this.live > this.peak) this.peak = this.live;
  }

  /** Put `item` at the front: it is the next one out (a retried call keeps its place). */
  unshift(item: T): void {
    item.dequeued = false;
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
    this.live++;
    if (this.live > this.peak) this.peak = this.live;
  }

  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head++] = undefined;
      if (item !== undefined && !item.dequeued) {
        item.dequeued = true;
        this.live--;
        this.compact();
        return item;
      }
    }
    this.compact();
    return undefined;
  }

  /** Mark `item` as gone; it stays in the array until shift passes it. */
  remove(item: T): boolean {
    if (item.dequeued) return false;
    item.dequeued = true;
    this.live--;
    return true;
  }

  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.live === 0 && this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
  }
}
