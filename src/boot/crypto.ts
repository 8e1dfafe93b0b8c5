/**
 * `node:crypto`, loaded at its first use. Loading it takes about 3 ms (sixteen internal modules and
 * OpenSSL's bindings), a fifth of the package's own load, and a pool of plain calls never needs it:
 * it serves session ids, the cache's digests, the audit chain, connect-back tokens, the dashboard and
 * the cluster, each of which asks here when it first runs (docs/architecture.md, Decisions). A test
 * keeps the package's load and a plain pool's start and first call free of it
 * (test/package.test.ts).
 */

import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');

let loaded: Crypto | undefined;

export function nodeCrypto(): Crypto {
  return (loaded ??= createRequire(import.meta.url)('node:crypto') as Crypto);
}
