/** An agent for bench/cluster.ts, running the compiled library (dist/) as users do. */
import { Agent } from './lib/library.js';

const [url, pool, id, adapter, python, size = '1', concurrency = '1'] = process.argv.slice(2) as [string, string, string, string, string, string?, string?];
const agent = await Agent.start({ nats: { servers: url }, pool, id, heartbeat: 500, poolOptions: { adapter, python, size: Number(size), concurrency: Number(concurrency) } });
process.stdout.write(`serving pool ${pool}\n`);
process.on('SIGTERM', () => void agent.close().then(() => process.exit(0)));
