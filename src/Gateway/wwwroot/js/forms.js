// The two submit forms (talking face, hair), their file pickers and the microphone recorder.

import { jobsApi, catalogApi, newUuid } from './api.js';
import { GalleryPicker } from './gallery.js';
import { initWebcam } from './webcam.js';
import { showProblem, clearProblem } from './problems.js';
import { $, $$, formatBytes, formatClock, shortId } from './dom.js';
import { startRecording, recordingUnavailableReason, describeRecordingError, MAX_RECORDING_SECONDS } from './recorder.js';

/**
 * One Idempotency-Key per submission intent: it changes only when the form changes, so a
 * double click (or a retry after a lost answer) gives the same job instead of two.
 */
class SubmissionKey {
  constructor(form) {
    this.renew();
    form.addEventListener('input', () => this.renew());
    form.addEventListener('change', () => this.renew());
  }

  renew() {
    this.value = newUuid();
    this.lastJobId = null;
  }
}

/** Posts a form's FormData, shows problems next to the fields, and hands the new job on. */
async function submit(form, { path, buildData, key, onSubmitted, noun = 'job' }) {
  const button = $('button[type="submit"]', form);
  const box = $('[data-problem]', form);
  const note = $('[data-note]', form);
  if (button.disabled) return;
  button.disabled = true;
  button.classList.add('is-busy');
  clearProblem(box, form);
  note.hidden = true;
  try {
    const job = await jobsApi.submit(path, buildData(), key.value);
    note.textContent = job.id === key.lastJobId
      ? `Already submitted as ${noun} ${shortId(job.id)}; change something in the form to submit a new ${noun}.`
      : `Submitted as ${noun} ${shortId(job.id)}.`;
    note.hidden = false;
    key.lastJobId = job.id;
    onSubmitted(job);
  } catch (error) {
    showProblem(box, error, form);
    box.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
  }
}

/**
 * A <label class="picker"> wrapping a file input: shows the chosen file's name (and a
 * thumbnail for images), and accepts files dropped on it.
 */
class FilePicker {
  constructor(label, { onChange } = {}) {
    this.label = label;
    this.input = $('input[type="file"]', label);
    this.text = $('[data-picker-text]', label);
    this.thumb = $('[data-picker-thumb]', label);
    this.emptyText = this.text.textContent;
    this.onChange = onChange;
    this.input.addEventListener('change', () => this.update());
    label.addEventListener('dragover', (e) => {
      e.preventDefault();
      label.classList.add('is-dragover');
    });
    label.addEventListener('dragleave', () => label.classList.remove('is-dragover'));
    label.addEventListener('drop', (e) => {
      e.preventDefault();
      label.classList.remove('is-dragover');
      if (!e.dataTransfer?.files.length || this.input.disabled) return;
      this.input.files = e.dataTransfer.files;
      this.input.dispatchEvent(new Event('change', { bubbles: true }));
    });
  }

  get file() {
    return this.input.files?.[0] ?? null;
  }

  get files() {
    return [...(this.input.files ?? [])];
  }

  clear() {
    this.input.value = '';
    this.update();
  }

  update() {
    const file = this.file;
    this.label.classList.toggle('has-file', !!file);
    const count = this.input.files?.length ?? 0;
    this.text.textContent = count > 1
      ? `${count} files · ${formatBytes(this.files.reduce((sum, f) => sum + f.size, 0))}`
      : file ? `${file.name} · ${formatBytes(file.size)}` : this.emptyText;
    if (this.thumb) {
      if (this.thumb.src) URL.revokeObjectURL(this.thumb.src);
      if (file && file.type.startsWith('image/')) this.thumb.src = URL.createObjectURL(file);
      else this.thumb.removeAttribute('src');
    }
    this.onChange?.(file);
  }
}

export function initTalkingFaceForm(form, { onSubmitted }) {
  const key = new SubmissionKey(form);
  const preview = $('[data-audio-preview]', form);
  let recorded = null; // { blob, name, seconds } when the audio comes from the microphone

  const picker = new FilePicker($('[data-picker="audio"]', form), {
    onChange: (file) => {
      if (file) recorded = null;
      showAudioPreview(preview, file ?? recorded?.blob, file ? null : recorded);
    },
  });

  initRecorder($('[data-recorder]', form), {
    onRecording: (active) => {
      picker.input.disabled = active;
      picker.label.classList.toggle('is-disabled', active);
    },
    onRecorded: (recording) => {
      recorded = recording;
      picker.clear(); // a recording replaces a chosen file; clearing redraws the preview
      key.renew();
    },
  });

  $('[data-remove-audio]', form).addEventListener('click', () => {
    recorded = null;
    picker.clear();
    key.renew();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(form, {
      path: '/api/jobs/talking-face',
      key,
      onSubmitted,
      buildData: () => {
        const data = new FormData();
        if (picker.file) data.append('audio', picker.file);
        else if (recorded) data.append('audio', recorded.blob, recorded.name);
        for (const name of ['featureModel', 'deviceClass', 'priority', 'seed', 'temperature']) {
          const value = form.elements.namedItem(name)?.value.trim();
          if (value) data.append(name, value);
        }
        return data;
      },
    });
  });
}

function showAudioPreview(preview, blob, recording) {
  const player = $('audio', preview);
  if (player.src) URL.revokeObjectURL(player.src);
  preview.hidden = !blob;
  if (!blob) {
    player.removeAttribute('src');
    return;
  }
  player.src = URL.createObjectURL(blob);
  $('[data-audio-caption]', preview).textContent = recording
    ? `Recording · ${formatClock(recording.seconds)} · ${formatBytes(blob.size)} WAV`
    : 'Listen before you submit';
}

/** The Record / Stop button with its timer and level meter. */
function initRecorder(root, { onRecording, onRecorded }) {
  const button = $('[data-record]', root);
  const label = $('[data-record-label]', root);
  const clock = $('[data-record-time]', root);
  const meter = $('[data-record-level]', root);
  const message = $('[data-record-message]', root);

  const unavailable = recordingUnavailableReason();
  if (unavailable) {
    button.disabled = true;
    message.textContent = unavailable;
    message.hidden = false;
    return;
  }

  let session = null;
  let startedAt = 0;
  let ticker = 0;

  const setActive = (active) => {
    root.classList.toggle('is-recording', active);
    button.setAttribute('aria-pressed', String(active));
    label.textContent = active ? 'Stop' : 'Record';
    onRecording(active);
  };

  const tick = () => {
    const seconds = (performance.now() - startedAt) / 1000;
    clock.textContent = `${formatClock(seconds)} / ${formatClock(MAX_RECORDING_SECONDS)}`;
    if (seconds >= MAX_RECORDING_SECONDS) stop();
  };

  async function start() {
    message.hidden = true;
    button.disabled = true;
    try {
      session = await startRecording({ onLevel: (level) => meter.style.setProperty('--level', level.toFixed(3)) });
      startedAt = performance.now();
      ticker = setInterval(tick, 200);
      tick();
      setActive(true);
    } catch (error) {
      session = null;
      message.textContent = describeRecordingError(error);
      message.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function stop() {
    if (!session) return;
    const current = session;
    session = null;
    clearInterval(ticker);
    button.disabled = true;
    try {
      const { blob, seconds } = await current.stop();
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      onRecorded({ blob, seconds, name: `recording-${stamp}.wav` });
    } catch (error) {
      message.textContent = describeRecordingError(error);
      message.hidden = false;
    } finally {
      meter.style.setProperty('--level', 0);
      button.disabled = false;
      setActive(false);
    }
  }

  button.addEventListener('click', () => (session ? stop() : start()));
}

export function initHairForm(form, { onSubmitted }) {
  const key = new SubmissionKey(form);
  const pickers = Object.fromEntries(['face', 'shape', 'color'].map((name) => [name, new FilePicker($(`[data-picker="${name}"]`, form))]));
  const galleries = {};
  for (const use of ['shape', 'color']) {
    galleries[use] = new GalleryPicker($(`[data-gallery="${use}"]`, form), use, {
      onPick: () => pickers[use].clear(), // a gallery pick replaces an uploaded reference
    });
    pickers[use].input.addEventListener('change', () => pickers[use].file && galleries[use].clear());
  }
  initWebcam($('[data-field="face"]', form), pickers.face.input);

  const mode = () => form.elements.namedItem('mode').value;
  const needs = (name) => name === 'face' || mode() === name || mode() === 'both';

  const showNeededReferences = () => {
    for (const name of ['shape', 'color']) $(`[data-reference="${name}"]`, form).hidden = !needs(name);
  };
  for (const radio of $$('input[name="mode"]', form)) radio.addEventListener('change', showNeededReferences);
  showNeededReferences();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(form, {
      path: '/api/jobs/hair',
      key,
      onSubmitted,
      buildData: () => {
        const data = new FormData();
        if (pickers.face.file) data.append('face', pickers.face.file);
        for (const use of ['shape', 'color']) {
          if (!needs(use)) continue;
          if (pickers[use].file) data.append(use, pickers[use].file);
          else if (galleries[use].value) data.append(`${use}Id`, galleries[use].value);
        }
        data.append('mode', mode());
        data.append('deviceClass', form.elements.namedItem('deviceClass').value);
        return data;
      },
    });
  });
}

/** Many clips in one POST /api/batches; the page then opens the batch. */
export function initBatchForm(form, { onSubmitted }) {
  const key = new SubmissionKey(form);
  const picker = new FilePicker($('[data-picker="files"]', form));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(form, {
      path: '/api/batches',
      noun: 'batch',
      key,
      onSubmitted,
      buildData: () => {
        const data = new FormData();
        for (const file of picker.files) data.append('files', file);
        for (const name of ['name', 'featureModel', 'deviceClass']) {
          const value = form.elements.namedItem(name)?.value.trim();
          if (value) data.append(name, value);
        }
        return data;
      },
    });
  });
}

/**
 * Marks the feature models the gateway's store lacks, and the demo ones, from GET /api/models.
 * The lists stay as they are when the catalog cannot be read.
 */
export async function describeFeatureModels(selects) {
  let models;
  try {
    models = await catalogApi.models();
  } catch {
    return;
  }
  if (!Array.isArray(models)) return;
  const byName = new Map(models.map((m) => [m.name, m]));
  for (const select of selects) {
    for (const option of select.options) {
      const model = byName.get(option.value);
      const base = option.dataset.base ?? option.textContent;
      option.dataset.base = base;
      option.textContent = !model ? `${base} · not installed` : model.demo ? `${base} · demo` : base;
      option.title = !model ? "This gateway's model store lacks it" : model.demo ? "Demo weights: real architecture, fixed-seed random numbers" : "";
    }
  }
}

/** ARIA tabs: click or arrow keys switch between the two forms. */
export function initTabs(tablist) {
  const tabs = $$('[role="tab"]', tablist);
  const select = (tab, focus) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      document.getElementById(t.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
  };
  tablist.addEventListener('click', (e) => {
    const tab = e.target.closest('[role="tab"]');
    if (tab) select(tab, false);
  });
  tablist.addEventListener('keydown', (e) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
    if (!(e.key in moves)) return;
    e.preventDefault();
    select(tabs[(index + moves[e.key] + tabs.length) % tabs.length], true);
  });
}
