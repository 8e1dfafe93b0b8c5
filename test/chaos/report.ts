/**
 * Combines the scenario results in test/chaos/results/*.json into one report, prints it, and writes
 * it to test/chaos/results/report.md and report.json. Exits with status 1 when a scenario is missing
 * or any lost, hung or untyped call, unhandled rejection or orphan was recorded.
 *
 * Run after the chaos tests: `node --import tsx test/chaos/report.ts` (make test-chaos does).
 */

import { readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { RESULTS, percentile } from './harness.js';

const SPAWNED = ['R01', 'R02-R03', 'R04', 'R05', 'R06', 'R07', 'R08', 'R09', 'R10-R14', 'R12', 'R21', 'R22', 'R23'];
/**
 * Every scenario runs four times: spawned workers, forked ones (`<id>-forkserver`, R31), and both
 * again under the sandbox (`<id>-sandbox`, `<id>-forkserver-sandbox`, docs/security.md).
 */
const EXPECTED = ['', '-forkserver', '-sandbox', '-forkserver-sandbox'].flatMap((mode) => SPAWNED.map((id) => id + mode));

interface Result {
  id: string;
  title: string;
  durationMs: number;
  faults: Record<string, number>;
  ledger: {
    submitted: number;
    ok: number;
    failed: number;
    failedByCode: Record<string, number>;
    lost: number;
    hung: number;
    untyped: number;
    unhandled: number;
  };
  deathToRejection: { count: number; p50: number | null; p99: number | null; samples: number[] };
  capacity: { count: number; p50: number | null; p99: number | null; samples: number[] };
  orphans: Record<string, number>;
  figures: Record<string, unknown>;
}

if (!existsSync(RESULTS)) mkdirSync(RESULTS, { recursive: true });
const results: Result[] = readdirSync(RESULTS)
  .filter((f) => /^R[\w-]+\.json$/.test(f))
  .map((f) => JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as Result)
  .sort((a, b) => a.id.localeCompare(b.id));

const sum = (f: (r: Result) => number): number => results.reduce((a, r) => a + f(r), 0);
const faults: Record<string, number> = {};
const byCode: Record<string, number> = {};
for (const r of results) {
  for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
  for (const [k, v] of Object.entries(r.ledger.failedByCode)) byCode[k] = (byCode[k] ?? 0) + v;
}
// R12 measures heartbeat detection (SIGSTOP to rejection), not the notice of a dead process.
const deaths = results.filter((r) => !r.id.startsWith('R12')).flatMap((r) => r.deathToRejection.samples);
const r12 = results.find((r) => r.id === 'R12');
const capacity = results.flatMap((r) => r.capacity.samples);
const r1 = results.find((r) => r.id === 'R01');
const orphans: Record<string, number> = {};
for (const r of results) for (const [k, v] of Object.entries(r.orphans)) orphans[k] = (orphans[k] ?? 0) + v;
const missing = EXPECTED.filter((id) => !results.some((r) => r.id === id));
const totals = {
  submitted: sum((r) => r.ledger.submitted),
  ok: sum((r) => r.ledger.ok),
  failed: sum((r) => r.ledger.failed),
  lost: sum((r) => r.ledger.lost),
  hung: sum((r) => r.ledger.hung),
  untyped: sum((r) => r.ledger.untyped),
  unhandled: Math.max(0, ...results.map((r) => r.ledger.unhandled)),
  orphans: Object.values(orphans).reduce((a, b) => a + b, 0),
};
const ms = (v: number | null): string => (v === null ? 'n/a' : `${v} ms`);
const python = spawnSync(process.env.SNAKEPIT_PYTHON ?? 'python3', ['--version']).stdout?.toString().trim() ?? '?';

const lines: string[] = [];
lines.push('# Chaos report', '');
lines.push(`${new Date().toISOString()} · Node ${process.version} · ${python} · ${cpus().length} CPUs · ${results.length}/${EXPECTED.length} scenarios`, '');
lines.push('## Totals', '');
lines.push('| figure | value |', '|---|---|');
lines.push(`| faults injected | ${Object.values(faults).reduce((a, b) => a + b, 0)} |`);
lines.push(`| calls submitted | ${totals.submitted} |`);
lines.push(`| calls ok | ${totals.ok} |`);
lines.push(`| calls failed (typed) | ${totals.failed} (${Object.entries(byCode).map(([k, v]) => `${k} ${v}`).join(', ')}) |`);
lines.push(`| lost / hung / untyped | ${totals.lost} / ${totals.hung} / ${totals.untyped} |`);
lines.push(`| unhandled rejections | ${totals.unhandled} |`);
lines.push(`| worker death → caller rejection, R1 kill -9 under load (p50 / p99) | ${ms(r1?.deathToRejection.p50 ?? null)} / ${ms(r1?.deathToRejection.p99 ?? null)} |`);
lines.push(`| worker death → caller rejection, R9 every worker at once (p50 / p99) | ${ms(results.find((r) => r.id === 'R09')?.deathToRejection.p50 ?? null)} / ${ms(results.find((r) => r.id === 'R09')?.deathToRejection.p99 ?? null)} |`);
lines.push(`| worker death → caller rejection, all crash scenarios (p50 / p99, n=${deaths.length}; R2-R4, R8 include the faulty call's own run) | ${ms(percentile(deaths, 50))} / ${ms(percentile(deaths, 99))} |`);
lines.push(`| wedged worker (SIGSTOP) → caller rejection, R12 (p50 / p99; heartbeatTimeout 1500 ms) | ${ms(r12?.deathToRejection.p50 ?? null)} / ${ms(r12?.deathToRejection.p99 ?? null)} |`);
lines.push(`| time back to full capacity, R1 (p50 / p99) | ${ms(r1?.capacity.p50 ?? null)} / ${ms(r1?.capacity.p99 ?? null)} |`);
lines.push(`| time back to full capacity, all scenarios (p50 / p99, n=${capacity.length}) | ${ms(percentile(capacity, 50))} / ${ms(percentile(capacity, 99))} |`);
lines.push(`| orphans after host exits | ${totals.orphans} |`);
lines.push('');
lines.push('## Faults injected by kind', '', '| fault | count |', '|---|---|');
for (const [k, v] of Object.entries(faults)) lines.push(`| ${k} | ${v} |`);
lines.push('');
lines.push('## Orphans after each host exit path', '', '| exit path | processes left after 5 s |', '|---|---|');
for (const [k, v] of Object.entries(orphans)) lines.push(`| ${k} | ${v} |`);
lines.push('');
lines.push('## Scenarios', '');
lines.push('| id | scenario | faults | submitted | ok | failed by code | lost/hung/untyped | death→rejection p50/p99 | full capacity p50/p99 | duration |');
lines.push('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const f = Object.values(r.faults).reduce((a, b) => a + b, 0);
  const codes = Object.entries(r.ledger.failedByCode).map(([k, v]) => `${k} ${v}`).join(', ') || '–';
  lines.push(
    `| ${r.id} | ${r.title} | ${f} | ${r.ledger.submitted} | ${r.ledger.ok} | ${codes} | ${r.ledger.lost}/${r.ledger.hung}/${r.ledger.untyped} | ` +
      `${ms(r.deathToRejection.p50)} / ${ms(r.deathToRejection.p99)} | ${ms(r.capacity.p50)} / ${ms(r.capacity.p99)} | ${(r.durationMs / 1000).toFixed(1)} s |`,
  );
}
lines.push('');
lines.push('## Scenario figures', '');
for (const r of results) {
  if (Object.keys(r.figures).length === 0) continue;
  lines.push(`- **${r.id}**: ${Object.entries(r.figures).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join('; ')}`);
}
if (missing.length > 0) lines.push('', `**Missing scenarios:** ${missing.join(', ')}`);
const text = lines.join('\n') + '\n';

writeFileSync(path.join(RESULTS, 'report.md'), text);
writeFileSync(path.join(RESULTS, 'report.json'), JSON.stringify({ totals, faults, failedByCode: byCode, orphans, missing, scenarios: results }, null, 2));
process.stdout.write('\n' + text);
const broken = missing.length > 0 || totals.lost + totals.hung + totals.untyped + totals.unhandled + totals.orphans > 0;
if (broken) {
  process.stderr.write('chaos report: FAILED (missing scenarios, or lost/hung/untyped calls, unhandled rejections or orphans)\n');
  process.exitCode = 1;
}
