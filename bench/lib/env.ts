/** Paths, the Python executable and a description of the machine, shared by the benchmarks. */

import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
export const ADAPTER = path.join(BENCH_DIR, 'adapter.py');
export const PYTHON = process.env.SNAKEPIT_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
const BRIDGE_DIR = path.join(ROOT, 'python', 'snakepit_bridge');
/** The library as users load it: the compiled bundle (`npm run build` writes it). */
export const LIBRARY_URL = new URL('../../dist/index.js', import.meta.url);

/** Import the compiled bundle (LIBRARY_URL); throws, saying what to run, when dist/ is missing. */
export async function importLibrary(): Promise<typeof import('../../src/index.js')> {
  if (!existsSync(fileURLToPath(LIBRARY_URL))) {
    throw new Error('dist/ is missing: run `npm run build` before the benchmarks');
  }
  return (await import(LIBRARY_URL.href)) as typeof import('../../src/index.js');
}

/**
 * Compile the bridge and the benchmark's Python files to bytecode, as installing a package does
 * (pip compiles what it installs). Without it, a machine with PYTHONDONTWRITEBYTECODE=1 would compile
 * every module at every worker start. The start of a worker without that cache is measured apart
 * (the contender `snakepit cold`).
 */
export function compileBytecode(): void {
  const env = { ...process.env };
  delete env.PYTHONDONTWRITEBYTECODE;
  execFileSync(PYTHON, ['-m', 'compileall', '-q', BRIDGE_DIR, BENCH_DIR, path.join(BENCH_DIR, 'peers')], { env, stdio: 'inherit' });
}

/** Remove the bridge's cached bytecode, so that the next worker compiles every module it imports. */
export function dropBridgeBytecode(): void {
  rmSync(path.join(BRIDGE_DIR, '__pycache__'), { recursive: true, force: true });
}

export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
  python: string;
  loadavg: number[];
  commit: string;
}

export function machineInfo(): MachineInfo {
  let python = 'unknown';
  let commit = 'unknown';
  try {
    python = execFileSync(PYTHON, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as unknown */
  }
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    commit,
  };
}
