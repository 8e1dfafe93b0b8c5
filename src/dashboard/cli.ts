/**
 * `snakepit dashboard --adapter FILE [--size N] [--python PATH] [--port N] [--host ADDR] [--token T]`:
 * starts a pool from an adapter and serves its dashboard until SIGINT or SIGTERM.
 * `snakepit dashboard --attach SOCKET [--port N] [--host ADDR] [--token T]`: serves the dashboard of a
 * pool running in another process, which exposes it with `serveDashboard(pool, { socket })`.
 */

import { parseArgs } from 'node:util';
import { InvalidOptionsError } from '../errors.js';
import { Pool } from '../pool/pool.js';
import { attachDashboard } from './attach.js';
import { serveDashboard } from './server.js';

export const DASHBOARD_USAGE = `usage: snakepit dashboard --adapter FILE [--size N] [--python PATH] [--port N] [--host ADDR] [--token TOKEN]
       snakepit dashboard --attach SOCKET [--port N] [--host ADDR] [--token TOKEN]

Serves a live dashboard (default http://127.0.0.1:<free port>/) of a pool of Python workers started
from the adapter, or of a running pool that exposes it on a Unix socket with
serveDashboard(pool, { socket: SOCKET }). A host other than 127.0.0.1 requires --token (16
characters or more).`;

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the command should stop (default: SIGINT or SIGTERM). */
  stopped?: Promise<void>;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** Run the dashboard command; resolves with the exit status. */
export async function dashboardCommand(argv: readonly string[], io: CommandIo = { out: console.log, err: console.error }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        adapter: { type: 'string' },
        attach: { type: 'string' },
        size: { type: 'string' },
        python: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`snakepit dashboard: ${(err as Error).message}\n${DASHBOARD_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(DASHBOARD_USAGE);
    return 0;
  }
  if ((values.adapter === undefined) === (values.attach === undefined)) {
    io.err(`snakepit dashboard: give either --adapter or --attach\n${DASHBOARD_USAGE}`);
    return 2;
  }
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new InvalidOptionsError(`--${name} must be a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  let pool: Pool | undefined;
  try {
    const size = int('size', values.size);
    const port = int('port', values.port);
    const where = {
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values.token !== undefined ? { token: values.token } : {}),
    };
    if (values.attach !== undefined) {
      const attached = await attachDashboard(values.attach, where);
      io.out(`dashboard: ${attached.url}`);
      await (io.stopped ?? untilSignal());
      await attached.close();
      return 0;
    }
    pool = await Pool.start({
      adapter: values.adapter!,
      ...(size !== undefined ? { size } : {}),
      ...(values.python !== undefined ? { python: values.python } : {}),
    });
    const dashboard = await serveDashboard(pool, where);
    io.out(`dashboard: ${dashboard.url}`);
    await (io.stopped ?? untilSignal());
    await dashboard.close();
    await pool.close();
    return 0;
  } catch (err) {
    await pool?.destroy();
    io.err(`snakepit dashboard: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
