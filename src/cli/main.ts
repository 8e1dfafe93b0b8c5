#!/usr/bin/env node
/**
 * The `snakepit` command: `snakepit <command> [arguments] [options]`. Each command lives in
 * src/cli/commands/<name>.ts; see docs/cli.md.
 */

import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';

const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const err = (text: string): void => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);

async function overview(): Promise<string> {
  const lines = ['Usage: snakepit <command> [arguments] [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  lines.push('', 'Run `snakepit <command> --help` for a command\'s arguments and options.');
  lines.push('Exit codes: 0 success, 1 the command failed, 2 usage error.');
  return lines.join('\n');
}

/** The package's version: package.json beside dist/ (the built bin) or above src/cli/ (the sources). */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const file = new URL(rel, import.meta.url);
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'snakepit' && pkg.version) return pkg.version;
    }
  }
  return 'unknown';
}

function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.help.trim()}\n`;
}

// `snakepit tools x | head`: a closed stdout ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? rest[0] : undefined;
    if (target !== undefined && !Object.hasOwn(COMMANDS, target)) {
      err(`snakepit help: unknown command ${JSON.stringify(target)}\n\n${await overview()}`);
      return EXIT_USAGE;
    }
    const help = target !== undefined ? await COMMANDS[target]?.() : undefined;
    if (help?.runArgs !== undefined) return help.runArgs(['--help'], { out, err, cwd: process.cwd() });
    if (help !== undefined) out(commandHelp(help));
    else out(await overview());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    out(`snakepit ${version()}`);
    return EXIT_OK;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    err(`snakepit: unknown command ${JSON.stringify(name)}\n\n${await overview()}`);
    return EXIT_USAGE;
  }
  const command = await load();
  if (command.runArgs !== undefined) return command.runArgs(rest, { out, err, cwd: process.cwd() });
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    err(`snakepit ${name}: ${(e as Error).message}\n${commandHelp(command)}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help === true) {
    out(commandHelp(command));
    return EXIT_OK;
  }
  const ctx: CommandContext = {
    positionals: parsed.positionals,
    values: parsed.values as Record<string, string | boolean | undefined>,
    cwd: process.cwd(),
    out,
    err,
  };
  try {
    return await command.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`snakepit ${name}: ${e.message}\nUsage: ${command.usage}`);
      return EXIT_USAGE;
    }
    const error = e as Error & { code?: string };
    err(`snakepit ${name}: ${error.code ? `${error.code} ` : ''}${error.message}`);
    return EXIT_FAILED;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`snakepit: ${(e as Error)?.stack ?? String(e)}`);
    process.exitCode = EXIT_FAILED;
  },
);
