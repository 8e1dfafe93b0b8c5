/** The allowlist's pattern rules and the shipped deny list (pure logic, plus one drift check). */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { resolvePoolOptions } from '../src/options.js';
import { checkAllowPattern, denialReason, isAllowed } from '../src/pool/allowlist.js';
import { METHOD_DENY, NEVER, WILDCARD_DENY, deniedBy } from '../src/security/denylist.js';
import { PYTHON, ROOT, fixture } from './helpers.js';

describe('security: allow patterns', () => {
  it('a wildcard matches one level below its module, never a submodule or a longer module name', () => {
    assert.ok(isAllowed('numpy.sqrt', ['numpy.*']));
    assert.ok(!isAllowed('numpy.linalg.norm', ['numpy.*']));
    assert.ok(isAllowed('numpy.linalg.norm', ['numpy.linalg.*']));
    assert.ok(!isAllowed('numpyx.sqrt', ['numpy.*']));
    assert.ok(!isAllowed('numpy', ['numpy.*']));
  });

  it('no wildcard matches a deny-listed name; an exact pattern does, except for NEVER names', () => {
    for (const [name, pattern] of [['os.system', 'os.*'], ['os.path.expandvars', 'os.path.*'], ['numpy.load', 'numpy.*'],
      ['subprocess.run', 'subprocess.*'], ['pickle.loads', 'pickle.*'], ['builtins.len', 'builtins.*']] as const) {
      assert.match(denialReason(name, [pattern])!, /deny list .*name it exactly/, name);
      assert.ok(isAllowed(name, [name]), `${name} named exactly`);
    }
    for (const name of ['builtins.getattr', 'builtins.exec', 'operator.attrgetter', 'io.open']) {
      assert.match(denialReason(name, ['builtins.*', 'operator.*', 'io.*'])!, /no allow pattern grants it/, name);
      assert.match(checkAllowPattern(name)!, /no pattern grants it/, name);
    }
    assert.throws(() => resolvePoolOptions({ adapter: fixture('hostile.py'), allow: ['math.*', 'builtins.getattr'] }), /options\.allow\[1\] names "builtins\.getattr"/);
  });

  it('deny entries: exact names cover what is below them; .* one level; .** a subtree', () => {
    assert.equal(deniedBy('numpy.load', ['numpy.load']), 'numpy.load');
    assert.equal(deniedBy('numpy.load.x', ['numpy.load']), 'numpy.load');
    assert.equal(deniedBy('numpy.loadtxt', ['numpy.load']), undefined);
    assert.equal(deniedBy('os.system', ['os.*']), 'os.*');
    assert.equal(deniedBy('os.path.join', ['os.*']), undefined);
    assert.equal(deniedBy('numpy.lib.format.read_array', ['numpy.lib.**']), 'numpy.lib.**');
    assert.equal(deniedBy('numpy.libx', ['numpy.lib.**']), undefined);
  });

  it('the host and the worker ship the same deny list', () => {
    const script = 'import json; from snakepit_bridge import denylist as d; print(json.dumps([d.NEVER, d.WILDCARD_DENY, d.METHOD_DENY]))';
    const out = execFileSync(PYTHON, ['-c', script], { cwd: `${ROOT}/python`, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), [NEVER, WILDCARD_DENY, METHOD_DENY]);
  });
});
