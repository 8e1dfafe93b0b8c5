// Builds dist/: type declarations from tsc (which also type-checks the sources with the build's
// stricter settings); the library as one CommonJS bundle by esbuild, dist/cjs/bundle.js (one file loads
// in about 12 ms where the 40-odd modules tsc emits took about 30 ms), with its two entry points:
// dist/cjs/index.js for `require('snakepit')` and dist/index.js for `import`, both loading the bundle
// through V8's code cache (src/boot/code-cache.ts) and a first cache file beside it; dist/cjs/package.json
// marks the folder as CommonJS and holds a copy of the declarations, so that TypeScript reads them as
// CommonJS types. The `snakepit` command is a bundle of its own, dist/cli.js.
//
// It runs as `prepare`, also where npm has not installed the dev dependencies: `npm install <folder>`
// links the folder and runs `prepare` there without installing anything in it. When esbuild or
// typescript is missing, this script installs the checkout's own dependencies first (what npm itself
// does for a git dependency), with scripts off so that it does not run itself again.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

function resolveTool(name) {
  try {
    return createRequire(path.join(root, 'package.json')).resolve(name);
  } catch {
    return undefined;
  }
}

function installBuildTools() {
  process.stderr.write('snakepit build: esbuild/typescript missing; installing the build dependencies\n');
  // The npm running this lifecycle script passes its settings down as npm_config_*; some of them
  // (prefix, global, the package being installed) would send this install elsewhere. Keep only where
  // packages come from.
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^npm_config_/i.test(key) && !/^npm_config_(registry|cache|userconfig|@.*:registry)$/i.test(key)) delete env[key];
  }
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm && npm.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  execFileSync(
    cmd,
    [...args, 'install', '--include=dev', '--ignore-scripts', '--no-save', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', root],
    { cwd: root, stdio: ['ignore', 2, 2], env },
  );
}

if (!resolveTool('esbuild') || !resolveTool('typescript/bin/tsc')) installBuildTools();
const tsc = resolveTool('typescript/bin/tsc');
const esbuildPath = resolveTool('esbuild');
if (!tsc || !esbuildPath) throw new Error('snakepit build: esbuild and typescript are needed to build dist/');
const { build } = await import(pathToFileURL(esbuildPath).href);

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 2, 2] });

const common = {
  entryPoints: [path.join(root, 'src', 'index.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // Optional peer dependency, imported lazily by the cluster features only.
  external: ['nats'],
};
// The library: one CommonJS bundle, dist/cjs/bundle.js. CommonJS has no import.meta: the bundle's own
// URL stands in for it (the bridge is found relative to it).
const bundle = path.join(dist, 'cjs', 'bundle.js');
await build({
  ...common,
  outfile: bundle,
  format: 'cjs',
  define: { 'import.meta.url': '__snakepit_module_url' },
  banner: { js: 'const __snakepit_module_url = require("node:url").pathToFileURL(__filename).href;' },
});
// Its entry points load it through V8's code cache (src/boot/code-cache.ts): dist/cjs/index.js for
// `require('snakepit')`, and dist/index.js for `import`, which takes the same module's exports (one copy
// of the library in a process, whichever way it is loaded; an ES module cannot be compiled from a code
// cache on Node 20).
await build({
  platform: 'node',
  target: 'node20',
  bundle: true,
  logLevel: 'warning',
  format: 'cjs',
  outfile: path.join(dist, 'cjs', 'index.js'),
  stdin: {
    contents:
      "const { loadBundle } = require('./code-cache.ts');\n" +
      "module.exports = loadBundle(require('node:path').join(__dirname, 'bundle.js'), { require }).exports;\n",
    resolveDir: path.join(root, 'src', 'boot'),
    sourcefile: 'entry.cjs',
    loader: 'js',
  },
});
writeFileSync(path.join(dist, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');

// The declarations, again under dist/cjs/ (the same text reads as CommonJS types there).
function copyDeclarations(from, to) {
  for (const name of readdirSync(from)) {
    const source = path.join(from, name);
    if (source === path.join(dist, 'cjs')) continue;
    if (statSync(source).isDirectory()) copyDeclarations(source, path.join(to, name));
    else if (name.endsWith('.d.ts')) {
      mkdirSync(to, { recursive: true });
      cpSync(source, path.join(to, name));
    }
  }
}
copyDeclarations(dist, path.join(dist, 'cjs'));
if (!existsSync(path.join(dist, 'cjs', 'index.d.ts'))) throw new Error('snakepit build: declarations missing');

// A first code cache, of what loading the bundle compiles (the first pool to run writes a fuller one),
// made by a process of its own that also lists the library's exports for dist/index.js.
const loaded = execFileSync(
  process.execPath,
  ['-e', `const lib = require(${JSON.stringify(path.join(dist, 'cjs', 'index.js'))}); globalThis[Symbol.for('snakepit.codeCache')].save(false); process.stdout.write(JSON.stringify(Object.keys(lib)));`],
  // A plain `node` (no NODE_OPTIONS): the cache file every process without options reads.
  { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 2], env: { ...process.env, SNAKEPIT_CODE_CACHE: '1', NODE_OPTIONS: '' } },
);
const names = JSON.parse(loaded);
if (!names.includes('Pool')) throw new Error(`snakepit build: the bundle exports ${loaded}`);
writeFileSync(
  path.join(dist, 'index.js'),
  `// The ES module entry: the library's exports, from the CommonJS entry that loads the bundle.\nimport lib from './cjs/index.js';\n\nexport const {\n${names.map((n) => `  ${n},\n`).join('')}} = lib;\n`,
);

// The `snakepit` command (package.json "bin"): its own ES module bundle, so the library's stays as small.
await build({ ...common, entryPoints: [path.join(root, 'src', 'cli', 'main.ts')], outfile: path.join(dist, 'cli.js'), format: 'esm', sourcemap: false });
