// The fleet box: GET /api/fleet/workers, refreshed every few seconds.

import { fleetApi } from './api.js';
import { showProblem, clearProblem } from './problems.js';
import { $, h, formatAgo, formatDate } from './dom.js';

const REFRESH_MS = 5000;

export class FleetBox {
  constructor(root) {
    this.body = $('[data-workers]', root);
    this.summary = $('[data-summary]', root);
    this.problem = $('[data-problem]', root);
    $('[data-refresh]', root).addEventListener('click', () => this.refresh());
    setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
  }

  async refresh() {
    try {
      const workers = await fleetApi.workers();
      clearProblem(this.problem);
      this.draw(workers);
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  draw(workers) {
    const alive = workers.filter((w) => w.alive).length;
    this.summary.textContent = workers.length ? `${alive} of ${workers.length} alive` : '';
    this.body.replaceChildren(...(workers.length
      ? workers.map(renderWorker)
      : [h('tr', null, h('td', { colspan: 4, class: 'empty-row' }, 'No worker has reported yet.'))]));
  }
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
