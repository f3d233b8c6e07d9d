// The jobs list: GET /api/jobs, newest first, filtered by state, paged. Each row is a
// link to #job=<id>, so opening a job is ordinary navigation (back button included).

import { jobsApi } from './api.js';
import { showProblem, clearProblem } from './problems.js';
import { $, h, formatAgo, formatDate, formatSeconds, shortId, kindLabel, stateBadge } from './dom.js';

const PAGE_SIZE = 20;
const REFRESH_MS = 5000;

export class JobsList {
  constructor(root) {
    this.root = root;
    this.list = $('[data-list]', root);
    this.filter = $('[data-filter]', root);
    this.kindFilter = $('[data-kind-filter]', root);
    this.pager = $('[data-pager]', root);
    this.pageLabel = $('[data-page-label]', root);
    this.prev = $('[data-prev]', root);
    this.next = $('[data-next]', root);
    this.problem = $('[data-problem]', root);
    this.page = 1;
    this.activeId = null;
    this.signature = null;

    this.filter.addEventListener('change', () => this.goTo(1));
    this.kindFilter.addEventListener('change', () => this.goTo(1));
    this.prev.addEventListener('click', () => this.goTo(this.page - 1));
    this.next.addEventListener('click', () => this.goTo(this.page + 1));
    $('[data-refresh]', root).addEventListener('click', () => this.refresh({ force: true }));
    setInterval(() => document.hidden || this.refresh(), REFRESH_MS);
  }

  goTo(page) {
    this.page = Math.max(1, page);
    this.refresh({ force: true });
  }

  setActive(id) {
    this.activeId = id;
    for (const link of this.list.querySelectorAll('a[data-job]')) {
      if (link.dataset.job === id) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
  }

  async refresh({ force = false } = {}) {
    try {
      const page = await jobsApi.list({ page: this.page, pageSize: PAGE_SIZE, state: this.filter.value, kind: this.kindFilter.value });
      clearProblem(this.problem);
      if (page.items.length === 0 && page.total > 0 && this.page > 1) return this.goTo(Math.ceil(page.total / PAGE_SIZE));
      this.draw(page, force);
    } catch (error) {
      showProblem(this.problem, error);
    }
  }

  draw(page, force) {
    // Redraw only when something changed (or the minute changed, for "3 min ago"), and
    // never under the keyboard focus unless asked.
    const signature = JSON.stringify([page.page, page.total, page.items.map((j) => [j.id, j.state, j.updatedAt]), Math.floor(Date.now() / 60000)]);
    if (!force && signature === this.signature) return;
    if (!force && this.list.contains(document.activeElement) && this.signature !== null) return;
    this.signature = signature;

    const rows = page.items.map((job) => renderRow(job, job.id === this.activeId));
    this.list.replaceChildren(...(rows.length ? rows : [renderEmpty(this.filter.value, this.kindFilter.value)]));

    const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
    this.pager.hidden = page.total <= page.pageSize;
    this.pageLabel.textContent = `Page ${page.page} of ${pages} · ${page.total} jobs`;
    this.prev.disabled = page.page <= 1;
    this.next.disabled = page.page >= pages;
  }
}

function renderRow(job, active) {
  const title = [kindLabel(job.kind), job.inputName].filter(Boolean).join(' · ');
  const duration = job.totalSeconds != null ? formatSeconds(job.totalSeconds) : '';
  return h('li', null,
    h('a', { class: 'job-row', href: `#job=${job.id}`, 'data-job': job.id, 'aria-current': active ? 'true' : null },
      h('span', { class: 'job-row-main' },
        h('span', { class: 'job-row-title' }, title),
        h('span', { class: 'job-row-sub' },
          h('code', null, shortId(job.id)), ' · ',
          h('time', { datetime: job.createdAt, title: formatDate(job.createdAt) }, formatAgo(job.createdAt)),
          duration && ` · ${duration}`,
          job.batchId && [' · ', h('span', { class: 'chip' }, 'batch')])),
      stateBadge(job.state)));
}

function renderEmpty(state, kind) {
  const what = [state, kind && kindLabel(kind).toLowerCase()].filter(Boolean).join(' ');
  return h('li', { class: 'empty-row' }, what ? `No ${what} jobs.` : 'No jobs yet. Submit one above.');
}
