/**
 * The library under test, loaded from its compiled form (dist/), as users run it. Loading the
 * TypeScript sources through tsx instead adds transpiler helpers to the hot path (about 3 us of host
 * CPU per call), which would measure the dev loader, not the library. Types come from src/.
 * The bench scripts build dist/ first (`npm run build`).
 */

import { importLibrary } from './env.js';

const lib = await importLibrary();

export const Pool = lib.Pool;
export type Pool = import('../../src/index.js').Pool;
export const NDArray = lib.NDArray;
export type NDArray = import('../../src/index.js').NDArray;
export const Agent = lib.Agent;
export const createGateway = lib.createGateway;
