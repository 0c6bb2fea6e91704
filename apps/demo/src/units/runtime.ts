import fs from 'node:fs';

/**
 * What the demo's unit processes (webserver, discovery agent) need to know, written by `dynamite demo` to
 * `<run dir>/runtime.json` and passed as the first argument of every ExecStart. The run dir in the command line
 * also lets the demo find (and stop) every process it caused, even ones the fleet emulator left behind.
 */
export interface DemoRuntime {
  /** etcd endpoints as URLs (`http://127.0.0.1:2379`). */
  etcdHosts: string[];
  /** `<application_base_path>` of the demo config (e.g. `/demo-1a2b/services`). */
  applicationBase: string;
  /** `<metrics_base_path>` of the demo config (e.g. `/demo-1a2b/metrics`). */
  metricsBase: string;
  /** The service type of the web servers (`webserver`). */
  serviceType: string;
  /** The template's unit name prefix (`webserver` for `webserver@8081.service`). */
  unitPrefix: string;
  /** Metric name written by the agent (`cpu_user`). */
  metric: string;
  /** Simulated cost of one request on the instance's single simulated core, ms. */
  costMs: number;
  /** Real CPU work per request, ms (a busy loop hashing a buffer). */
  workMs: number;
  /** Requests waiting beyond this many get 503 (a saturated server sheds load). */
  maxQueue: number;
  /** How often the agent writes a sample, ms. */
  sampleEveryMs: number;
  /** TTL of the registration lease (kept alive), seconds. */
  registrationTtlSec: number;
  /** TTL of the leases the samples are written with (not kept alive: samples expire), seconds. */
  sampleTtlSec: number;
  /** The demo's pid: unit processes exit when it is gone, so nothing outlives a killed demo. */
  parentPid: number;
}

export function readRuntime(file: string | undefined): DemoRuntime {
  if (!file) {
    process.stderr.write('usage: node <script> <runtime.json> <port>\n');
    process.exit(2);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as DemoRuntime;
}

export function parsePort(text: string | undefined): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write(`not a port: ${String(text)}\n`);
    process.exit(2);
  }
  return port;
}

/** Exits the process (after `onGone`) once the demo that caused it is no longer running. */
export function exitWithParent(parentPid: number, onGone: () => Promise<void> | void): void {
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        clearInterval(timer);
        Promise.resolve(onGone()).finally(() => process.exit(0));
      }
    }
  }, 1000);
  timer.unref();
}
