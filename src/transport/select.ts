/** The transport a pool's `transport` option names. */

import { PipeTransport } from './pipe.js';
import { SocketTransport } from './socket.js';
import type { Transport, TransportKind } from './transport.js';

export function createTransport(kind: TransportKind, stateDir: string | false): Transport {
  return kind === 'socket' ? new SocketTransport(stateDir === false ? undefined : stateDir) : new PipeTransport();
}
