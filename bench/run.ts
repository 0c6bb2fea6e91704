import { run as emulator } from './fleet-emulator.bench';
import { run as sampleToDecision } from './sample-to-decision.bench';
import { run as expiryToAction } from './expiry-to-action.bench';

/** Runs every benchmark in turn (`npm run bench`) and prints one JSON object; copy the figures into BENCHMARKS.md. */
async function main(): Promise<void> {
  const results: Record<string, Record<string, number>> = {};
  results['fleet-emulator'] = await emulator();
  results['sample-to-decision'] = await sampleToDecision();
  results['expiry-to-action'] = await expiryToAction();
  process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
}

main().then(() => process.exit(0), (err) => { process.stderr.write(`${String(err)}\n`); process.exit(1); });
