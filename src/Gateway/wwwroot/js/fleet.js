// The fleet box: GET /api/fleet (per device class x stage: workers, busy, speed, backlog) when
// the gateway has it, otherwise a summary counted from GET /api/fleet/workers; then each worker.
// Refreshed every few seconds. The summary is drawn from whatever fields the rows carry.

import { fleetApi } from './api.js';
import { showProblem, clearProblem } from './problems.js';
import { $, h, formatAgo, formatDate, formatSeconds } from './dom.js';

const REFRESH_MS = 5000;

export class FleetBox {
  constructor(root) {
    this.body = $('[data-workers]', root);
    this.summaryBox = $('[data-fleet-summary]', root);
    this.summary = $('[data-summary]', root);
    this.problem = $('[data-problem]', root);
    this.hasSummaryEndpoint = true;
    $('[data-refresh]', root).addEventListener('click', () => this.refresh());
    setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
  }

  async refresh() {
    try {
      const [workers, summary] = await Promise.all([fleetApi.workers(), this.loadSummary()]);
      clearProblem(this.problem);
      this.draw(Array.isArray(workers) ? workers : []);
      this.drawSummary(summary ? rowsOf(summary) : countFromWorkers(Array.isArray(workers) ? workers : []), !!summary);
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  async loadSummary() {
    if (!this.hasSummaryEndpoint) return null;
    try {
      return await fleetApi.summary();
    } catch (error) {
      if (error.status === 404 || error.status === 405) this.hasSummaryEndpoint = false;
      return null;
    }
  }

  draw(workers) {
    const alive = workers.filter((w) => w.alive).length;
    this.summary.textContent = workers.length ? `${alive} of ${workers.length} alive` : '';
    this.body.replaceChildren(...(workers.length
      ? workers.map(renderWorker)
      : [h('tr', null, h('td', { colspan: 4, class: 'empty-row' }, 'No worker has reported yet.'))]));
  }

  drawSummary(allRows, fromServer) {
    let rows = allRows;
    if (rows.length === 0) {
      this.summaryBox.replaceChildren();
      return;
    }
    // Classes with no worker and no work are noise (every class is listed for every stage).
    rows = rows.filter((r) => r.values.liveWorkers !== 0 || r.values.queued || r.values.running || r.values.waiting);
    if (rows.length === 0) {
      this.summaryBox.replaceChildren();
      return;
    }
    const present = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
    if (present.includes('liveWorkers')) present.push('workers');
    const preferred = PREFERRED_COLUMNS.filter(([key]) => present.includes(key));
    const columns = preferred.length ? preferred.map(([key]) => key) : present.slice(0, 6);
    this.summaryBox.replaceChildren(
      h('h3', { class: 'section-title' }, fromServer ? 'Queues' : 'Queues (counted from the workers)'),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'fleet-table fleet-summary', 'data-fleet-rows': rows.length },
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Stage'), h('th', { scope: 'col' }, 'Device'),
            columns.map((c) => h('th', { scope: 'col', class: 'num' }, COLUMN_LABELS.get(c) ?? humanize(c))))),
          h('tbody', null, rows.map((row) => h('tr', null,
            h('th', { scope: 'row' }, row.stage ?? '—'),
            h('td', null, h('span', { class: 'chip' }, row.deviceClass ?? '—')),
            columns.map((c) => h('td', { class: 'num', title: c === 'backlogUnits' && row.values.unit ? String(row.values.unit) : null },
              formatColumn(c, row.values)))))))),
      rows.filter((r) => r.values.waiting).map((r) => h('p', { class: 'field-note fleet-waiting' }, `${r.stage} · ${r.deviceClass}: ${r.values.waiting}`)));
  }
}

/** The columns worth the narrow box, when the summary has them: [field, label]. */
const PREFERRED_COLUMNS = [
  ['workers', 'Busy / live'],
  ['queued', 'Queued'],
  ['backlogUnits', 'Backlog'],
  ['expectedWaitSeconds', 'Wait'],
];
const COLUMN_LABELS = new Map(PREFERRED_COLUMNS);

function formatColumn(key, values) {
  const value = values[key];
  if (key === 'workers') return `${values.busyWorkers ?? 0} / ${values.liveWorkers ?? 0}`;
  if (key === 'expectedWaitSeconds') return value == null ? '—' : formatSeconds(value);
  if (key === 'backlogUnits' && typeof value === 'number') return `${value < 10 ? value.toFixed(1) : Math.round(value)}${values.unit ? ' ' + shortUnit(values.unit) : ''}`;
  return formatValue(value);
}

function shortUnit(unit) {
  return { audio_second: 's', 'audio-seconds': 's', seconds: 's', image: 'img', images: 'img' }[unit] ?? unit;
}

/** Finds the rows in whatever shape the summary has: an array, or the first array inside an object. */
function rowsOf(summary) {
  const list = Array.isArray(summary) ? summary
    : Object.values(summary ?? {}).find(Array.isArray) ?? [];
  return list.filter((r) => r && typeof r === 'object').map((r) => {
    const values = {};
    let stage = null;
    let deviceClass = null;
    for (const [key, value] of Object.entries(r)) {
      if (/^stage$/i.test(key)) stage = String(value);
      else if (/^(deviceclass|class|device)$/i.test(key)) deviceClass = String(value);
      else if (value == null || typeof value !== 'object') values[key] = value;
    }
    return { stage, deviceClass, values };
  });
}

function countFromWorkers(workers) {
  const groups = new Map();
  for (const w of workers) {
    const key = `${w.stage}|${w.deviceClass}`;
    const g = groups.get(key) ?? { stage: w.stage, deviceClass: w.deviceClass, values: { liveWorkers: 0, busyWorkers: 0 } };
    if (w.alive) {
      g.values.liveWorkers++;
      if ((w.inFlight ?? 0) > 0) g.values.busyWorkers++;
    }
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => `${a.stage}${a.deviceClass}`.localeCompare(`${b.stage}${b.deviceClass}`));
}

function humanize(key) {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatValue(value) {
  if (value == null) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value)) return formatAgo(value);
  return String(value);
}

function renderWorker(worker) {
  const load = worker.concurrency ? Math.min(1, worker.inFlight / worker.concurrency) : 0;
  const seen = `last heard ${formatAgo(worker.lastSeenAt)} (${formatDate(worker.lastSeenAt)})`;
  return h('tr', { class: worker.alive ? '' : 'is-lost' },
    h('th', { scope: 'row' }, worker.stage),
    h('td', null, h('span', { class: 'chip' }, worker.deviceClass)),
    h('td', { class: 'worker-id' },
      h('span', { class: `alive-dot ${worker.alive ? 'is-alive' : ''}`, title: seen, 'aria-hidden': 'true' }),
      h('span', { class: 'visually-hidden' }, worker.alive ? 'alive: ' : 'not heard from: '),
      h('code', { title: [worker.host, (worker.providers ?? []).join(', '), seen].filter(Boolean).join(' · ') }, worker.workerId)),
    h('td', { class: 'num' },
      h('span', { class: 'load' },
        h('span', { class: 'load-bar', 'aria-hidden': 'true' }, h('span', { style: `width: ${load * 100}%` })),
        `${worker.inFlight}/${worker.concurrency}`)));
}
