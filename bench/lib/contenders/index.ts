/** The contenders by name. */

import type { Contender } from '../contender.js';
import { ncp } from './ncp.js';
import { pyshell } from './pyshell.js';
import { pythonia } from './pythonia.js';
import { raw } from './raw.js';
import { snakepit } from './snakepit.js';

export const CONTENDERS: Record<string, () => Contender> = {
  'snakepit': () => snakepit(1),
  'snakepit c32': () => snakepit(32),
  'snakepit cold': () => snakepit(1, true),
  'snakepit forkserver': () => snakepit(1, false, true),
  'snakepit forkserver cold': () => snakepit(1, true, true),
  'snakepit minReady 1': () => snakepit(1, false, false, true),
  'snakepit forkserver minReady 1': () => snakepit(1, false, true, true),
  'raw pipe': raw,
  'python-shell': pyshell,
  'pythonia': pythonia,
  'node-calls-python': ncp,
};
