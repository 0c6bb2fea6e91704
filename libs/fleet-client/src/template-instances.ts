/**
 * Template instantiation happens in the client, as fleetctl does it (spec §7.8, #1118): the server has no
 * template logic, so the instance is PUT with the template's options copied unchanged.
 */
import { unitNameInfo } from '@dynamite/unit-files';
import { FleetArgumentError } from './errors';
import type { FleetClient } from './fleet-client';
import { isIdenticalUnitConflict } from './unit-lifecycle';

type TemplateApi = Pick<FleetClient, 'requireUnit' | 'putUnit'>;

export interface InstantiateResult {
  /** The instance's name, e.g. `web@8080.service`. */
  name: string;
  /** `created`: created, or replaced when it existed with other options; `unchanged`: it existed identical. */
  status: 'created' | 'unchanged';
}

/** `web@.service` + `8080` -> `web@8080.service`. */
export function instanceNameOf(templateName: string, instance: string | number): string {
  const info = unitNameInfo(templateName);
  if (!info.isTemplate || info.suffix === '') {
    throw new FleetArgumentError(`${JSON.stringify(templateName)} is not a template unit name (expected e.g. "web@.service")`);
  }
  const id = String(instance);
  if (id === '') throw new FleetArgumentError(`an instance name is required to instantiate ${templateName}`);
  return `${info.prefix}@${id}.${info.suffix}`;
}

/** GET the template (404 -> FleetApiError), then PUT the instance with identical options, leaving it inactive. */
export async function instantiate(api: TemplateApi, templateName: string, instance: string | number): Promise<InstantiateResult> {
  const name = instanceNameOf(templateName, instance);
  const template = await api.requireUnit(templateName);
  try {
    await api.putUnit(name, { options: template.options });
  } catch (err) {
    if (isIdenticalUnitConflict(err)) return { name, status: 'unchanged' };
    throw err;
  }
  return { name, status: 'created' };
}
