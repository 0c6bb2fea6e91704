import type { Command } from 'commander';
import { describePause, parseInstanceOf, type DynamiteConfig } from '@dynamite/domain';
import { ControlError, localOperator, pauseService, pauseView, protectInstance, resumeService, unprotectInstance } from '@dynamite/operator';
import type { StateStore } from '@dynamite/store';
import { UsageError } from '../errors';
import { addEtcdOption } from '../options';
import { addEtcdSecurityOptions } from '../daemon-options';
import { printable, withEngineStore, type EtcdReadFlags } from './status';

/**
 * `dynamite pause|resume|protect|unprotect`: the operator's controls, written straight to etcd (the same keys and
 * checks as the HTTP API, libs/operator/src/controls.ts), so they work whether or not a scheduler's listener is up.
 * Every worker reads them with the service's records at its next decision.
 */

type PauseFlags = EtcdReadFlags & { up?: boolean; down?: boolean; for?: string; reason?: string };
type ProtectFlags = EtcdReadFlags & { reason?: string };

/** A control error as one line naming the flag (`reason:` -> `--reason:`). */
async function control<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ControlError) throw new UsageError(err.message.replace(/^(reason|for|direction): /, (_m, f: string) => (f === 'direction' ? '--up/--down: ' : `--${f}: `)));
    throw err;
  }
}

/** The service an instance belongs to: by its name under the current config, else the service that records it. */
async function serviceOfInstance(store: StateStore, config: DynamiteConfig, instance: string): Promise<string> {
  const named = parseInstanceOf(config, instance);
  if (named) return named.service;
  for (const service of config.services.filter((s) => !s.isAttached)) {
    if ((await store.readService(service.name)).instances.some((i) => i.name === instance)) return service.name;
  }
  throw new UsageError(`${JSON.stringify(instance)} is not an instance of any configured service (e.g. web@8080.service)`);
}

export function register(program: Command): void {
  const pause = program
    .command('pause')
    .description("pause a service's scaling (up, down or both), for a reason, until resumed or for a while")
    .argument('<service>', 'service name (as under Service: in the config)')
    .option('--up', 'pause scaling up only')
    .option('--down', 'pause scaling down only')
    .option('--for <duration>', 'end the pause after this long: 30m, 2h, 1h30m, 1d (default: until resumed)')
    .option('--reason <text>', 'why (required; shown in every decision the pause suppresses)');
  addEtcdSecurityOptions(addEtcdOption(pause));
  pause.action(async (service: string, flags: PauseFlags) => {
    const direction = flags.up === flags.down ? 'both' : flags.up ? 'up' : 'down';
    const record = await withEngineStore(flags, (store, config) => control(() =>
      pauseService(store, config, service, { direction, reason: flags.reason ?? null, forText: flags.for ?? null, by: localOperator(), now: Date.now() })));
    if (flags.json) process.stdout.write(`${JSON.stringify({ service, paused: pauseView(record, Date.now()) }, null, 2)}\n`);
    else process.stdout.write(`${printable(`${service}: ${describePause(record)}`)}\n`);
  });

  const resume = program
    .command('resume')
    .description("resume a paused service's scaling (both directions)")
    .argument('<service>', 'service name');
  addEtcdSecurityOptions(addEtcdOption(resume));
  resume.action(async (service: string, flags: EtcdReadFlags) => {
    const resumed = await withEngineStore(flags, (store, config) => control(() => resumeService(store, config, service)));
    if (flags.json) process.stdout.write(`${JSON.stringify({ service, resumed })}\n`);
    else process.stdout.write(resumed ? `${service}: resumed\n` : `${service} was not paused\n`);
  });

  const protect = program
    .command('protect')
    .description('protect an instance from scale-in: no policy and no max_instance repair removes it')
    .argument('<instance>', 'instance name, e.g. web@8080.service')
    .option('--reason <text>', 'why (optional)');
  addEtcdSecurityOptions(addEtcdOption(protect));
  protect.action(async (instance: string, flags: ProtectFlags) => {
    const record = await withEngineStore(flags, async (store, config) => {
      const service = await serviceOfInstance(store, config, instance);
      return control(() => protectInstance(store, config, service, instance, { reason: flags.reason ?? null, by: localOperator(), now: Date.now() }));
    });
    if (flags.json) process.stdout.write(`${JSON.stringify({ service: record.service, instance, protected: true, reason: record.reason, by: record.by })}\n`);
    else process.stdout.write(`${printable(`${instance} (${record.service}): protected from scale-in${record.reason ? `: ${JSON.stringify(record.reason)}` : ''}`)}\n`);
  });

  const unprotect = program
    .command('unprotect')
    .description("lift an instance's scale-in protection")
    .argument('<instance>', 'instance name, e.g. web@8080.service');
  addEtcdSecurityOptions(addEtcdOption(unprotect));
  unprotect.action(async (instance: string, flags: EtcdReadFlags) => {
    const { service, lifted } = await withEngineStore(flags, async (store, config) => {
      const owner = await serviceOfInstance(store, config, instance);
      return { service: owner, lifted: await control(() => unprotectInstance(store, config, owner, instance)) };
    });
    if (flags.json) process.stdout.write(`${JSON.stringify({ service, instance, unprotected: lifted })}\n`);
    else process.stdout.write(lifted ? `${instance} (${service}): no longer protected\n` : `${instance} (${service}) was not protected\n`);
  });

  for (const cmd of [pause, resume, protect, unprotect]) cmd.option('--json', 'print JSON');
}
