/** The `snakepit` commands. Adding one: a file in this folder exporting `command`, and one line here. */

import type { Command } from '../command.js';

export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  doctor: async () => (await import('./doctor.js')).command,
  tools: async () => (await import('./tools.js')).command,
  call: async () => (await import('./call.js')).command,
  codegen: async () => (await import('./codegen.js')).command,
  init: async () => (await import('./init.js')).command,
  env: async () => (await import('./env.js')).command,
  serve: async () => (await import('./serve.js')).command,
  dashboard: async () => (await import('./dashboard.js')).command,
  agent: async () => (await import('./agent.js')).command,
};
