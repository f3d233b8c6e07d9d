// Batches: the list (GET /api/batches) and the open batch (GET /api/batches/{id}, polled every
// second until every item has finished): aggregate progress, counts per state, each item.

import { batchesApi } from './api.js';
import { showProblem, clearProblem } from './problems.js';
import { $, h, formatAgo, formatDate, shortId, stateBadge, sentence } from './dom.js';

const POLL_MS = 1000;
const REFRESH_MS = 5000;
const COUNT_ORDER = ['succeeded', 'running', 'queued', 'failed', 'cancelled'];

function describeCounts(counts, total) {
  const parts = COUNT_ORDER.filter((state) => counts?.[state]).map((state) => `${counts[state]} ${state}`);
  return `${total} ${total === 1 ? 'clip' : 'clips'}${parts.length ? ': ' + parts.join(', ') : ''}`;
}

function batchState(batch) {
  if (!batch.finished) return (batch.counts?.running ?? 0) > 0 ? 'running' : 'queued';
  return (batch.counts?.failed ?? 0) > 0 ? 'failed' : (batch.counts?.cancelled ?? 0) === batch.total ? 'cancelled' : 'succeeded';
}

export class BatchesList {
  constructor(root) {
    this.list = $('[data-list]', root);
    this.filter = $('[data-filter]', root);
    this.problem = $('[data-problem]', root);
    this.activeId = null;
    this.filter.addEventListener('change', () => this.refresh());
    setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
  }

  setActive(id) {
    this.activeId = id;
    for (const link of this.list.querySelectorAll('a[data-batch]')) {
      if (link.dataset.batch === id) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
  }

  async refresh() {
    try {
      const page = await batchesApi.list({ pageSize: 10, finished: this.filter.value });
      clearProblem(this.problem);
      const items = page?.items ?? [];
      this.list.replaceChildren(...(items.length
        ? items.map((batch) => h('li', null,
          h('a', { class: 'job-row', href: `#batch=${batch.id}`, 'data-batch': batch.id, 'aria-current': batch.id === this.activeId ? 'true' : null },
            h('span', { class: 'job-row-main' },
              h('span', { class: 'job-row-title' }, batch.name || `Batch ${shortId(batch.id)}`),
              h('span', { class: 'job-row-sub' },
                h('time', { datetime: batch.createdAt, title: formatDate(batch.createdAt) }, formatAgo(batch.createdAt)),
                ' · ', describeCounts(batch.counts, batch.total))),
            stateBadge(batchState(batch)))))
        : [h('li', { class: 'empty-row' }, this.filter.value ? 'No such batches.' : 'No batches yet. Use the Batch tab, or talkingface batch.')]));
    } catch (error) {
      showProblem(this.problem, error);
    }
  }
}

export class BatchPanel {
  /** @param {HTMLElement} root  @param {{ onFinished?: (batch) => void }} hooks */
  constructor(root, hooks = {}) {
    this.root = root;
    this.hooks = hooks;
    this.els = {
      name: $('[data-batch-name]', root),
      badge: $('[data-badge]', root),
      problem: $('[data-problem]', root),
      bar: $('[data-batch-bar]', root),
      counts: $('[data-batch-counts]', root),
      items: $('[data-batch-items]', root),
    };
    this.id = null;
  }

  open(id) {
    if (id === this.id) return;
    this.close();
    this.id = id;
    this.root.hidden = false;
    this.els.name.textContent = shortId(id);
    this.els.items.replaceChildren(h('li', { class: 'empty-row' }, 'Loading…'));
    this.poll();
  }

  close() {
    clearTimeout(this.timer);
    this.id = null;
    this.root.hidden = true;
    clearProblem(this.els.problem);
  }

  async poll() {
    const id = this.id;
    try {
      const batch = await batchesApi.get(id);
      if (id !== this.id) return;
      clearProblem(this.els.problem);
      this.render(batch);
      if (batch.finished) {
        this.hooks.onFinished?.(batch);
        return;
      }
    } catch (error) {
      if (id !== this.id) return;
      showProblem(this.els.problem, error);
      if (error.status >= 400 && error.status < 500) return;
    }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  render(batch) {
    const percent = Math.round((batch.progress ?? 0) * 100);
    this.els.name.textContent = batch.name || shortId(batch.id);
    this.els.badge.replaceChildren(stateBadge(batchState(batch)));
    this.els.bar.setAttribute('aria-valuenow', String(percent));
    this.els.bar.querySelector('.bar-fill').style.width = `${percent}%`;
    this.els.counts.textContent = `${percent}% · ${describeCounts(batch.counts, batch.total)}`;
    this.root.dataset.finished = String(!!batch.finished);
    this.els.items.replaceChildren(...(batch.items ?? []).map((item) => {
      const itemPercent = Math.round((item.progress ?? 0) * 100);
      return h('li', null,
        h('a', { class: 'job-row', href: `#batch=${batch.id}&job=${item.jobId}`, 'data-job': item.jobId, 'data-state': item.state },
          h('span', { class: 'job-row-main' },
            h('span', { class: 'job-row-title' }, item.inputName ?? shortId(item.jobId)),
            h('span', { class: 'job-row-sub' },
              item.reason ? sentence(item.reason) : item.state === 'running' ? `${itemPercent}%` : h('code', null, shortId(item.jobId)))),
          stateBadge(item.state)));
    }));
  }
}
