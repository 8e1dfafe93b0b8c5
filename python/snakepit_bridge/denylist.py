"""The shipped list of dangerous callables (docs/security.md).

``NEVER``: names no allow pattern grants, not even an exact one. They evaluate strings as code or
walk attributes by a name given as data, so they would undo every other rule.

``WILDCARD_DENY``: names no wildcard ever matches; an exact allow pattern (``numpy.load``) grants
them. They run processes, load pickles, read the environment, reach the import machinery or native
code, or write files.

An entry is a dotted name (that object, found by name and by identity wherever it is re-exported),
``mod.*`` (every direct member of module ``mod``, and anything whose ``__module__`` is ``mod``) or
``mod.**`` (the whole subtree). ``METHOD_DENY`` names methods and attributes of classes
(``numpy.ndarray.tofile``, ``numpy.ndarray.ctypes``) that a reference does not expose by default.

The host keeps the same lists in src/security/denylist.ts; a test checks that they agree."""

from __future__ import annotations

NEVER: tuple[str, ...] = (
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.open",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.breakpoint",
    "builtins.globals",
    "builtins.locals",
    "builtins.vars",
    "builtins.input",
    "builtins.help",
    "builtins.exit",
    "builtins.quit",
    "builtins.str.format",
    "builtins.str.format_map",
    "io.open",
    "operator.attrgetter",
    "operator.methodcaller",
    "string.Formatter",
    "functools.partial",
    "functools.partialmethod",
)

WILDCARD_DENY: tuple[str, ...] = (
    # process execution
    "subprocess.**",
    "os.*",
    "posix.*",
    "nt.*",
    "pty.**",
    "multiprocessing.**",
    "concurrent.futures.process.**",
    "asyncio.**",
    "signal.**",
    "webbrowser.**",
    "platform.popen",
    "resource.**",
    "faulthandler.**",
    # the environment
    "os.environ",
    "os.getenv",
    "os.path.expandvars",
    "os.path.expanduser",
    "posixpath.expandvars",
    "posixpath.expanduser",
    "ntpath.expandvars",
    "ntpath.expanduser",
    "pathlib.**",
    # code from strings, interpreters, debuggers, introspection
    "builtins.*",
    "code.**",
    "codeop.**",
    "runpy.**",
    "pdb.**",
    "bdb.**",
    "timeit.**",
    "cProfile.**",
    "profile.**",
    "trace.**",
    "doctest.**",
    "pydoc.**",
    "inspect.**",
    "traceback.**",
    "threading.**",
    "gc.**",
    "sys.**",
    "types.**",
    "operator.**",
    "functools.**",
    "logging.config.**",
    # import machinery and native code
    "importlib.**",
    "pkgutil.**",
    "zipimport.**",
    "imp.**",
    "site.**",
    "ctypes.**",
    "cffi.**",
    # pickle and other object loaders
    "pickle.**",
    "pickletools.**",
    "copyreg.**",
    "marshal.**",
    "shelve.**",
    "dbm.**",
    "dill.**",
    "cloudpickle.**",
    "joblib.load",
    "joblib.dump",
    "torch.load",
    "torch.save",
    "torch.hub.**",
    "torch.package.**",
    "torch.utils.cpp_extension.**",
    "pandas.read_pickle",
    "pandas.to_pickle",
    "pandas.eval",
    "pandas.io.**",
    # files
    "io.**",
    "codecs.open",
    "shutil.**",
    "tempfile.**",
    "fileinput.**",
    "zipfile.**",
    "tarfile.**",
    "sqlite3.**",
    "mmap.**",
    "gzip.open",
    "bz2.open",
    "lzma.open",
    # numpy: pickle loading, file writing, build tools, native code
    "numpy.load",
    "numpy.save",
    "numpy.savez",
    "numpy.savez_compressed",
    "numpy.savetxt",
    "numpy.memmap",
    "numpy.DataSource",
    "numpy.lib.**",
    "numpy.distutils.**",
    "numpy.f2py.**",
    "numpy.ctypeslib.**",
    "numpy.testing.**",
)

METHOD_DENY: tuple[str, ...] = (
    "numpy.ndarray.tofile",
    "numpy.ndarray.dump",
    "numpy.ndarray.ctypes",
    "pandas.DataFrame.to_pickle",
    "pandas.Series.to_pickle",
    "pandas.DataFrame.eval",
    "pandas.DataFrame.query",
)
