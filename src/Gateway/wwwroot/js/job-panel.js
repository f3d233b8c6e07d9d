// The job panel: follows GET /api/jobs/{id}/events (server-sent events, one "job" event per
// change, ending when the job finishes) and shows its stages, step timings, outcome, result
// and artifacts. Where EventSource is missing or the stream breaks it polls GET /api/jobs/{id}
// instead. Parts are redrawn only when their data changed, so a video keeps playing and the
// Cancel button keeps focus.

import { jobsApi } from './api.js';
import { showProblem, clearProblem } from './problems.js';
import { renderResult } from './results.js';
import { $, h, sentence, formatSeconds, formatBytes, formatDate, formatAgo, shortId, kindLabel, stateBadge } from './dom.js';

const POLL_MS = 500;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_BACKOFF_MS = 5000;
export const TERMINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

export class JobPanel {
  /** @param {HTMLElement} root  @param {{ onFinished?: (job) => void }} hooks */
  constructor(root, hooks = {}) {
    this.root = root;
    this.hooks = hooks;
    this.els = {
      empty: $('[data-empty]', root),
      body: $('[data-body]', root),
      id: $('[data-id]', root),
      eyebrow: $('[data-eyebrow]', root),
      badge: $('[data-badge]', root),
      problem: $('[data-problem]', root),
      connection: $('[data-connection]', root),
      outcome: $('[data-outcome]', root),
      result: $('[data-result]', root),
      facts: $('[data-facts]', root),
      stages: $('[data-stages]', root),
      artifactsSection: $('[data-artifacts-section]', root),
      artifacts: $('[data-artifacts]', root),
      artifactsCount: $('[data-artifacts-count]', root),
      cancel: $('[data-cancel]', root),
      json: $('[data-json]', root),
      live: $('[data-live]', root),
    };
    this.els.cancel.addEventListener('click', () => this.cancel());
    document.addEventListener('visibilitychange', () => this.resumeIfPaused());
    this.reset();
  }

  get jobId() {
    return this.id;
  }

  open(id) {
    if (id === this.id) return;
    this.stop();
    this.reset();
    this.id = id;
    this.els.empty.hidden = true;
    this.els.body.hidden = false;
    this.els.id.textContent = shortId(id);
    this.els.id.title = id;
    this.els.eyebrow.textContent = 'Loading…';
    this.els.json.href = `/api/jobs/${id}`;
    if (!GUID.test(id)) {
      this.els.eyebrow.textContent = '';
      showProblem(this.els.problem, { title: 'Not a job id', detail: `'${id}' is not a job id (job ids are GUIDs such as 3f2b8c1e-5d4a-4c1b-9e3f-0a1b2c3d4e5f)` });
      return;
    }
    if ('EventSource' in window) this.listen();
    else this.poll();
  }

  /**
   * The job's read token (EventSource, the video and download links cannot send the API key), asked for once per job
   * and again when it has less than five minutes left; null when the gateway runs without keys.
   */
  async readToken(id) {
    const soon = Date.now() + 5 * 60 * 1000;
    if (this.token?.id !== id || (this.token.expiresAt && Date.parse(this.token.expiresAt) < soon)) {
      const answer = await jobsApi.readToken(id);
      this.token = { id, token: answer.token, expiresAt: answer.expiresAt };
    }
    return this.token.token;
  }

  /** A URL of this job's read routes, with its token when there is one. */
  authorize(url) {
    const token = this.token?.id === this.id ? this.token.token : null;
    return token ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : url;
  }

  /** Live updates over server-sent events; on any break, one GET decides what happens next (an expired token is asked for again). */
  async listen() {
    const id = this.id;
    try {
      await this.readToken(id);
    } catch {
      if (id === this.id) this.poll();
      return;
    }
    if (id !== this.id || this.source) return;
    const source = new EventSource(this.authorize(jobsApi.eventsUrl(id)));
    this.source = source;
    this.root.dataset.transport = 'events';
    source.addEventListener('job', (event) => {
      if (id !== this.id || this.source !== source) return;
      this.failures = 0;
      this.els.connection.hidden = true;
      const job = JSON.parse(event.data);
      this.render(job);
      if (TERMINAL_STATES.has(job.state)) this.closeSource();
    });
    source.addEventListener('error', () => {
      if (id !== this.id || this.source !== source) return;
      // The gateway went away, the job does not exist (404), or the stream reached its time limit:
      // close it (EventSource would retry blindly) and let a plain GET show the problem or resume.
      this.closeSource();
      this.root.dataset.transport = 'polling';
      this.poll({ thenListen: true });
    });
  }

  closeSource() {
    this.source?.close();
    this.source = null;
  }

  close() {
    this.stop();
    this.reset();
    this.id = null;
    this.els.empty.hidden = false;
    this.els.body.hidden = true;
    this.els.id.textContent = '';
  }

  /** Shows a job view the page already has (e.g. the answer to a submit) and keeps polling it. */
  show(job) {
    this.open(job.id);
    this.render(job);
  }

  reset() {
    this.drawn = { stages: null, artifacts: null, result: null };
    this.lastState = null;
    this.failures = 0;
    this.paused = false;
    clearProblem(this.els.problem);
    this.els.connection.hidden = true;
    this.els.outcome.replaceChildren();
    this.els.result.replaceChildren();
    this.els.facts.replaceChildren();
    this.els.stages.replaceChildren();
    this.els.artifacts.replaceChildren();
    this.els.badge.replaceChildren();
    this.els.cancel.hidden = true;
  }

  stop() {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.closeSource();
  }

  async poll({ thenListen = false } = {}) {
    const id = this.id;
    this.controller = new AbortController();
    try {
      const job = await jobsApi.get(id, this.controller.signal);
      await this.readToken(id).catch(() => null); // links without a token still work where the gateway needs no key
      if (id !== this.id) return;
      this.failures = 0;
      this.els.connection.hidden = true;
      this.render(job);
      if (TERMINAL_STATES.has(job.state)) return;
      if (thenListen && 'EventSource' in window) {
        this.timer = setTimeout(() => id === this.id && this.listen(), 1000);
        return;
      }
    } catch (error) {
      if (error.name === 'AbortError' || id !== this.id) return;
      if (error.status >= 400 && error.status < 500) {
        this.els.eyebrow.textContent = '';
        showProblem(this.els.problem, error);
        return; // 404 and friends will not get better by asking again
      }
      this.failures++;
      this.els.connection.hidden = false;
    }
    this.schedule();
  }

  schedule() {
    const delay = this.failures ? Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** this.failures) : POLL_MS;
    this.timer = setTimeout(() => {
      if (document.hidden) this.paused = true; // no polling in a background tab
      else this.poll();
    }, delay);
  }

  resumeIfPaused() {
    if (!document.hidden && this.paused && this.id) {
      this.paused = false;
      this.poll();
    }
  }

  async cancel() {
    const button = this.els.cancel;
    button.disabled = true;
    clearProblem(this.els.problem);
    try {
      this.render(await jobsApi.cancel(this.id));
    } catch (error) {
      showProblem(this.els.problem, error);
    } finally {
      button.disabled = false;
    }
  }

  render(view) {
    // Links and media of the job carry its read token: the browser cannot send the API key with them.
    const job = { ...view, artifacts: view.artifacts.map((a) => ({ ...a, url: this.authorize(a.url) })) };
    this.els.json.href = this.authorize(`/api/jobs/${job.id}`);
    const finished = TERMINAL_STATES.has(job.state);
    this.els.eyebrow.textContent = [kindLabel(job.kind), job.inputName].filter(Boolean).join(' · ');
    this.els.badge.replaceChildren(stateBadge(job.state));
    this.els.cancel.hidden = finished;
    this.els.outcome.replaceChildren(...renderOutcome(job), ...[renderWarnings(job)].filter(Boolean));
    this.els.facts.replaceChildren(...renderFacts(job));
    this.redraw('result', [job.state, job.artifacts.map((a) => a.url + a.sha256)], () => this.els.result.replaceChildren(...renderResult(job)));
    this.redraw('stages', job.stages, () => this.els.stages.replaceChildren(...job.stages.map(renderStage)));
    this.redraw('artifacts', job.artifacts.map((a) => a.url + a.sha256), () => {
      this.els.artifactsSection.hidden = job.artifacts.length === 0;
      this.els.artifactsCount.textContent = `(${job.artifacts.length})`;
      // The result above offers the usual downloads; the full list is open by default only when something went wrong.
      this.els.artifactsSection.open = job.state === 'failed' || job.state === 'cancelled';
      this.els.artifacts.replaceChildren(...job.artifacts.map(renderArtifact));
    });
    this.announce(job);
  }

  redraw(part, data, draw) {
    const signature = JSON.stringify(data);
    if (this.drawn[part] === signature) return;
    this.drawn[part] = signature;
    draw();
  }

  announce(job) {
    if (job.state === this.lastState) return;
    const wasRunning = this.lastState !== null && !TERMINAL_STATES.has(this.lastState);
    this.lastState = job.state;
    this.els.live.textContent = `Job ${shortId(job.id)} is ${job.state}.`;
    if (TERMINAL_STATES.has(job.state) && wasRunning) this.hooks.onFinished?.(job);
  }
}

function renderOutcome(job) {
  if (job.state === 'failed' || job.state === 'cancelled') {
    const failed = job.state === 'failed';
    const kept = job.artifacts.some((a) => a.stage !== 'input');
    return [h('div', { class: `callout ${failed ? 'callout-error' : 'callout-muted'}` },
      h('p', { class: 'callout-title' }, failed ? 'This job failed' : 'This job was cancelled'),
      job.reason && h('p', null, sentence(job.reason)),
      failed && kept && h('p', { class: 'callout-note' }, 'What the finished steps produced is kept below.'))];
  }
  if (job.state === 'succeeded') {
    return [h('div', { class: 'callout callout-ok' },
      h('p', { class: 'callout-title' }, 'Done'),
      h('p', null, `Finished in ${formatSeconds(job.totalSeconds)}. The results are below.`))];
  }
  return [];
}

/** What the job's stages want the user to know about a result that is there (a skipped preview, a repaired input). */
function renderWarnings(job) {
  const warnings = job.warnings ?? [];
  if (warnings.length === 0) return null;
  return h('div', { class: 'callout callout-warn', 'data-testid': 'job-warnings' },
    h('p', { class: 'callout-title' }, warnings.length === 1 ? 'Warning' : `${warnings.length} warnings`),
    h('ul', { class: 'callout-list' }, warnings.map((w) => h('li', null, sentence(w)))));
}

function renderFacts(job) {
  const queueWait = sum(job.stages.map((s) => s.queueWaitSeconds));
  const runTime = sum(job.stages.map((s) => s.runSeconds));
  const total = job.totalSeconds ?? (Date.now() - new Date(job.createdAt).getTime()) / 1000;
  const facts = [
    ['Created', h('time', { datetime: job.createdAt, title: formatDate(job.createdAt) }, formatAgo(job.createdAt))],
    [job.totalSeconds == null ? 'Elapsed' : 'Total', formatSeconds(total)],
    ['Queue wait', formatSeconds(queueWait)],
    ['Run time', formatSeconds(runTime)],
    ['Device class', job.deviceClass],
  ];
  if (job.priority) facts.push(['Priority', String(job.priority)]);
  facts.push(['Options', describeOptions(job), 'fact-wide']);
  return facts.map(([term, value, extra]) => h('div', { class: ['fact', extra].filter(Boolean).join(' ') }, h('dt', null, term), h('dd', null, value)));
}

function describeOptions(job) {
  const o = job.options ?? {};
  if (job.kind === 'talking-face') {
    return [o.featureModel, o.motionModel, o.seed != null && `seed ${o.seed}`, o.temperature != null && `temperature ${o.temperature}`]
      .filter(Boolean).join(' · ');
  }
  if (job.kind === 'hair') {
    const shape = o.shapeGalleryId ?? o.shapeId;
    const color = o.colorGalleryId ?? o.colorId;
    return [`mode ${o.mode}`, shape && `shape ${shape}`, color && `color ${color}`].filter(Boolean).join(' · ');
  }
  return JSON.stringify(o);
}

function sum(values) {
  const known = values.filter((v) => v != null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

function renderStage(stage, index) {
  const percent = Math.round(Math.max(0, Math.min(1, stage.progress ?? 0)) * 100);
  const shown = stage.state === 'succeeded' ? 100 : percent;
  const details = [
    ['Attempt', `${stage.attempt} of ${stage.maxAttempts}`],
    ['Worker', stage.workerId ? [stage.workerId, stage.workerHost && stage.workerHost !== stage.workerId ? ` on ${stage.workerHost}` : ''].join('') : '—'],
    ['Device class', stage.deviceClass],
    stage.provider && ['Provider', stage.provider],
    stage.model && ['Model', stage.model],
    ['Queue wait', formatSeconds(stage.queueWaitSeconds)],
    ['Run time', formatSeconds(stage.runSeconds)],
  ].filter(Boolean);

  return h('li', { class: `stage state-${stage.state}` },
    h('div', { class: 'stage-head' },
      h('span', { class: 'stage-index', 'aria-hidden': 'true' }, index + 1),
      h('h4', { class: 'stage-name' }, stage.name),
      stateBadge(stage.state)),
    h('div', { class: 'stage-progress' },
      h('div', {
        class: 'bar', role: 'progressbar', 'aria-label': `${stage.name} progress`,
        'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': shown,
      }, h('span', { class: 'bar-fill', style: `width: ${shown}%` })),
      h('span', { class: 'stage-percent' }, `${shown}%`)),
    stage.currentStep && stage.state === 'running' && h('p', { class: 'stage-step' }, 'Now: ', h('code', null, stage.currentStep)),
    stage.state === 'queued' && h('p', { class: 'stage-step' }, `Waiting for a free ${stage.deviceClass} worker…`),
    stage.state === 'pending' && h('p', { class: 'stage-step' }, stage.attempt > 1
      ? `Will retry shortly (attempt ${stage.attempt} of ${stage.maxAttempts}).`
      : 'Starts when the stage before it is done.'),
    h('dl', { class: 'stage-facts' }, details.map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value)))),
    stage.reason && h('p', { class: 'stage-reason' }, sentence(stage.reason)),
    stage.timings?.length > 0 && h('details', { class: 'stage-timings' },
      h('summary', null, `Step timings (${stage.timings.length})`), renderTimings(stage)));
}

function renderTimings(stage) {
  const longest = Math.max(...stage.timings.map((t) => t.seconds), 1e-9);
  return h('table', { class: 'timings' },
    h('caption', null, 'Step timings'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col', class: 'num' }, 'Time'))),
    h('tbody', null, stage.timings.map((t) => h('tr', null,
      h('td', null, h('code', null, t.step),
        h('span', { class: 'timing-bar', 'aria-hidden': 'true', style: `width: ${Math.max(2, (t.seconds / longest) * 100)}%` })),
      h('td', { class: 'num' }, formatSeconds(t.seconds))))));
}

function renderArtifact(artifact) {
  const isAudio = artifact.name === 'audio-16k.wav';
  const isImage = artifact.contentType?.startsWith('image/');
  return h('li', { class: 'artifact' },
    h('div', { class: 'artifact-row' },
      h('div', { class: 'artifact-text' },
        h('a', { href: artifact.url, download: artifact.name, class: 'artifact-name' }, artifact.name),
        h('span', { class: 'muted' }, [artifact.stage, formatBytes(artifact.size), artifact.contentType].filter(Boolean).join(' · '))),
      h('a', { href: artifact.url, download: artifact.name, class: 'btn btn-small', 'aria-label': `Download ${artifact.name}` }, 'Download')),
    isAudio && h('audio', { controls: true, preload: 'metadata', src: artifact.url, 'aria-label': artifact.name }),
    isImage && h('img', { src: artifact.url, alt: artifact.name, class: 'artifact-image', loading: 'lazy' }));
}
