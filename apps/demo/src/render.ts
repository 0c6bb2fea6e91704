import fs from 'node:fs';
import path from 'node:path';
import { parseConfig, formatConfigError, type DynamiteConfig, type ScalingPolicyConfig, type ServiceConfig } from '@dynamite/domain';
import { EXAMPLE_DIR, UNIT_SCRIPTS_DIR } from './paths';
import type { DemoRuntime } from './units/runtime';

export const SERVICE = 'webserver';
export const ATTACHED = 'webserver_discovery';

export interface RenderedDemo {
  configFile: string;
  unitsDir: string;
  runtimeFile: string;
  runtime: DemoRuntime;
  config: DynamiteConfig;
  service: ServiceConfig;
  scaleUp: ScalingPolicyConfig;
  scaleDown: ScalingPolicyConfig;
}

export interface RenderInput {
  runDir: string;
  /** `/demo-<id>`: the root of the demo's registrations and samples. */
  keyRoot: string;
  basePort: number;
  etcdHosts: string[];
  parentPid: number;
  exampleDir?: string;
}

function replaceLine(text: string, key: string, value: string): string {
  const re = new RegExp(`^(\\s*${key}:)\\s*\\S.*$`, 'm');
  if (!re.test(text)) throw new Error(`examples/demo/dynamite.yaml has no ${key}: line`);
  return text.replace(re, `$1 ${value}`);
}

/** A word of an ExecStart line (systemd quoting): quoted only when it has to be. */
export function quoteArg(file: string): string {
  const word = file.replace(/%/g, '%%'); // systemd specifiers
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Writes the run's copy of the bundled config and unit files (examples/demo) into the run dir: private etcd key
 * bases, a free port range, and unit files whose ExecStart names this node binary, the compiled unit scripts and
 * the run's runtime.json. Checks the result with the engine's own config parser.
 */
export function renderDemo(input: RenderInput, runtimeExtras: Omit<DemoRuntime, 'etcdHosts' | 'applicationBase' | 'metricsBase' | 'parentPid' | 'serviceType' | 'unitPrefix' | 'metric'>): RenderedDemo {
  const exampleDir = input.exampleDir ?? EXAMPLE_DIR;
  const appBase = `${input.keyRoot}/services`;
  const metricsBase = `${input.keyRoot}/metrics`;
  let yamlText = fs.readFileSync(path.join(exampleDir, 'dynamite.yaml'), 'utf8');
  yamlText = replaceLine(yamlText, 'application_base_path', appBase);
  yamlText = replaceLine(yamlText, 'metrics_base_path', metricsBase);
  yamlText = replaceLine(yamlText, 'base_instance_prefix_number', String(input.basePort));
  const configFile = path.join(input.runDir, 'dynamite.yaml');
  fs.writeFileSync(configFile, `# Rendered by dynamite demo from examples/demo/dynamite.yaml\n${yamlText}`);

  const parsed = parseConfig(yamlText, { source: configFile });
  if (!parsed.ok) throw new Error(`the demo config is not valid:\n${parsed.errors.map(formatConfigError).join('\n')}`);
  const config = parsed.config;
  const service = config.services.find((s) => s.name === SERVICE);
  if (!service) throw new Error(`the demo config has no ${SERVICE} service`);
  const scaleUp = config.policies.find((p) => p.name === service.scaleUpPolicies[0]);
  const scaleDown = config.policies.find((p) => p.name === service.scaleDownPolicies[0]);
  if (!scaleUp || !scaleDown) throw new Error(`the demo's ${SERVICE} service needs a scale up and a scale down policy`);

  const runtime: DemoRuntime = {
    ...runtimeExtras,
    etcdHosts: input.etcdHosts,
    applicationBase: config.etcd.applicationBasePath,
    metricsBase: config.etcd.metricsBasePath,
    serviceType: scaleUp.serviceType,
    unitPrefix: SERVICE,
    metric: scaleUp.metricDir,
    parentPid: input.parentPid,
  };
  const runtimeFile = path.join(input.runDir, 'runtime.json');
  fs.writeFileSync(runtimeFile, `${JSON.stringify(runtime, null, 2)}\n`);

  const unitsDir = path.join(input.runDir, 'units');
  fs.mkdirSync(unitsDir, { recursive: true });
  for (const name of fs.readdirSync(path.join(exampleDir, 'units'))) {
    if (!name.endsWith('.service')) continue;
    const lines = fs.readFileSync(path.join(exampleDir, 'units', name), 'utf8').split('\n').map((line) =>
      /^\s*[#;]/.test(line)
        ? line // comments keep the placeholders they explain
        : line
            .replaceAll('{{node}}', quoteArg(process.execPath))
            .replace(/\{\{units\}\}\/(\S+)/g, (_, file: string) => quoteArg(path.join(UNIT_SCRIPTS_DIR, file)))
            .replaceAll('{{runtime}}', quoteArg(runtimeFile)));
    fs.writeFileSync(path.join(unitsDir, name), `# Rendered by dynamite demo from examples/demo/units/${name}\n${lines.join('\n')}`);
  }
  return { configFile, unitsDir, runtimeFile, runtime, config, service, scaleUp, scaleDown };
}
