/// <reference lib="dom" />
/**
 * The `/ui` page in the browser (compiled to dist/ui/client.mjs, an ES module served as /ui/assets/app.mjs).
 * `/ui` lists the services, `/ui/services/<name>` draws one: its policy metrics against their thresholds with armed
 * windows, cooldowns, fires and suppressions, its instance count against min and max, its last decisions with
 * links into the board. Data comes from the JSON API, polled (every 2 s, `?refresh=ms` to change it), and is
 * redrawn in place: no page reload. Text from the data is only ever set as text, never parsed as HTML.
 */
import type uPlot from 'uplot';

/** API answers: read defensively (every field is checked or shown as text). */
type Json = any;

const UPlot = (globalThis as unknown as { uPlot: typeof uPlot }).uPlot;
const params = new URLSearchParams(location.search);
const REFRESH_MS = Math.min(60_000, Math.max(250, Number(params.get('refresh')) || 2_000));
const MINUTE_CHOICES = [1, 5, 10, 30, 60];
const PALETTE = ['#2563eb', '#059669', '#9333ea', '#db2777', '#0891b2', '#65a30d', '#c2410c', '#4f46e5', '#0d9488', '#be123c'];
const COLORS = { threshold: '#dc2626', armed: 'rgba(234, 179, 8, 0.22)', cooldown: 'rgba(37, 99, 235, 0.12)', fired: '#dc2626', suppressed: '#ea580c', done: '#16a34a', failed: '#b91c1c', other: '#6b7280', bound: '#9ca3af' };

// ---- small DOM helpers ----------------------------------------------------------------------------------------

type Child = Node | string | number | null | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | null | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (name === 'class') node.className = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A class name from data (an outcome, a state): known characters only, else `other`. */
function cls(value: unknown): string {
  return typeof value === 'string' && /^[a-z_]{1,40}$/.test(value) ? value : 'other';
}

function badge(text: string, kind: unknown = text): HTMLSpanElement {
  return el('span', { class: `badge ${cls(kind)}` }, text);
}

function isoTime(ms: unknown): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace('T', ' ') : '-';
}

function setStatus(text: string, error = false): void {
  const status = document.getElementById('status')!;
  status.textContent = text;
  status.className = error ? 'status error' : 'status';
}

async function api(path: string): Promise<Json> {
  const res = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path}: ${res.status} (not JSON)`);
  }
  if (!res.ok) throw new Error(typeof body?.error === 'string' ? body.error : `${path}: ${res.status}`);
  return body;
}

/** Calls `load` now and every REFRESH_MS, one at a time; failures show in the header and the next round retries. */
function poll(load: () => Promise<void>): void {
  const round = async () => {
    try {
      await load();
      setStatus(`updated ${new Date().toISOString().slice(11, 19)} UTC`);
    } catch (err) {
      setStatus(err instanceof Error ? err.message : String(err), true);
    }
    setTimeout(round, REFRESH_MS);
  };
  void round();
}

/** A pause that holds: `paused` of a service (see controls.ts) while `active`. */
function isPaused(paused: Json): boolean {
  return paused !== null && typeof paused === 'object' && paused.active === true;
}

function pauseDirections(paused: Json): string {
  return Array.isArray(paused.directions) ? paused.directions.join(' and ') : 'up and down';
}

/** Badges of the operator's controls a service view carries: a pause; a dry run when the view says so. */
function controlBadges(s: Json): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (isPaused(s.paused)) out.push(badge(`paused (${pauseDirections(s.paused)})`, 'paused'));
  if (s.dryRun === true) out.push(badge('dry run', 'dry_run'));
  return out;
}

function pauseText(paused: Json): string {
  const since = typeof paused.since === 'string' ? ` since ${paused.since}` : '';
  const until = typeof paused.until === 'string' ? ` until ${paused.until}` : ' until resumed';
  const by = typeof paused.by === 'string' && paused.by !== '' ? ` by ${paused.by}` : '';
  const reason = typeof paused.reason === 'string' && paused.reason !== '' ? `: ${paused.reason}` : '';
  return `Scaling ${pauseDirections(paused)} paused${since}${until}${by}${reason}. No policy scales this service ${pauseDirections(paused)} while it holds.`;
}

// ---- the service list -----------------------------------------------------------------------------------------

function listPage(app: HTMLElement): void {
  const filter = el('input', { type: 'search', placeholder: 'filter services', 'aria-label': 'filter services' });
  const summary = el('span', { class: 'muted' });
  const body = el('tbody');
  const table = el('table', { id: 'services' },
    el('thead', {}, el('tr', {}, ...['service', 'instances (desired / actual)', 'min – max', 'policies', 'unfinished actions', 'last decision'].map((h) => el('th', {}, h)))),
    body);
  app.replaceChildren(el('h1', {}, 'Services'), el('div', { class: 'toolbar' }, filter, summary), el('div', { class: 'card' }, table));
  let last: Json = null;
  const render = () => {
    if (!last) return;
    const wanted = filter.value.trim().toLowerCase();
    const services: Json[] = (last.services ?? []).filter((s: Json) => wanted === '' || String(s.name).toLowerCase().includes(wanted));
    summary.textContent = `${services.length} of ${(last.services ?? []).length} services · engine ${last.applicationStatus ?? 'unknown'} · fleet ${last.fleet?.reachable === false ? 'unreachable' : 'reachable'}`;
    body.replaceChildren(...services.map((s: Json) => {
      const decision = s.decisions?.[0];
      return el('tr', { 'data-service': s.name, 'data-desired': s.desired, 'data-actual': s.actual ?? '' },
        el('td', {}, el('a', { href: `/ui/services/${encodeURIComponent(s.name)}` }, s.name), ' ', ...controlBadges(s), s.configured === false ? el('span', { class: 'muted' }, ' (not configured)') : null),
        el('td', { class: 'num' }, `${s.desired} / ${s.actual ?? '?'}`),
        el('td', { class: 'num' }, `${s.min ?? '-'} – ${s.max ?? '-'}`),
        el('td', {}, ...(s.policies ?? []).flatMap((p: Json) => [badge(`${p.name}: ${p.state}`, p.state), ' '])),
        el('td', { class: 'num' }, (s.actions ?? []).length),
        el('td', {}, decision ? el('span', {}, isoTime(decision.at), ' ', badge(decision.outcome), decision.reason ? ` ${decision.reason}` : '') : el('span', { class: 'muted' }, 'none')),
      );
    }));
  };
  filter.addEventListener('input', render);
  poll(async () => {
    last = await api('/api/services?decisions=1');
    render();
  });
}

// ---- charts ---------------------------------------------------------------------------------------------------

interface Span { from: number; to: number }
interface MarkLike { at: number; outcome: string; reason: string | null }
interface Overlay { spans: { span: Span; color: string }[]; marks: MarkLike[] }

function markColor(m: MarkLike): string {
  switch (m.outcome) {
    case 'scaled': return COLORS.fired;
    case 'suppressed': return COLORS.suppressed;
    case 'action_done': return COLORS.done;
    case 'action_failed': return COLORS.failed;
    case 'bound_repair': return COLORS.bound;
    default: return COLORS.other;
  }
}

function markLabel(m: MarkLike): string {
  const what = m.outcome === 'scaled' ? 'fired' : m.outcome;
  return m.reason && m.outcome !== 'scaled' ? `${what}: ${m.reason}` : what;
}

/** Draws the overlay: shaded spans under the series, marks (a line and a label) over them. */
function overlayHooks(overlay: () => Overlay): uPlot.Hooks.Arrays {
  const xPos = (u: uPlot, ms: number) => u.valToPos(ms / 1000, 'x', true);
  return {
    drawClear: [(u: uPlot) => {
      const { ctx, bbox } = u;
      ctx.save();
      for (const { span, color } of overlay().spans) {
        const x0 = Math.max(bbox.left, xPos(u, span.from));
        const x1 = Math.min(bbox.left + bbox.width, xPos(u, span.to));
        if (x1 <= x0) continue;
        ctx.fillStyle = color;
        ctx.fillRect(x0, bbox.top, Math.max(1, x1 - x0), bbox.height);
      }
      ctx.restore();
    }],
    draw: [(u: uPlot) => {
      const { ctx, bbox } = u;
      ctx.save();
      ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
      let row = 0;
      for (const m of overlay().marks) {
        const x = xPos(u, m.at);
        if (x < bbox.left || x > bbox.left + bbox.width) continue;
        const color = markColor(m);
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.beginPath();
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x, bbox.top + bbox.height);
        ctx.stroke();
        // Labels near the right edge go to the left of their line; rows keep close marks readable.
        const label = markLabel(m);
        const right = x + ctx.measureText(label).width + 6 * devicePixelRatio > bbox.left + bbox.width;
        ctx.textAlign = right ? 'right' : 'left';
        ctx.fillText(label, x + (right ? -3 : 3) * devicePixelRatio, bbox.top + (12 + 13 * (row % 3)) * devicePixelRatio);
        row += 1;
      }
      ctx.restore();
    }],
  };
}

/** A uPlot chart that keeps its element and is fed new data in place; rebuilt only when its series change. */
class LiveChart {
  private plot: uPlot | null = null;
  private shape = '';
  private overlay: Overlay = { spans: [], marks: [] };
  private range: [number, number] = [0, 1];

  constructor(private readonly host: HTMLElement, private readonly height = 240) {
    new ResizeObserver(() => {
      if (this.plot && Math.abs(this.plot.width - this.width()) > 1) this.plot.setSize({ width: this.width(), height: this.height });
    }).observe(host);
  }

  private width(): number {
    return Math.max(320, this.host.clientWidth || 800);
  }

  update(series: uPlot.Series[], data: uPlot.AlignedData, range: [number, number], overlay: Overlay, y?: uPlot.Scale['range']): void {
    this.overlay = overlay;
    this.range = [range[0] / 1000, range[1] / 1000];
    const shape = JSON.stringify(series.map((s) => [s.label, s.stroke, s.dash]));
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.shape = shape;
    this.plot = new UPlot({
      width: this.width(),
      height: this.height,
      tzDate: (ts) => UPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true, range: () => this.range }, ...(y ? { y: { range: y } } : {}) },
      series: [{ label: 'time (UTC)' }, ...series],
      // Times in UTC, 24 h, like every other time on the page.
      axes: [{ space: 70, values: (_u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(11, 19)) }, { size: 60 }],
      legend: { live: true },
      hooks: overlayHooks(() => this.overlay),
    }, data, this.host);
  }
}

// ---- one service ----------------------------------------------------------------------------------------------

const seconds = (ms: number) => ms / 1000;

/** The metric of one policy: one line per state machine, the threshold, windows and cooldowns shaded, marks. */
function policyChartData(p: Json, from: number, to: number): { series: uPlot.Series[]; data: uPlot.AlignedData; overlay: Overlay; samples: number } {
  const times = new Set<number>([from, to]);
  for (const s of p.series) for (const [t] of s.points) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const columns = p.series.map((s: Json) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) column[index.get(t)!] = v;
    return column;
  });
  const series: uPlot.Series[] = p.series.map((s: Json, i: number) => ({
    label: s.machine === '_aggregate' ? `${p.metric} (aggregated)` : `${p.metric} ${String(s.machine).slice(0, 12)}`,
    stroke: PALETTE[i % PALETTE.length],
    width: 1.5,
    spanGaps: true,
    points: { show: true, size: 4 },
  }));
  series.push({ label: `threshold (${p.operator} ${p.threshold}${p.thresholdUnit ? ` ${p.thresholdUnit}` : ''})`, stroke: COLORS.threshold, width: 1.5, dash: [6, 4], points: { show: false } });
  const threshold = xs.map(() => p.threshold as number);
  const overlay: Overlay = {
    spans: [
      ...p.cooldowns.map((c: Json) => ({ span: c, color: COLORS.cooldown })),
      ...p.windows.map((w: Json) => ({ span: w, color: COLORS.armed })),
    ],
    marks: p.marks,
  };
  const samples = p.series.reduce((n: number, s: Json) => n + s.points.length, 0);
  return { series, data: [xs.map(seconds), ...columns, threshold] as uPlot.AlignedData, overlay, samples };
}

/** The recorded instance count (a step line) against min and max; fleet action results and other events as marks. */
function instanceChartData(t: Json): { series: uPlot.Series[]; data: uPlot.AlignedData; overlay: Overlay } {
  // The API gives each change as two points at one time (before, after); a step-after line needs only the after.
  const points: [number, number][] = [];
  for (const [at, n] of t.instances.points) {
    if (points.length > 0 && points[points.length - 1]![0] === at) points[points.length - 1] = [at, n];
    else points.push([at, n]);
  }
  const xs = points.map(([at]) => seconds(at));
  const series: uPlot.Series[] = [
    { label: 'instances (recorded)', stroke: '#111827', width: 2, paths: UPlot.paths.stepped!({ align: 1 }), points: { show: false } },
  ];
  const data: (number | null)[][] = [xs, points.map(([, n]) => n)];
  if (t.min !== null) {
    series.push({ label: `min_instance ${t.min}`, stroke: '#16a34a', dash: [6, 4], width: 1, points: { show: false } });
    data.push(xs.map(() => t.min));
  }
  if (t.max !== null) {
    series.push({ label: `max_instance ${t.max}`, stroke: '#dc2626', dash: [6, 4], width: 1, points: { show: false } });
    data.push(xs.map(() => t.max));
  }
  return { series, data: data as uPlot.AlignedData, overlay: { spans: [], marks: t.instances.marks } };
}

function count<T>(items: T[], test: (item: T) => boolean): number {
  return items.filter(test).length;
}

function jobLink(job: Json): HTMLElement | null {
  return job ? el('a', { href: job.path, title: `Bull Board: job ${job.id} in ${job.queue}` }, 'board') : null;
}

function actionText(d: Json): string {
  if (!d.action) return '';
  const extra = d.action.attached?.length ? ` +${d.action.attached.length}` : '';
  return `${d.action.kind === 'scale_up' ? 'up' : 'down'} ${d.action.instance}${extra}`;
}

function servicePage(app: HTMLElement, name: string): void {
  document.title = `${name} · dynamite`;
  let minutes = MINUTE_CHOICES.includes(Number(params.get('minutes'))) ? Number(params.get('minutes')) : 10;
  const select = el('select', { 'aria-label': 'minutes shown' }, ...MINUTE_CHOICES.map((m) => el('option', { value: m }, `last ${m} min`)));
  select.value = String(minutes);
  const badges = el('span');
  const banner = el('div');
  const facts = el('div', { class: 'facts' });
  const policies = el('div');
  const instanceHost = el('div', { class: 'chart' });
  const instanceLegend = el('div', { class: 'legend' });
  const instanceCard = el('section', { class: 'card', id: 'instances' }, el('h2', {}, 'Instances'), instanceHost, instanceLegend);
  const actions = el('div');
  const decisionsBody = el('tbody');
  const decisions = el('section', { class: 'card', id: 'decisions' }, el('h2', {}, 'Last decisions'),
    el('table', {}, el('thead', {}, el('tr', {}, ...['time (UTC)', 'outcome', 'reason', 'policy', 'machine', 'action', 'why', 'job'].map((h) => el('th', {}, h)))), decisionsBody));
  app.replaceChildren(
    el('h1', {}, el('a', { href: '/ui' }, 'Services'), ' / ', el('span', { id: 'service-name' }, name), badges, select),
    banner, facts, policies, instanceCard, actions, decisions,
  );
  const instanceChart = new LiveChart(instanceHost, 200);
  const policyCharts = new Map<string, { card: HTMLElement; chart: LiveChart; title: HTMLElement; legend: HTMLElement }>();

  const render = (t: Json) => {
    app.dataset['updated'] = t.time;
    app.dataset['minutes'] = String(t.minutes);
    badges.replaceChildren(...controlBadges(t));
    banner.replaceChildren(...(isPaused(t.paused) ? [el('div', { class: 'banner paused', id: 'paused' }, pauseText(t.paused))] : []));
    facts.replaceChildren(
      el('span', {}, 'desired ', el('b', { id: 'desired' }, t.desired)),
      el('span', {}, 'actual (fleet) ', el('b', { id: 'actual' }, t.actual ?? '?')),
      el('span', {}, 'min ', el('b', { id: 'min' }, t.min ?? '-'), ' max ', el('b', { id: 'max' }, t.max ?? '-')),
      el('span', {}, 'shown ', el('b', {}, `${isoTime(t.from)} – ${isoTime(t.to)}`)),
    );

    const seen = new Set<string>();
    for (const p of t.policies as Json[]) {
      seen.add(p.name);
      let entry = policyCharts.get(p.name);
      if (!entry) {
        const title = el('h2');
        const host = el('div', { class: 'chart' });
        const legend = el('div', { class: 'legend' });
        const card = el('section', { class: 'card policy', 'data-policy': p.name }, title, host, legend);
        policies.append(card);
        entry = { card, chart: new LiveChart(host), title, legend };
        policyCharts.set(p.name, entry);
      }
      const chart = policyChartData(p, t.from, t.to);
      entry.chart.update(chart.series, chart.data, [t.from, t.to], chart.overlay);
      const windows = p.windows as Json[];
      const marks = p.marks as Json[];
      const stats = {
        threshold: p.threshold, samples: chart.samples, series: p.series.length, machines: p.machines,
        windows: windows.length, open: count(windows, (w) => w.open), fired: count(marks, (m) => m.outcome === 'scaled'),
        suppressed: count(marks, (m) => m.outcome === 'suppressed'), disarmed: count(windows, (w) => w.end === 'disarmed'),
        cooldowns: p.cooldowns.length, marks: marks.length, state: p.state,
      };
      for (const [key, value] of Object.entries(stats)) entry.card.dataset[key] = String(value);
      entry.title.replaceChildren(`${p.name} (${p.direction}): ${p.rule} `, badge(p.state));
      entry.legend.replaceChildren(
        el('span', {}, `${stats.samples} samples from ${stats.series} of ${stats.machines} machine(s)`, p.series.some((s: Json) => s.truncated) ? ' (newest only)' : ''),
        el('span', {}, el('span', { class: 'swatch armed' }), `armed windows: ${stats.windows} (${stats.fired} fired, ${stats.disarmed} disarmed, ${count(windows, (w) => w.end === 'suppressed')} suppressed at expiry, ${stats.open} open)`),
        el('span', {}, el('span', { class: 'swatch cooldown' }), `cooldowns: ${stats.cooldowns}`),
        el('span', {}, el('span', { class: 'swatch fired' }), `fired: ${stats.fired}`),
        el('span', {}, el('span', { class: 'swatch suppressed' }), `suppressed: ${stats.suppressed}`),
        ...(stats.marks - stats.fired - stats.suppressed > 0 ? [el('span', {}, el('span', { class: 'swatch other' }), `other: ${stats.marks - stats.fired - stats.suppressed}`)] : []),
      );
    }
    for (const [policy, entry] of policyCharts) {
      if (seen.has(policy)) continue;
      entry.card.remove();
      policyCharts.delete(policy);
    }

    const inst = instanceChartData(t);
    instanceChart.update(inst.series, inst.data, [t.from, t.to], inst.overlay, (_u, _min, max) => [0, Math.max(max, (t.max ?? 0)) + 1]);
    const lastPoint = t.instances.points[t.instances.points.length - 1];
    Object.assign(instanceCard.dataset, { desired: String(t.desired), actual: String(t.actual ?? ''), min: String(t.min ?? ''), max: String(t.max ?? ''), changes: String(t.instances.changes.length), last: String(lastPoint?.[1] ?? '') });
    instanceLegend.replaceChildren(
      el('span', {}, `${t.instances.changes.length} change(s) in the window`),
      ...(t.instances.marks as Json[]).length ? [el('span', {}, `events: ${(t.instances.marks as Json[]).map((m) => markLabel(m)).join(', ')}`)] : [],
    );

    actions.replaceChildren(...(t.actions.length === 0 ? [] : [el('section', { class: 'card', id: 'actions' }, el('h2', {}, 'Unfinished actions'),
      el('table', {}, el('thead', {}, el('tr', {}, ...['since (UTC)', 'status', 'action', 'reason', 'attempts', 'error', 'job'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...(t.actions as Json[]).map((a) => el('tr', { 'data-decision-id': a.decisionId },
          el('td', { class: 'time' }, a.createdAt), el('td', {}, badge(a.status)), el('td', {}, `${a.kind === 'scale_up' ? 'up' : 'down'} ${a.instance}`),
          el('td', {}, a.reason), el('td', { class: 'num' }, a.attempts), el('td', { class: 'message' }, a.error ?? ''), el('td', {}, jobLink(a.job)))))))]));

    decisionsBody.replaceChildren(...(t.decisions as Json[]).map((d) => el('tr', { 'data-decision-id': d.id, 'data-outcome': d.outcome },
      el('td', { class: 'time' }, isoTime(d.at)),
      el('td', {}, badge(d.outcome)),
      el('td', {}, d.reason ?? ''),
      el('td', {}, d.policy ?? ''),
      el('td', {}, d.machine ? String(d.machine).slice(0, 12) : ''),
      el('td', {}, actionText(d)),
      el('td', { class: 'message' }, d.message),
      el('td', {}, jobLink(d.job)),
    )));
  };

  let refresh: () => Promise<void> = async () => undefined;
  select.addEventListener('change', () => {
    minutes = Number(select.value);
    const url = new URL(location.href);
    url.searchParams.set('minutes', String(minutes));
    history.replaceState(null, '', url);
    void refresh();
  });
  refresh = async () => {
    const t = await api(`/api/services/${encodeURIComponent(name)}/timeline?minutes=${minutes}`);
    // An answer for the window shown before a change of `minutes` comes too late to draw.
    if (t.minutes === minutes) render(t);
  };
  poll(() => refresh());
}

// ---- routing --------------------------------------------------------------------------------------------------

const app = document.getElementById('app')!;
const match = /^\/ui\/services\/([^/]+)\/?$/.exec(location.pathname);
if (match) servicePage(app, decodeURIComponent(match[1]!));
else listPage(app);
