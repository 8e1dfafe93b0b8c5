import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import { generateClient } from '../../codegen/generate.js';
import { startPool } from '../catalogue.js';
import { EXIT_FAILED, EXIT_OK, stringOption, type Command } from '../command.js';

const TOOLS_PY = `"""Tools the TypeScript side calls: each @tool function becomes a typed method of client.ts."""

from collections.abc import Iterator

from snakepit_bridge import tool


@tool
def greet(name: str, excited: bool = False) -> str:
    """Say hello to someone."""
    return f"Hello, {name}{'!' if excited else '.'}"


@tool
def count(n: int) -> Iterator[int]:
    """Count from 1 to n, one chunk at a time."""
    yield from range(1, n + 1)
`;

function mainTs(importFrom: string): string {
  return `import { Pool } from '${importFrom}';
import { createClient } from './client.js';

const pool = await Pool.start({ adapter: new URL('./tools.py', import.meta.url).pathname, size: 1 });
try {
  const client = createClient(pool);
  console.log(await client.greet({ name: 'world', excited: true }));
  for await (const n of client.count({ n: 3 })) console.log(n);
} finally {
  await pool.close();
}
`;
}

const README = `
## Python tools (snakepit)

- \`tools.py\`: the Python tools; \`main.ts\`: calls them through the typed client.
- \`npx snakepit codegen tools.py -o client.ts\`: regenerate \`client.ts\` after changing \`tools.py\`
  (\`--check\` in CI fails when it is stale).
- \`npx tsx main.ts\`: run it. \`npx snakepit doctor\`: check the installation.
`;

export const command: Command = {
  name: 'init',
  summary: 'Write a working starter: tools.py, a typed client, main.ts, README lines',
  usage: 'snakepit init [dir] [--force] [--import-from snakepit] [--python P]',
  help: `
Writes into dir (default: the current folder) tools.py (two @tool functions), client.ts (generated
from tools.py, as \`snakepit codegen\` does), main.ts (starts a pool and calls both tools through the
client), a package.json with "type": "module" when there is none, and a few lines in README.md. Run it with \`npx tsx main.ts\`.

Options:
  --force           overwrite tools.py, client.ts and main.ts when they exist
  --import-from M   module main.ts and client.ts import the library from (default snakepit)
  --python P        the Python executable used to generate the client

Exit codes: 0 written; 1 a file exists (without --force) or the client could not be generated;
2 usage error.`,
  options: { force: { type: 'boolean' }, 'import-from': { type: 'string' }, python: { type: 'string' } },
  async run(ctx) {
    const dir = resolvePath(ctx.cwd, ctx.positionals[0] ?? '.');
    const importFrom = stringOption(ctx, 'import-from') ?? 'snakepit';
    const files = ['tools.py', 'client.ts', 'main.ts'];
    if (ctx.values.force !== true) {
      const existing = files.filter((f) => existsSync(join(dir, f)));
      if (existing.length) {
        ctx.err(`snakepit init: ${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} in ${dir} (use --force to overwrite)`);
        return EXIT_FAILED;
      }
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tools.py'), TOOLS_PY);
    const pool = await startPool({ adapter: join(dir, 'tools.py'), python: stringOption(ctx, 'python'), cwd: dir }, { types: true });
    try {
      writeFileSync(join(dir, 'client.ts'), generateClient(pool.tools(), { source: 'tools.py', importFrom }));
    } finally {
      await pool.close();
    }
    writeFileSync(join(dir, 'main.ts'), mainTs(importFrom));
    const pkg = join(dir, 'package.json');
    const written = [...files];
    if (!existsSync(pkg)) {
      // main.ts uses top-level await: an ES module.
      writeFileSync(pkg, `${JSON.stringify({ name: basename(dir).toLowerCase().replace(/[^a-z0-9-]/g, '-'), private: true, type: 'module' }, null, 2)}\n`);
      written.push('package.json');
    }
    const readme = join(dir, 'README.md');
    const current = existsSync(readme) ? readFileSync(readme, 'utf8') : '';
    if (!current.includes('## Python tools (snakepit)')) writeFileSync(readme, current + README);
    for (const f of [...written, 'README.md']) ctx.out(`wrote ${join(dir, f)}`);
    ctx.out('next: npx tsx main.ts');
    return EXIT_OK;
  },
};
