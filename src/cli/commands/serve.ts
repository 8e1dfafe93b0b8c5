import { SERVE_HELP, serveCommand } from '../../serving/serve-command.js';
import { EXIT_USAGE, type Command } from '../command.js';

/** `snakepit serve`: the HTTP gateway (src/serving). It parses its own arguments. */
export const command: Command = {
  name: 'serve',
  summary: 'Serve an adapter over HTTP: calls, server-sent events, WebSocket sessions, OpenAPI',
  usage: 'snakepit serve <adapter> [--port N] [--host H] [--size N] [--token TOKEN=TENANT]... [--python P]',
  help: SERVE_HELP,
  options: {},
  run: async () => EXIT_USAGE,
  runArgs: (argv, ctx) => serveCommand([...argv], ctx.out),
};
