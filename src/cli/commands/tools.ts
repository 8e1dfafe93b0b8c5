import type { ToolInfo } from '../../pool/tools.js';
import { startPool } from '../catalogue.js';
import { EXIT_OK, stringOption, type Command } from '../command.js';
import { toJson } from '../json.js';

function signature(tool: ToolInfo): string {
  const params = tool.parameters.map((p) => {
    const star = p.kind === 'var_positional' ? '*' : p.kind === 'var_keyword' ? '**' : '';
    const type = p.type !== null ? `: ${p.type}` : '';
    const dflt = p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : p.defaultRepr !== undefined ? ` = ${p.defaultRepr}` : '';
    return `${star}${p.name}${type}${dflt}`;
  });
  return `${tool.name}(${params.join(', ')})${tool.returns !== null ? ` -> ${tool.returns}` : ''}`;
}

export const command: Command = {
  name: 'tools',
  summary: 'List the tools of an adapter: parameters, types, defaults, docstrings',
  usage: 'snakepit tools <adapter> [--json] [--python P]',
  help: `
Starts one worker with the adapter and prints its tool catalogue: each tool's signature (parameter
types and defaults as written in Python), whether it streams, and its docstring.

Options:
  --json        the catalogue as JSON, with each annotation's type tree (schema, returnsSchema)
  --python P    the Python executable (default: see \`snakepit doctor\`)

Exit codes: 0 listed; 1 the adapter could not be loaded; 2 usage error.`,
  options: { json: { type: 'boolean' }, python: { type: 'string' } },
  async run(ctx) {
    const pool = await startPool({ adapter: ctx.positionals[0], python: stringOption(ctx, 'python'), cwd: ctx.cwd }, { types: true });
    try {
      const tools = [...pool.tools()].sort((a, b) => a.name.localeCompare(b.name));
      if (ctx.values.json === true) {
        ctx.out(toJson(tools, 2));
        return EXIT_OK;
      }
      for (const tool of tools) {
        ctx.out(`${signature(tool)}${tool.stream ? '  [stream]' : ''}${tool.async ? '  [async]' : ''}`);
        if (tool.doc) ctx.out(tool.doc.split('\n').map((l) => (l ? `    ${l}` : '')).join('\n'));
      }
      return EXIT_OK;
    } finally {
      await pool.close();
    }
  },
};
