import fs from 'node:fs';
import path from 'node:path';
import { runChaos } from '../test/chaos/chaos';
import { formatReport } from '../test/chaos/report';

/**
 * `npm run chaos -- --seconds 300 --seed N`: one chaos run (docs/chaos.md). Prints the fault schedule of the seed,
 * each fault as it happens, then the report; writes it as JSON to chaos/results/. Exit code 1 on any violation.
 */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function wholeNumber(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`chaos: --${name} must be a whole number >= ${min} (got "${text}")\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const seconds = wholeNumber('seconds', flag('seconds'), 300, 20);
  const seed = wholeNumber('seed', flag('seed'), Math.floor(Math.random() * 1_000_000), 0);
  const ttlSeconds = wholeNumber('leader_ttl', flag('leader_ttl'), 3, 2);
  const report = await runChaos({ seed, seconds, ttlSeconds, say: (line) => process.stderr.write(`${line}\n`) });
  const dir = path.resolve(__dirname, '..', '..', 'chaos', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `chaos-seed${seed}-${seconds}s-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatReport(report)}\nreport: ${path.relative(process.cwd(), file)}\nreplay: npm run chaos -- --seconds ${seconds} --seed ${seed}\n`);
  process.exitCode = report.violations.length > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
