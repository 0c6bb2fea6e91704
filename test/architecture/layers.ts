import fs from 'node:fs';
import path from 'node:path';

/**
 * The layering rules of the workspace, checked on the sources themselves:
 *   - libraries never import an app;
 *   - an app imports no other app, except the `dynamite` dispatcher (apps/cli), which may import each app's main
 *     and nothing else of it (MAINS);
 *   - the pure cores (libs/domain, libs/unit-files) import nothing that does I/O: only the packages in PURE_ALLOWED,
 *     and no timers, clocks, randomness or environment (decisions are functions of state, event and clock).
 */

/** What the dispatcher may take from each app: its main, the types of its options and result, its usage errors. */
export const MAINS: Record<string, string[]> = {
  '@dynamite/scheduler': ['startScheduler', 'SchedulerOptions', 'RunningScheduler'],
  '@dynamite/worker': ['startWorker', 'WorkerOptions', 'RunningWorker'],
  '@dynamite/fleet-emulator': ['startFleetEmulator', 'FleetEmulatorOptions', 'FleetEmulator', 'EmulatorOptionError', 'StateDirError'],
  '@dynamite/demo': ['runDemo', 'DemoOptions', 'DEMO_DEFAULTS', 'DemoError'],
};

export const PURE_ALLOWED: Record<string, string[]> = {
  'libs/domain': ['@dynamite/unit-files', 'js-yaml', 'zod', 'node:crypto', 'node:zlib'],
  'libs/unit-files': ['node:crypto'],
};

const IMPURE_CALLS = /\b(Date\.now|Math\.random|setTimeout|setInterval|process\.(env|argv|exit|hrtime)|new Date\(\))/;

export interface Violation {
  file: string;
  message: string;
}

function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name === 'dist') return [];
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every import of a file: the module and the names it takes (`*` for a namespace or side-effect import). */
export function importsOf(text: string): { module: string; names: string[] }[] {
  const out: { module: string; names: string[] }[] = [];
  const statement = /(?:import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|import\s+'([^']+)'/g;
  for (const m of text.matchAll(statement)) {
    if (m[4] || m[5]) { out.push({ module: (m[4] ?? m[5])!, names: ['*'] }); continue; }
    const clause = m[2]!;
    const braces = /\{([^}]*)\}/.exec(clause);
    const names = braces
      ? braces[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean)
      : ['*'];
    if (braces && /^\s*[A-Za-z_$][\w$]*\s*,/.test(clause)) names.push('*');
    out.push({ module: m[3]!, names });
  }
  return out;
}

function packageNameOf(root: string, workspace: string): string {
  return JSON.parse(fs.readFileSync(path.join(root, workspace, 'package.json'), 'utf8')).name as string;
}

/** Checks the workspace at `root` and returns every violation (none: the layering holds). */
export function findLayerViolations(root: string): Violation[] {
  const violations: Violation[] = [];
  const workspaces = ['apps', 'libs'].flatMap((kind) =>
    (fs.existsSync(path.join(root, kind)) ? fs.readdirSync(path.join(root, kind)) : [])
      .filter((n) => fs.existsSync(path.join(root, kind, n, 'package.json')))
      .map((n) => `${kind}/${n}`));
  const apps = new Set(workspaces.filter((w) => w.startsWith('apps/')).map((w) => packageNameOf(root, w)));
  for (const workspace of workspaces) {
    const own = packageNameOf(root, workspace);
    const isApp = workspace.startsWith('apps/');
    for (const file of sources(path.join(root, workspace, 'src'))) {
      const rel = path.relative(root, file);
      const text = fs.readFileSync(file, 'utf8');
      for (const { module, names } of importsOf(text)) {
        const pkg = module.startsWith('@') ? module.split('/').slice(0, 2).join('/') : module.split('/')[0]!;
        if (apps.has(pkg) && pkg !== own) {
          if (!isApp) violations.push({ file: rel, message: `a library imports the app ${pkg}` });
          else if (workspace !== 'apps/cli') violations.push({ file: rel, message: `an app imports another app (${pkg}); move what both need into a lib` });
          else {
            const extra = names.filter((n) => !(MAINS[pkg] ?? []).includes(n));
            if (module !== pkg || extra.length > 0) violations.push({ file: rel, message: `the dispatcher may only take ${pkg}'s main (${(MAINS[pkg] ?? []).join(', ')}), not ${extra.join(', ') || module}` });
          }
        }
        const allowed = PURE_ALLOWED[workspace];
        if (allowed && !module.startsWith('.') && !allowed.includes(module)) {
          violations.push({ file: rel, message: `the pure core imports ${module} (allowed: ${allowed.join(', ')})` });
        }
      }
      if (PURE_ALLOWED[workspace]) {
        const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
        const impure = IMPURE_CALLS.exec(code);
        if (impure) violations.push({ file: rel, message: `the pure core calls ${impure[1]} (take time and randomness as arguments)` });
      }
    }
  }
  return violations;
}
