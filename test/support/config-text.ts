/**
 * The head every engine test's config starts with: unit files from `{{UNITS}}` (replaced by the folder the test
 * writes them to), the original's base paths, and an Engine section when one is given. The services and policies
 * follow, from `  Service:` on.
 */
export function engineConfigHead(engine: Record<string, string | number> = {}): string {
  const lines = [
    'Dynamite:',
    '  ServiceFiles:',
    '    PathList:',
    '      - {{UNITS}}',
    '  ETCD:',
    '    application_base_path: /services',
    '    metrics_base_path: /metrics',
  ];
  const entries = Object.entries(engine);
  if (entries.length > 0) lines.push('  Engine:', ...entries.map(([key, value]) => `    ${key}: ${value}`));
  return `${lines.join('\n')}\n`;
}
