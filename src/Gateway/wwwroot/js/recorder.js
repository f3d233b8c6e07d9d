// Records the microphone as 16-bit PCM mono WAV. MediaRecorder only produces WebM/MP4,
// so the raw samples are captured through an AudioWorklet (ScriptProcessor on old
// browsers) and encoded here; the gateway resamples to 16 kHz itself.

const WORKLET_URL = new URL('./pcm-capture.worklet.js', import.meta.url);
export const MAX_RECORDING_SECONDS = 300;

export function recordingUnavailableReason() {
  if (!window.isSecureContext) return 'Recording needs a secure page (HTTPS or localhost). Choose a file instead.';
  if (!navigator.mediaDevices?.getUserMedia) return 'This browser cannot record audio. Choose a file instead.';
  if (!(window.AudioContext || window.webkitAudioContext)) return 'This browser has no Web Audio support. Choose a file instead.';
  return null;
}

/** Plain words for getUserMedia's exceptions. */
export function describeRecordingError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Microphone access was denied. Allow it in the browser’s site settings, or choose a file instead.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No microphone was found on this device.';
    case 'NotReadableError':
      return 'The microphone is in use by another application.';
    default:
      return `Recording failed: ${error?.message || error}`;
  }
}

/**
 * Starts recording. onLevel(0..1) is called for every captured block (for a level meter).
 * Resolves with { stop(): Promise<{ blob, seconds, sampleRate }>, abort() }.
 */
export async function startRecording({ onLevel } = {}) {
  // The context is created before the permission prompt, while still inside the click,
  // so that Safari lets it run.
  const Context = window.AudioContext || window.webkitAudioContext;
  const context = new Context();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    await context.resume();
    const chunks = [];
    const source = context.createMediaStreamSource(stream);
    const tap = await createTap(context, (samples) => {
      chunks.push(samples);
      onLevel?.(peak(samples));
    });
    source.connect(tap.node);
    tap.node.connect(context.destination); // the tap outputs silence; the connection keeps it pulled

    const release = async () => {
      source.disconnect();
      tap.node.disconnect();
      stream.getTracks().forEach((track) => track.stop());
      await context.close();
    };
    return {
      async stop() {
        await tap.flush();
        await release();
        const samples = concat(chunks);
        return { blob: encodeWav(samples, context.sampleRate), seconds: samples.length / context.sampleRate, sampleRate: context.sampleRate };
      },
      abort: release,
    };
  } catch (error) {
    stream?.getTracks().forEach((track) => track.stop());
    await context.close().catch(() => {});
    throw error;
  }
}

async function createTap(context, onSamples) {
  if (context.audioWorklet && typeof AudioWorkletNode === 'function') {
    await context.audioWorklet.addModule(WORKLET_URL);
    const node = new AudioWorkletNode(context, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    let flushed = null;
    node.port.onmessage = (event) => {
      if (event.data === 'flushed') flushed?.();
      else onSamples(event.data);
    };
    const flush = () => new Promise((resolve) => {
      flushed = resolve;
      node.port.postMessage('flush');
      setTimeout(resolve, 500); // never hang the Stop button
    });
    return { node, flush };
  }
  const node = context.createScriptProcessor(4096, 1, 1);
  node.onaudioprocess = (event) => {
    onSamples(new Float32Array(event.inputBuffer.getChannelData(0)));
    event.outputBuffer.getChannelData(0).fill(0);
  };
  return { node, flush: async () => {} };
}

function peak(samples) {
  let max = 0;
  for (let i = 0; i < samples.length; i++) max = Math.max(max, Math.abs(samples[i]));
  return Math.min(1, max);
}

function concat(chunks) {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** RIFF/WAVE, PCM format 1, mono, 16-bit little-endian. */
export function encodeWav(samples, sampleRate) {
  const bytesPerSample = 2;
  const dataSize = samples.length * bytesPerSample;
  const buffer = new ArrayBuffer(44 + dataSize);
  const view = new DataView(buffer);
  const text = (offset, value) => [...value].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));

  text(0, 'RIFF');
  view.setUint32(4, 36 + dataSize, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true); // byte rate
  view.setUint16(32, bytesPerSample, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  text(36, 'data');
  view.setUint32(40, dataSize, true);

  for (let i = 0, offset = 44; i < samples.length; i++, offset += 2) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: 'audio/wav' });
}
