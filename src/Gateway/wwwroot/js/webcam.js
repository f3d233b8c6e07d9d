// Takes a still photo from the webcam (getUserMedia) and hands it to a file input, so the
// photo is sent exactly like an uploaded one.

import { $ } from './dom.js';

export function initWebcam(field, input) {
  const start = $('[data-webcam-start]', field);
  const panel = $('[data-webcam]', field);
  const video = $('video', panel);
  const message = $('[data-webcam-message]', field);
  let stream = null;

  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  if (!navigator.mediaDevices?.getUserMedia) {
    start.disabled = true;
    say(window.isSecureContext
      ? 'This browser cannot use a webcam; choose a photo instead.'
      : 'The webcam needs HTTPS or localhost; choose a photo instead.');
    return;
  }

  const stop = () => {
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    panel.hidden = true;
    start.hidden = false;
  };

  start.addEventListener('click', async () => {
    say('');
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false });
      video.srcObject = stream;
      panel.hidden = false;
      start.hidden = true;
      await video.play();
    } catch (error) {
      stop();
      say(error?.name === 'NotAllowedError' ? 'Camera access was refused. Allow it in the browser, or choose a photo instead.'
        : error?.name === 'NotFoundError' ? 'No camera was found; choose a photo instead.'
          : `The camera could not start (${error?.message ?? error}).`);
    }
  });

  $('[data-webcam-stop]', panel).addEventListener('click', stop);

  $('[data-webcam-shoot]', panel).addEventListener('click', () => {
    if (!video.videoWidth) return;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (!blob) return say('The photo could not be taken; try again.');
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      const files = new DataTransfer();
      files.items.add(new File([blob], `webcam-${stamp}.png`, { type: 'image/png' }));
      input.files = files.files;
      input.dispatchEvent(new Event('change', { bubbles: true }));
      stop();
    }, 'image/png');
  });
}
