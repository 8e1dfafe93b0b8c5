import { DASHBOARD_USAGE, dashboardCommand } from '../../dashboard/cli.js';
import { EXIT_USAGE, type Command } from '../command.js';

/** `snakepit dashboard`: the live dashboard (src/dashboard). It parses its own arguments. */
export const command: Command = {
  name: 'dashboard',
  summary: 'Serve a live dashboard of a pool: started from an adapter, or attached to a running one',
  usage: 'snakepit dashboard --adapter FILE | --attach SOCKET [--port N] [--host ADDR] [--token TOKEN]',
  help: DASHBOARD_USAGE,
  options: {},
  run: async () => EXIT_USAGE,
  runArgs: (argv, ctx) => dashboardCommand(argv, { out: ctx.out, err: ctx.err }),
};
