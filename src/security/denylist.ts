/**
 * The shipped deny list (docs/security.md): the host's copy of python/snakepit_bridge/denylist.py,
 * checked against it by test/security-allowlist.test.ts. `NEVER`: names no allow pattern grants.
 * `WILDCARD_DENY`: names no wildcard matches (an exact pattern grants them). `METHOD_DENY`: methods a
 * reference does not expose by default. Entries: `a.b` (that name and below), `a.*` (direct members of
 * module `a`), `a.**` (the whole subtree).
 */

export const NEVER: readonly string[] = [
  'builtins.eval',
  'builtins.exec',
  'builtins.compile',
  'builtins.open',
  'builtins.getattr',
  'builtins.setattr',
  'builtins.delattr',
  'builtins.breakpoint',
  'builtins.globals',
  'builtins.locals',
  'builtins.vars',
  'builtins.input',
  'builtins.help',
  'builtins.exit',
  'builtins.quit',
  'builtins.str.format',
  'builtins.str.format_map',
  'io.open',
  'operator.attrgetter',
  'operator.methodcaller',
  'string.Formatter',
  'functools.partial',
  'functools.partialmethod',
];

export const WILDCARD_DENY: readonly string[] = [
  'subprocess.**',
  'os.*',
  'posix.*',
  'nt.*',
  'pty.**',
  'multiprocessing.**',
  'concurrent.futures.process.**',
  'asyncio.**',
  'signal.**',
  'webbrowser.**',
  'platform.popen',
  'resource.**',
  'faulthandler.**',
  'os.environ',
  'os.getenv',
  'os.path.expandvars',
  'os.path.expanduser',
  'posixpath.expandvars',
  'posixpath.expanduser',
  'ntpath.expandvars',
  'ntpath.expanduser',
  'pathlib.**',
  'builtins.*',
  'code.**',
  'codeop.**',
  'runpy.**',
  'pdb.**',
  'bdb.**',
  'timeit.**',
  'cProfile.**',
  'profile.**',
  'trace.**',
  'doctest.**',
  'pydoc.**',
  'inspect.**',
  'traceback.**',
  'threading.**',
  'gc.**',
  'sys.**',
  'types.**',
  'operator.**',
  'functools.**',
  'logging.config.**',
  'importlib.**',
  'pkgutil.**',
  'zipimport.**',
  'imp.**',
  'site.**',
  'ctypes.**',
  'cffi.**',
  'pickle.**',
  'pickletools.**',
  'copyreg.**',
  'marshal.**',
  'shelve.**',
  'dbm.**',
  'dill.**',
  'cloudpickle.**',
  'joblib.load',
  'joblib.dump',
  'torch.load',
  'torch.save',
  'torch.hub.**',
  'torch.package.**',
  'torch.utils.cpp_extension.**',
  'pandas.read_pickle',
  'pandas.to_pickle',
  'pandas.eval',
  'pandas.io.**',
  'io.**',
  'codecs.open',
  'shutil.**',
  'tempfile.**',
  'fileinput.**',
  'zipfile.**',
  'tarfile.**',
  'sqlite3.**',
  'mmap.**',
  'gzip.open',
  'bz2.open',
  'lzma.open',
  'numpy.load',
  'numpy.save',
  'numpy.savez',
  'numpy.savez_compressed',
  'numpy.savetxt',
  'numpy.memmap',
  'numpy.DataSource',
  'numpy.lib.**',
  'numpy.distutils.**',
  'numpy.f2py.**',
  'numpy.ctypeslib.**',
  'numpy.testing.**',
];

export const METHOD_DENY: readonly string[] = [
  'numpy.ndarray.tofile',
  'numpy.ndarray.dump',
  'numpy.ndarray.ctypes',
  'pandas.DataFrame.to_pickle',
  'pandas.Series.to_pickle',
  'pandas.DataFrame.eval',
  'pandas.DataFrame.query',
];

/** The entry of `entries` that covers the dotted `name`, or undefined. */
export function deniedBy(name: string, entries: readonly string[]): string | undefined {
  for (const entry of entries) {
    if (entry.endsWith('.**')) {
      const base = entry.slice(0, -3);
      if (name === base || name.startsWith(`${base}.`)) return entry;
    } else if (entry.endsWith('.*')) {
      const base = entry.slice(0, -1);
      if (name.startsWith(base) && !name.slice(base.length).includes('.')) return entry;
    } else if (name === entry || name.startsWith(`${entry}.`)) {
      return entry;
    }
  }
  return undefined;
}
