#!/usr/bin/env node
// Derives each workspace's @dynamite/* dependencies (package.json) and TypeScript project references (tsconfig.json)
// from the imports its sources really make, so the two can never disagree with the code. `--check` only reports.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const check = process.argv.includes('--check');
const workspaces = ['libs', 'apps'].flatMap((dir) =>
  fs.readdirSync(path.join(root, dir)).filter((n) => fs.existsSync(path.join(root, dir, n, 'package.json'))).map((n) => `${dir}/${n}`));
const dirOf = new Map(workspaces.map((w) => [JSON.parse(fs.readFileSync(path.join(root, w, 'package.json'), 'utf8')).name, w]));

function sources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const versions = { ...rootPkg.dependencies, ...rootPkg.devDependencies };

/** Package names a folder's sources import or resolve (`etcd3/lib/rpc` counts as `etcd3`); node's own modules are left out. */
function importedPackages(dir, { external = false } = {}) {
  const found = new Set();
  for (const file of sources(dir)) {
    // require.resolve counts too: a package whose files are served (uplot for /ui) is a dependency like an import.
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:from|import\(|require\.resolve\()\s*'([^'.][^']*)'/g)) {
      const spec = m[1];
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name.startsWith('@dynamite/') !== external) found.add(name);
    }
  }
  return [...found].sort();
}

let drift = 0;
function sync(file, next) {
  const text = `${JSON.stringify(next, null, 2)}\n`;
  if (fs.readFileSync(file, 'utf8') === text) return;
  drift += 1;
  if (check) console.error(`out of date: ${path.relative(root, file)} (run node scripts/sync-workspace-deps.mjs)`);
  else fs.writeFileSync(file, text);
}

for (const w of workspaces) {
  const own = JSON.parse(fs.readFileSync(path.join(root, w, 'package.json'), 'utf8')).name;
  const deps = importedPackages(path.join(root, w, 'src')).filter((p) => p !== own);
  const pkgFile = path.join(root, w, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  const external = Object.fromEntries(importedPackages(path.join(root, w, 'src'), { external: true })
    .filter((n) => !n.startsWith('@types/'))
    .map((n) => {
      if (!versions[n]) throw new Error(`${w} imports ${n}, which the root package.json does not declare`);
      return [n, versions[n]];
    }));
  pkg.dependencies = Object.fromEntries([...deps.map((d) => [d, '*']), ...Object.entries(external)].sort(([a], [b]) => a.localeCompare(b)));
  sync(pkgFile, pkg);
  const tsFile = path.join(root, w, 'tsconfig.json');
  const ts = JSON.parse(fs.readFileSync(tsFile, 'utf8'));
  ts.references = deps.map((d) => ({ path: `../../${dirOf.get(d)}` }));
  sync(tsFile, ts);
}
for (const dir of ['test', 'bench', 'chaos']) {
  const tsFile = path.join(root, dir, 'tsconfig.json');
  const ts = JSON.parse(fs.readFileSync(tsFile, 'utf8'));
  const deps = importedPackages(path.join(root, dir)).map((d) => ({ path: `../${dirOf.get(d)}` }));
  // bench and chaos run test/'s harness (test/support, test/ha, test/chaos).
  ts.references = dir === 'test' ? deps : [...deps, { path: '../test' }];
  sync(tsFile, ts);
}
const build = path.join(root, 'tsconfig.build.json');
const order = [];
const visit = (w, seen = new Set()) => {
  if (order.includes(w) || seen.has(w)) return;
  seen.add(w);
  const deps = JSON.parse(fs.readFileSync(path.join(root, w, 'package.json'), 'utf8')).dependencies ?? {};
  for (const d of Object.keys(deps)) if (dirOf.has(d)) visit(dirOf.get(d), seen);
  order.push(w);
};
workspaces.forEach((w) => visit(w));
sync(build, { files: [], references: [...order, 'test', 'bench', 'chaos'].map((p) => ({ path: p })) });
if (check && drift > 0) process.exit(1);
