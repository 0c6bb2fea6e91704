import { BOARD_PATH } from '../http/board';

/**
 * The `/ui` page's HTML shell and style sheet. The shell is the same for the service list and a service's page:
 * the client script (client.mts) reads the path and draws the one asked for from the JSON API. Everything it loads
 * is served by the listener itself (uPlot from node_modules), so the page works on a network without internet.
 */

export const UI_PATH = '/ui';
export const UI_ASSETS = {
  client: `${UI_PATH}/assets/app.mjs`,
  style: `${UI_PATH}/assets/app.css`,
  uplotScript: `${UI_PATH}/vendor/uPlot.iife.min.js`,
  uplotStyle: `${UI_PATH}/vendor/uPlot.min.css`,
} as const;

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dynamite</title>
<link rel="stylesheet" href="${UI_ASSETS.uplotStyle}">
<link rel="stylesheet" href="${UI_ASSETS.style}">
<script src="${UI_ASSETS.uplotScript}"></script>
<script type="module" src="${UI_ASSETS.client}"></script>
</head>
<body>
<header><a class="brand" href="${UI_PATH}">dynamite</a><nav><a href="${UI_PATH}">services</a><a href="${BOARD_PATH}">board</a><a href="/api/services">API</a></nav><span id="status" class="status">loading</span></header>
<main id="app"><p class="muted">Loading…</p></main>
</body>
</html>
`;

export const UI_CSS = `
:root { --fg: #1d232b; --muted: #66707c; --line: #d9dee4; --bg: #f6f7f9; --card: #fff; --accent: #2563eb;
  --armed: rgba(234, 179, 8, 0.22); --cooldown: rgba(37, 99, 235, 0.12); --fired: #dc2626; --suppressed: #ea580c; --other: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 20px; padding: 10px 20px; background: #111827; color: #e5e7eb; }
header a { color: #e5e7eb; text-decoration: none; }
header nav { display: flex; gap: 14px; }
.brand { font-weight: 700; font-size: 16px; }
.status { margin-left: auto; font-size: 12px; color: #9ca3af; }
.status.error { color: #fca5a5; }
main { padding: 16px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 4px 0 12px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
h2 { font-size: 15px; margin: 0 0 8px; }
.muted { color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin-bottom: 14px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 22px; margin-bottom: 12px; }
.facts b { font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: #fafbfc; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.message { color: #374151; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; background: #e5e7eb; color: #374151; white-space: nowrap; }
.badge.idle { background: #eef2f7; color: var(--muted); }
.badge.armed { background: #fef3c7; color: #92400e; }
.badge.cooldown { background: #dbeafe; color: #1e40af; }
.badge.scaled, .badge.bound_repair, .badge.fired { background: #fee2e2; color: #991b1b; }
.badge.suppressed { background: #ffedd5; color: #9a3412; }
.badge.action_done { background: #dcfce7; color: #166534; }
.badge.action_failed, .badge.failed { background: #fecaca; color: #7f1d1d; }
.badge.disarmed { background: #f3f4f6; color: #4b5563; }
.badge.paused { background: #7c3aed; color: #fff; }
.badge.dry_run { background: #0f766e; color: #fff; }
.banner { padding: 8px 12px; border-radius: 6px; margin-bottom: 12px; }
.banner.paused { background: #ede9fe; border: 1px solid #c4b5fd; color: #4c1d95; }
.banner.error { background: #fee2e2; border: 1px solid #fca5a5; color: #7f1d1d; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.swatch { display: inline-block; width: 12px; height: 10px; vertical-align: -1px; margin-right: 4px; border: 1px solid rgba(0,0,0,0.15); }
.swatch.armed { background: var(--armed); }
.swatch.cooldown { background: var(--cooldown); }
.swatch.fired { background: var(--fired); }
.swatch.suppressed { background: var(--suppressed); }
.swatch.other { background: var(--other); }
.chart { width: 100%; min-height: 240px; }
.toolbar { display: flex; gap: 10px; align-items: center; margin-bottom: 12px; }
input[type=search] { padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; min-width: 260px; }
select { padding: 4px 6px; }
a { color: var(--accent); }
`;
