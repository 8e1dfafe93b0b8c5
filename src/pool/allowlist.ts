/**
 * The allowlist of `pool.python.call` and `pool.python.create`: deny by default. A pattern is a
 * dotted name (`math.sqrt`: that name only) or a dotted name followed by `.*` (`numpy.*`: every name
 * below `numpy`). The worker applies the same rules again before it imports anything
 * (python/snakepit_bridge/allow.py); docs/security.md describes the threat model.
 */

const SEGMENT = /^[A-Za-z][A-Za-z0-9_]*$/;

/** A description of what is wrong with an allowlist pattern, or undefined when it is valid. */
export function checkAllowPattern(pattern: string): string | undefined {
  const body = pattern.endsWith('.*') ? pattern.slice(0, -2) : pattern;
  if (body === '' || body === '*') {
    return `must name a module or a callable; ${JSON.stringify(pattern)} would allow everything`;
  }
  const problem = checkSegments(body);
  return problem === undefined ? undefined : `${problem} in ${JSON.stringify(pattern)}`;
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
  for (const pattern of patterns) {
    if (pattern.endsWith('.*')) {
      if (name.startsWith(pattern.slice(0, -1))) return true;
    } else if (name === pattern) {
      return true;
    }
  }
  return false;
}
