// TalkingFace web page: wires the submit forms, the job panel, the jobs list and the
// fleet box together. The open job lives in the address: #job=<id>.

import { $ } from './js/dom.js';
import { JobPanel } from './js/job-panel.js';
import { JobsList } from './js/jobs-list.js';
import { FleetBox } from './js/fleet.js';
import { initTabs, initTalkingFaceForm, initHairForm } from './js/forms.js';

const jobs = new JobsList($('#jobs'));
const fleet = new FleetBox($('#fleet'));
const panel = new JobPanel($('#job-panel'), {
  onFinished: () => jobs.refresh({ force: true }),
});

initTabs($('#submit [role="tablist"]'));
initTalkingFaceForm($('#form-talking-face'), { onSubmitted: openSubmittedJob });
initHairForm($('#form-hair'), { onSubmitted: openSubmittedJob });

$('[data-close]', $('#job-panel')).addEventListener('click', () => {
  history.pushState(null, '', location.pathname + location.search);
  route();
});

window.addEventListener('hashchange', route);
route();
jobs.refresh({ force: true });
fleet.refresh();

function openedJobId() {
  return new URLSearchParams(location.hash.slice(1)).get('job');
}

function route() {
  const id = openedJobId();
  if (id) panel.open(id);
  else panel.close();
  jobs.setActive(id);
}

function openSubmittedJob(job) {
  panel.show(job);
  if (openedJobId() !== job.id) location.hash = `job=${job.id}`;
  jobs.refresh({ force: true });
  // On a phone the panel sits below the form: bring it into view.
  if (matchMedia('(max-width: 900px)').matches) $('#job-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
}
