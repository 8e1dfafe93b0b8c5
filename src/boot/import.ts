/**
 * `import(specifier)` for the modules the library loads when first needed (node:http, the optional
 * packages). A bundle compiled from V8's code cache cannot run `import()` itself on Node 20: the
 * callback Node attaches to a compiled script does not survive the cache
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING). So the loader (code-cache.ts) hands the bundle an `import()`
 * of its own, from a file Node compiled in the same folder (`__snakepit_import`, a parameter of the
 * bundle's wrapper); anywhere else (the sources, the command's bundle, a bundle required as it is) the
 * name is undeclared and `import()` runs here.
 */

declare const __snakepit_import: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule<T>(specifier: string): Promise<T> {
  return (typeof __snakepit_import === 'function' ? __snakepit_import(specifier) : import(specifier)) as Promise<T>;
}
