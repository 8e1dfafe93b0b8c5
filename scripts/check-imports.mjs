#!/usr/bin/env node
// House rules the linter does not cover, checked with the TypeScript parser:
//  1. no import cycle between files of src/ through imports of values (`import type` and imports of
//     types only are erased at compile time and run nothing, so they may point back);
//  2. no unused export: every name a file of src/ exports is imported by another file (src/, test/,
//     bench/, examples/, scripts/), or re-exported by src/index.ts (the public API). A type
//     (interface or alias) that the file's own declarations use is part of that file's API and may
//     stay exported for implementers. Generated files (a first comment saying "generated") and
//     modules that also run as a command (`import.meta.url === pathToFileURL(process.argv[1]).href`)
//     are skipped: their exports are for tools outside the import graph;
//  3. no `import()` of a package or a built-in module in src/ except in src/boot/import.ts (and the
//     loader beside it, which Node compiles itself): the bundle compiled from V8's code cache cannot
//     run `import()` itself (src/boot/code-cache.ts);
//  4. Node's built-in modules imported by name only (`import { join } from 'node:path'`): for a default
//     or namespace import (`import path from 'node:path'`) the bundle copies every export of the module
//     into an object of getters when it loads, about a tenth of the package's load for nineteen of them.
// Prints each problem and exits 1 if there is one. Run by `make lint`.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['src'];
const USER_DIRS = ['src', 'test', 'bench', 'examples', 'scripts'];

function walk(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** A relative specifier resolved to a file of the tree (./x.js -> ./x.ts), or undefined. */
function resolve(from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** An import or export that brings in types only (erased at compile time). */
function isTypeOnly(node) {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const clause = node.exportClause;
    return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((el) => el.isTypeOnly);
  }
  const clause = node.importClause;
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((el) => el.isTypeOnly);
}

const parsed = new Map();
function parse(file) {
  let sf = parsed.get(file);
  if (sf === undefined) {
    sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    parsed.set(file, sf);
  }
  return sf;
}

/**
 * Static imports and re-exports of `file`: [{ target, names: Set | '*', dynamic, typeOnly }].
 * Dynamic import() is '*'.
 */
function importsOf(file) {
  const sf = parse(file);
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const target = resolve(file, node.moduleSpecifier.text);
      if (target !== undefined) {
        let names = new Set();
        if (ts.isImportDeclaration(node)) {
          const clause = node.importClause;
          if (clause?.name) names.add('default');
          const bindings = clause?.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) names = '*';
          else if (bindings) for (const el of bindings.elements) names.add((el.propertyName ?? el.name).text);
        } else if (node.exportClause && ts.isNamedExports(node.exportClause)) {
          for (const el of node.exportClause.elements) names.add((el.propertyName ?? el.name).text);
        } else {
          names = '*';
        }
        out.push({ target, names, dynamic: false, typeOnly: isTypeOnly(node) });
      }
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      const target = arg && ts.isStringLiteral(arg) ? resolve(file, arg.text) : undefined;
      if (target !== undefined) out.push({ target, names: '*', dynamic: true });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const target = resolve(file, node.argument.literal.text);
      if (target !== undefined) out.push({ target, names: '*', dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Names `file` exports itself (not re-exports): [{ name, type, node }]. */
function exportsOf(file) {
  const names = [];
  for (const st of parse(file).statements) {
    const exported = ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const type = ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st);
    if (exported) {
      const isDefault = ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);
      if (isDefault) names.push({ name: 'default', type, node: st });
      else if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push({ name: d.name.text, type, node: st });
      } else if (st.name && ts.isIdentifier(st.name)) names.push({ name: st.name.text, type, node: st });
    } else if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) names.push({ name: el.name.text, type: st.isTypeOnly || el.isTypeOnly, node: st });
    }
  }
  return names;
}

/** Whether identifier `name` occurs in `file` outside the declaration `own`. */
function usedInFile(file, name, own) {
  let found = false;
  const visit = (node) => {
    if (found || node === own) return;
    if (ts.isIdentifier(node) && node.text === name) found = true;
    else ts.forEachChild(node, visit);
  };
  visit(parse(file));
  return found;
}

const GENERATED = /^\s*(\/\/|\/\*)[^\n]*\bgenerated\b/i;
const COMMAND = /import\.meta\.url\s*===\s*pathToFileURL\(process\.argv\[1\]\)/;

const rel = (f) => path.relative(root, f);
const problems = [];

// 1. cycles (Tarjan's strongly connected components over static imports of src/)
const sources = SOURCE_DIRS.flatMap((d) => walk(path.join(root, d))).filter((f) => /\.(ts|mts)$/.test(f));
const edges = new Map(sources.map((f) => [f, [...new Set(importsOf(f).filter((i) => !i.dynamic && !i.typeOnly).map((i) => i.target))]]));
let index = 0;
const stack = [];
const info = new Map();
function strong(v) {
  info.set(v, { index, low: index, on: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v) ?? []) {
    if (!edges.has(w)) continue;
    if (!info.has(w)) {
      strong(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).on) {
      info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).on = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) problems.push(`import cycle: ${component.map(rel).sort().join(' <-> ')}`);
  }
}
for (const f of sources) if (!info.has(f)) strong(f);

// 2. unused exports
const users = USER_DIRS.flatMap((d) => walk(path.join(root, d)));
const used = new Map();
for (const file of users) {
  for (const { target, names } of importsOf(file)) {
    if (target === file) continue;
    let set = used.get(target);
    if (set === undefined) used.set(target, (set = new Set()));
    if (names === '*') set.add('*');
    else for (const n of names) set.add(n);
  }
}
const publicEntry = path.join(root, 'src', 'index.ts');
for (const file of sources) {
  if (file === publicEntry) continue;
  const set = used.get(file) ?? new Set();
  const text = parse(file).text;
  if (set.has('*') || GENERATED.test(text) || COMMAND.test(text)) continue;
  for (const { name, type, node } of exportsOf(file)) {
    if (set.has(name) || (type && usedInFile(file, name, node))) continue;
    problems.push(`unused export: ${name} in ${rel(file)}`);
  }
}

// 3. import() of a package or built-in only in src/boot/import.ts and the loader
const importers = new Set(['import.ts', 'code-cache.ts'].map((f) => path.join(root, 'src', 'boot', f)));
for (const file of sources) {
  if (importers.has(file)) continue;
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (!(arg && ts.isStringLiteral(arg) && arg.text.startsWith('.'))) {
        const { line } = parse(file).getLineAndCharacterOfPosition(node.getStart());
        problems.push(`import() of a package or built-in at ${rel(file)}:${line + 1}: use importModule from src/boot/import.ts`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(parse(file));
}

// 4. built-in modules imported by name only
for (const file of sources) {
  for (const stmt of parse(file).statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier) || !stmt.moduleSpecifier.text.startsWith('node:')) continue;
    const clause = stmt.importClause;
    if (clause === undefined || clause.isTypeOnly) continue;
    if (clause.name !== undefined || (clause.namedBindings !== undefined && ts.isNamespaceImport(clause.namedBindings))) {
      const { line } = parse(file).getLineAndCharacterOfPosition(stmt.getStart());
      problems.push(`default or namespace import of ${stmt.moduleSpecifier.text} at ${rel(file)}:${line + 1}: import the names used`);
    }
  }
}

for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`imports ok: ${sources.length} files of src/, no cycle, no unused export, no import() outside src/boot/import.ts, built-ins imported by name`);
