/** Splits a byte stream into text lines and keeps a bounded tail of the most recent ones. */

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

const MAX_LINE = 16 * 1024;

export class LineTail {
  private readonly lines: string[] = [];
  constructor(private readonly maxLines: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Calls `onLine` for each line of `stream` (a line longer than 16 KiB is cut into pieces). */
export function readLines(stream: Readable, onLine: (line: string) => void): void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    let text = partial + decoder.write(chunk);
    let nl: number;
    while ((nl = text.indexOf('\n')) !== -1) {
      const line = text.slice(0, nl);
      onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE) {
      onLine(text.slice(0, MAX_LINE));
      text = text.slice(MAX_LINE);
    }
    partial = text;
  });
  stream.on('end', () => {
    const last = partial + decoder.end();
    partial = '';
    if (last.length > 0) onLine(last);
  });
}
