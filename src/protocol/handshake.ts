/** Checks of the worker's `hello` before the host trusts it with work. */

import { PROTOCOL_VERSION, type CodecName, type HelloInfo } from './messages.js';

/** A description of what is wrong with `info`, or undefined when the worker may be used. */
export function checkHello(info: unknown, accepted: readonly CodecName[]): string | undefined {
  if (info === null || typeof info !== 'object') return 'hello carries no information';
  const hello = info as Partial<HelloInfo>;
  if (hello.protocol !== PROTOCOL_VERSION) {
    return `protocol version mismatch: the worker speaks ${String(hello.protocol)}, this host speaks ${PROTOCOL_VERSION}`;
  }
  if (typeof hello.codec !== 'string' || !accepted.includes(hello.codec)) {
    return `the worker chose codec ${String(hello.codec)}; this host accepts ${accepted.join(', ')}`;
  }
  if (!Array.isArray(hello.tools)) return 'hello has no tool catalogue';
  if (typeof hello.pid !== 'number') return 'hello has no pid';
  return undefined;
}
