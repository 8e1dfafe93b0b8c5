/**
 * The allowlist of `pool.python.call` and `pool.python.create`: deny by default. A pattern is a
 * dotted name (`math.sqrt`: that name only) or a module followed by `.*` (`numpy.*`: the names one
 * level below `numpy`, never a submodule's). No wildcard matches a name on the shipped deny list
 * (src/security/denylist.ts); no pattern at all matches a `NEVER` name. The worker applies the same
 * rules again before it imports anything, and checks the object it reaches (python/snakepit_bridge/
 * allow.py: `__all__`, re-exports, deny-listed objects under other names); docs/security.md has the
 * threat model.
 */

import { NEVER, WILDCARD_DENY, deniedBy } from '../security/denylist.js';

const SEGMENT = /^[A-Za-z][A-Za-z0-9_]*$/;

/** A description of what is wrong with an allowlist pattern, or undefined when it is valid. */
export function checkAllowPattern(pattern: string): string | undefined {
  const body = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern;
  if (body === '' || body === '*') {
    return `must name a module or a callable; ${JSON.stringify(pattern)} would allow everything`;
  }
  const problem = checkSegments(body);
  if (problem !== undefined) return `${problem} in ${JSON.stringify(pattern)}`;
  const never = pattern.endsWith('.*') ? undefined : deniedBy(pattern, NEVER);
  return never === undefined ? undefined : `names ${JSON.stringify(pattern)}, which is on the deny list (${never}): no pattern grants it`;
}

/** A description of what is wrong with a dotted name, or undefined when it is well formed. */
export function checkDottedName(name: string): string | undefined {
  if (name.length > 512) return 'is longer than 512 characters';
  if (!name.includes('.')) return 'must be module.attribute (a dotted name)';
  return checkSegments(name);
}

function checkSegments(body: string): string | undefined {
  for (const segment of body.split('.')) {
    if (segment.startsWith('_')) return `has the private segment ${JSON.stringify(segment)}; names starting with _ are never callable`;
    if (!SEGMENT.test(segment)) return `has the segment ${JSON.stringify(segment)}, which is not a Python identifier`;
  }
  return undefined;
}

/** Whether `name` (already well formed) is allowed by one of `patterns`. */
export function isAllowed(name: string, patterns: readonly string[]): boolean {
  return denialReason(name, patterns) === undefined;
}

function wildcardMatches(name: string, pattern: string): boolean {
  if (!pattern.endsWith('.*')) return false;
  const base = pattern.slice(0, -1);
  return name.startsWith(base) && !name.slice(base.length).includes('.');
}

/** Why `name` (already well formed) is denied by `patterns`, or undefined when it is allowed. */
export function denialReason(name: string, patterns: readonly string[]): string | undefined {
  const never = deniedBy(name, NEVER);
  if (never !== undefined) return `${JSON.stringify(name)} is on the deny list (${never}); no allow pattern grants it`;
  if (patterns.includes(name)) return undefined;
  if (patterns.some((p) => wildcardMatches(name, p))) {
    const entry = deniedBy(name, WILDCARD_DENY);
    if (entry === undefined) return undefined;
    return `${JSON.stringify(name)} is on the deny list (${entry}); no wildcard grants it: name it exactly in allow`;
  }
  const listed = patterns.length > 0 ? patterns.join(', ') : '(empty: every name is denied)';
  return `${JSON.stringify(name)} is not allowed by the pool's allow list: ${listed}`;
}
