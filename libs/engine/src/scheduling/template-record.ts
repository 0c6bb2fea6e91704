import { findService, type DynamiteConfig, type ServiceConfig } from '@dynamite/domain';
import { parseUnitFile } from '@dynamite/unit-files';
import type { TemplateRecord } from '@dynamite/store';

export interface UnitFileText {
  name: string;
  path: string;
  text: string;
}

/** The original's ServiceDetailStruct.to_dict(), so tools reading the template key keep working. */
function serviceDetails(service: ServiceConfig): Record<string, unknown> {
  return {
    name: service.name,
    name_of_unit_file: service.unitFile,
    type: service.type,
    min_instance: service.isAttached ? null : service.minInstance,
    max_instance: service.isAttached ? null : service.maxInstance,
    base_instance_prefix_number: service.basePort,
    ports_per_instance: service.isAttached ? null : service.portsPerInstance,
    attached_services: service.attachedServices.length ? service.attachedServices : null,
    service_dependency: service.serviceDependency.length ? service.serviceDependency : null,
    scale_up_policy: policyReferences(service.scaleUpPolicies),
    scale_down_policy: policyReferences(service.scaleDownPolicies),
  };
}

/** The original's `{ScalingPolicy: <name>}` for one policy; a list of them for several (new); null for none. */
function policyReferences(names: string[]): Record<string, string> | Record<string, string>[] | null {
  if (names.length === 0) return null;
  return names.length === 1 ? { ScalingPolicy: names[0]! } : names.map((name) => ({ ScalingPolicy: name }));
}

function unitOf(service: ServiceConfig, unitFiles: Map<string, UnitFileText>): UnitFileText {
  const unit = unitFiles.get(service.unitFile);
  if (!unit) throw new Error(`Service.${service.name}.name_of_unit_file: unit file "${service.unitFile}" not loaded`);
  return unit;
}

/**
 * The template record of a (non-attached) service, in the original's FleetService.to_dict() shape: the parsed unit
 * file, the service's details, its attached services embedded. Workers create instances from it, so they need no
 * unit files on disk.
 */
export function buildTemplate(config: DynamiteConfig, service: ServiceConfig, unitFiles: Map<string, UnitFileText>): TemplateRecord {
  const record = (svc: ServiceConfig): TemplateRecord => {
    const unit = unitOf(svc, unitFiles);
    return {
      name: svc.name,
      unit_file_details_json_dict: { desiredState: 'inactive', options: parseUnitFile(unit.text) },
      path_on_filesystem: unit.path,
      service_config_details: serviceDetails(svc),
      is_template: svc.isTemplate,
      attached_services: [],
      fleet_service_instances: {},
    };
  };
  return {
    ...record(service),
    ...(service.isTemplate ? { used_port_numbers: new Array<number>(service.maxInstance * service.portsPerInstance).fill(0) } : {}),
    attached_services: service.attachedServices.map((name) => record(findService(config, name)!)),
  };
}
