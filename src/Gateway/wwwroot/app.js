// TalkingFace web page: wires the submit forms, the job panel, the batch panel, the jobs and
// batches lists and the fleet box together. What is open lives in the address:
// #job=<id>, #batch=<id>, or #batch=<id>&job=<id> (a batch item).

import { $, $$ } from './js/dom.js';
import { JobPanel } from './js/job-panel.js';
import { JobsList } from './js/jobs-list.js';
import { BatchesList, BatchPanel } from './js/batches.js';
import { FleetBox } from './js/fleet.js';
import { initTabs, initTalkingFaceForm, initHairForm, initBatchForm, describeFeatureModels } from './js/forms.js';

const jobs = new JobsList($('#jobs'));
const batches = new BatchesList($('#batches'));
const fleet = new FleetBox($('#fleet'));
const batchPanel = new BatchPanel($('#batch-panel'), {
  onFinished: () => {
    jobs.refresh({ force: true });
    batches.refresh();
  },
});
const panel = new JobPanel($('#job-panel'), {
  onFinished: () => {
    jobs.refresh({ force: true });
    batches.refresh();
  },
});

initTabs($('#submit [role="tablist"]'));
initTalkingFaceForm($('#form-talking-face'), { onSubmitted: openSubmittedJob });
initHairForm($('#form-hair'), { onSubmitted: openSubmittedJob });
initBatchForm($('#form-batch'), { onSubmitted: openSubmittedBatch });
describeFeatureModels($$('[data-feature-models]'));

$('[data-close]', $('#job-panel')).addEventListener('click', () => navigate({ batch: opened().batch }));
$('[data-close-batch]', $('#batch-panel')).addEventListener('click', () => navigate({ job: opened().job }));

window.addEventListener('hashchange', route);
route();
jobs.refresh({ force: true });
batches.refresh();
fleet.refresh();

function opened() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { job: params.get('job'), batch: params.get('batch') };
}

function navigate({ job, batch }) {
  const params = new URLSearchParams();
  if (batch) params.set('batch', batch);
  if (job) params.set('job', job);
  const hash = params.toString();
  if (hash) location.hash = hash;
  else {
    history.pushState(null, '', location.pathname + location.search);
    route();
  }
}

function route() {
  const { job, batch } = opened();
  if (job) panel.open(job);
  else panel.close();
  if (batch) batchPanel.open(batch);
  else batchPanel.close();
  // With a batch open and no job picked, the empty job card would only push the batch's items down.
  $('#job-panel').hidden = !!batch && !job;
  jobs.setActive(job);
  batches.setActive(batch);
}

function bringIntoView(card) {
  // On a phone the panels sit below the form: bring the new one into view.
  if (matchMedia('(max-width: 900px)').matches) card.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function openSubmittedJob(job) {
  panel.show(job);
  if (opened().job !== job.id) navigate({ job: job.id });
  jobs.refresh({ force: true });
  bringIntoView($('#job-panel'));
}

function openSubmittedBatch(batch) {
  navigate({ batch: batch.id });
  batches.refresh();
  jobs.refresh({ force: true });
  bringIntoView($('#batch-panel'));
}
