import { Pool } from './src/index.js';
const pool = await Pool.start({ adapter: '/tmp/cb_tools.py', size: 1, python: process.env.SNAKEPIT_PYTHON });
pool.registerTool('ping', ({ x }) => x);
const run = async (tool: string) => { const t = performance.now(); for (let i = 0; i < 2000; i++) await pool.execute(tool, { x: i }); return ((performance.now() - t) / 2).toFixed(1); };
for (let r = 0; r < 3; r++) {
  console.log('cb', await run('one_callback'), 'plain', await run('plain'), 'ctx', await run('with_ctx'), 'sleep40us', await run('sleep_tiny'), await pool.execute('stats'));
}
await pool.close();
