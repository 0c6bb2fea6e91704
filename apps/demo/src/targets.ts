/** `webserver@8081.service` (suffix optional) registered by uuid -> where to send traffic. Pure. */
export function parseInstanceTarget(uuid: string, instanceName: string): { uuid: string; instance: string; port: number } | null {
  const m = /^([^@/\s]+)@(\d+)(\.service)?$/.exec(instanceName.trim());
  if (!m) return null;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { uuid, instance: `${m[1]}@${m[2]}.service`, port };
}
