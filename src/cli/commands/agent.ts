import { AGENT_HELP, agentCommand } from '../../cluster/agent-main.js';
import { EXIT_USAGE, type Command } from '../command.js';

/** `snakepit agent`: serve a local pool to remote hosts on NATS (docs/cluster.md). It parses its own arguments. */
export const command: Command = {
  name: 'agent',
  summary: 'Serve a local pool on NATS to hosts that use Pool.connect (docs/cluster.md)',
  usage: 'snakepit agent --nats URL --pool NAME --adapter FILE [--size N] [auth and TLS options]',
  help: AGENT_HELP,
  options: {},
  run: async () => EXIT_USAGE,
  runArgs: (argv) => agentCommand(argv),
};
