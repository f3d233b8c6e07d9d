// What a finished (or failed) job produced, shown on top of the job panel: the talking face's
// preview video with its downloads, or a hair job's before/after with the detected face boxes.

import { api } from './api.js';
import { h, formatBytes, sentence } from './dom.js';

const TALKING_FACE_DOWNLOADS = [
  ['features.npy', 'Audio features'],
  ['f0.npy', 'Pitch (F0)'],
  ['exp.npy', 'Motion (expression coefficients)'],
  ['landmarks.npy', '3-D landmarks'],
  ['landmarks2d.npy', '2-D landmarks'],
  ['audio-16k.wav', '16 kHz audio'],
];

/** @returns {Node[]} */
export function renderResult(job) {
  if (job.kind === 'talking-face') return renderTalkingFace(job);
  if (job.kind === 'hair') return renderHair(job);
  return [];
}

const byName = (job) => new Map(job.artifacts.map((a) => [a.name, a]));

function renderTalkingFace(job) {
  const artifacts = byName(job);
  const preview = artifacts.get('preview.mp4');
  const downloads = TALKING_FACE_DOWNLOADS.filter(([name]) => artifacts.has(name));
  if (!preview && downloads.length === 0) return [];
  return [h('section', { class: 'result', 'aria-label': 'Result' },
    preview && h('figure', { class: 'result-video' },
      h('video', {
        controls: true, playsinline: true, preload: 'auto', src: preview.url, 'data-preview': true,
        'aria-label': 'Preview video of the talking face',
      }),
      h('figcaption', { class: 'muted' }, `Preview · ${formatBytes(preview.size)} · `,
        h('a', { href: preview.url, download: 'preview.mp4' }, 'Download MP4'))),
    downloads.length > 0 && h('div', { class: 'downloads' },
      h('p', { class: 'downloads-title' }, 'Download'),
      h('ul', { class: 'download-list' }, downloads.map(([name, label]) => {
        const a = artifacts.get(name);
        return h('li', null, h('a', { class: 'download-chip', href: a.url, download: name, 'data-download': name },
          h('span', null, label), h('small', null, `${name} · ${formatBytes(a.size)}`)));
      }))))];
}

function renderHair(job) {
  const artifacts = byName(job);
  const before = artifacts.get('input-face');
  const after = artifacts.get('pasted.png') ?? artifacts.get('result.png');
  const detections = artifacts.get('detections.json');
  if (!before) return [];

  const beforeFigure = h('figure', { class: 'compare-item', 'data-before': true },
    h('div', { class: 'photo-frame' }, h('img', { src: before.url, alt: 'The face photo you sent', 'data-face-photo': true })),
    h('figcaption', null, 'Before'));
  const detectionNote = h('p', { class: 'detection-note muted', 'data-detection-note': true, hidden: true });
  if (detections) drawDetections(detections.url, beforeFigure.querySelector('.photo-frame'), detectionNote);

  const afterFigure = after
    ? h('figure', { class: 'compare-item', 'data-after': true },
      h('div', { class: 'photo-frame' }, h('img', { src: after.url, alt: 'The photo with the new hair' })),
      h('figcaption', null, 'After · ', h('a', { href: after.url, download: after.name }, 'Download')))
    : h('figure', { class: 'compare-item compare-missing' },
      h('div', { class: 'photo-frame photo-empty' },
        h('span', null, job.state === 'failed' ? 'No result' : job.state === 'cancelled' ? 'Cancelled' : 'Working on it…')),
      h('figcaption', null, 'After'));

  return [h('section', { class: 'result', 'aria-label': 'Result' },
    h('div', { class: 'compare' }, beforeFigure, afterFigure),
    detectionNote)];
}

/** Reads detections.json and draws each face box (with its score) over the photo. */
async function drawDetections(url, frame, note) {
  let report;
  try {
    report = await api(url);
  } catch {
    return; // the boxes are a bonus; the job's own reason says what went wrong
  }
  const faces = Array.isArray(report?.faces) ? report.faces : [];
  const width = Number(report?.imageWidth) || 0;
  const heightPx = Number(report?.imageHeight) || 0;
  note.textContent = describeDetections(report, faces);
  note.hidden = false;
  if (!width || !heightPx) return;
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('class', 'face-boxes');
  svg.setAttribute('viewBox', `0 0 ${width} ${heightPx}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('data-face-boxes', String(faces.length));
  svg.setAttribute('aria-hidden', 'true');
  const stroke = Math.max(2, Math.round(Math.min(width, heightPx) / 150));
  faces.forEach((face, index) => {
    const rect = document.createElementNS(svgNs, 'rect');
    // A candidate the human-face check turned down is drawn dashed; the face that went on, solid and thicker.
    if (face.human === false) rect.setAttribute('class', 'is-rejected');
    if (report.selected === index) rect.setAttribute('class', 'is-selected');
    for (const [k, v] of [['x', face.x], ['y', face.y], ['width', face.width], ['height', face.height]]) rect.setAttribute(k, String(Number(v) || 0));
    rect.setAttribute('stroke-width', String(stroke));
    rect.setAttribute('rx', String(stroke * 2));
    svg.append(rect);
    if (face.score != null) {
      const label = document.createElementNS(svgNs, 'text');
      label.setAttribute('x', String(Number(face.x) || 0));
      label.setAttribute('y', String(Math.max(stroke * 8, (Number(face.y) || 0) - stroke * 2)));
      label.setAttribute('font-size', String(stroke * 7));
      label.textContent = `${Math.round(Number(face.score) * 100)}%`;
      svg.append(label);
    }
    for (const point of Array.isArray(face.keypoints) ? face.keypoints : []) {
      const [px, py] = Array.isArray(point) ? point : [point?.x, point?.y];
      if (px == null || py == null) continue;
      const dot = document.createElementNS(svgNs, 'circle');
      dot.setAttribute('cx', String(px));
      dot.setAttribute('cy', String(py));
      dot.setAttribute('r', String(stroke * 1.5));
      svg.append(dot);
    }
  });
  frame.append(svg);
}

const VERDICTS = {
  'one-face': 'One face: the photo was used.',
  'no-face': 'No face was found, so the photo was not used.',
  'no-human-face': 'Nothing found looked like a human face, so the photo was not used.',
  'several-faces': 'More than one face was found, so the photo was not used: send a photo of one person.',
};

function describeDetections(report, faces) {
  const count = faces.length === 0 ? 'No face candidate found' : faces.length === 1 ? '1 face candidate found' : `${faces.length} face candidates found`;
  const detector = report?.detector ? ` by ${typeof report.detector === 'string' ? report.detector : report.detector.name ?? 'the detector'}` : '';
  const verdictText = typeof report?.verdict === 'string' ? report.verdict : report?.verdict?.reason ?? report?.verdict?.message ?? '';
  const verdict = VERDICTS[verdictText] ?? verdictText;
  // The full reason (where each face is, which check said what) is already the job's reason, shown above.
  return [`${count}${detector}.`, verdict && sentence(verdict)].filter(Boolean).join(' ');
}
