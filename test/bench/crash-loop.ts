// Measures what a crash-looping command pool costs the master: 4 workers that exit at once, for 30 s,
// beside a healthy HTTP pool that keeps being asked. Prints the master's CPU seconds and spawn count.
// Run with: npm run build && node dist/test/bench/crash-loop.js [SECONDS]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APPD, fixture } from '../helpers/daemon.js';
import { get } from '../helpers/http.js';
import { sleep, waitFor } from '../helpers/processes.js';
import { cpuSeconds } from './proc-usage.js';
import { cleanEnvironment } from './run-command.js';

const seconds = Number(process.argv[2] ?? 30);
const directory = mkdtempSync(join(tmpdir(), 'appd-crash-loop-'));
writeFileSync(
  join(directory, 'appd.config.mjs'),
  `export default {
  pools: {
    web: { app: ${JSON.stringify(fixture('pid-app.mjs'))}, workers: 2, bind: ['127.0.0.1:0'] },
    crashing: { command: ['sh', '-c', 'exit 1'], workers: 4, startRetries: 1000000 },
  },
};\n`,
);
const child = spawn(process.execPath, [APPD, '-c', 'appd.config.mjs'], {
  cwd: directory,
  stdio: ['ignore', 'pipe', 'pipe'],
  // Without the machine's start-up variables (run-command.ts): the master's CPU is what it measures.
  env: cleanEnvironment({ XDG_RUNTIME_DIR: directory }),
});
let log = '';
child.stderr.setEncoding('utf8').on('data', (text: string) => (log += text));
try {
  const port = Number(
    (await waitFor('the web listener', () => /Listening at: http:\/\/127\.0\.0\.1:(\d+) .*pool web/.exec(log), 20_000))[1],
  );
  await waitFor('web workers', () => (log.match(/worker web\.\d g1 \(pid \d+\) ready/g) ?? []).length === 2, 20_000);
  const pid = child.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  const failuresBefore = (log.match(/worker crashing\.\d g\d+ \(pid \d+\) exited/g) ?? []).length;
  let answered = 0;
  let failed = 0;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const ok = await get(`http://127.0.0.1:${port}/`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) answered += 1;
    else failed += 1;
    await sleep(250);
  }
  const cpu = cpuSeconds(pid) - cpuBefore;
  const spawns = (log.match(/worker crashing\.\d g\d+ \(pid \d+\) exited/g) ?? []).length - failuresBefore;
  console.log(`crash loop of 4 command workers for ${seconds}s (node ${process.version}):`);
  console.log(
    `  master CPU: ${cpu.toFixed(2)} s (${((cpu / seconds) * 100).toFixed(2)}% of one core) while the slots exited ${spawns} times`,
  );
  console.log(`  web pool meanwhile: ${answered} requests answered, ${failed} failed`);
} finally {
  child.kill('SIGTERM');
  await new Promise((settle) => child.once('exit', settle));
  rmSync(directory, { recursive: true, force: true });
}
