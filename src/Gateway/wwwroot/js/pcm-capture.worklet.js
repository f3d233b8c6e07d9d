// AudioWorklet processor: mixes the microphone input down to mono and posts it to the
// page in blocks of 4096 frames. Its output stays silent, so nothing is played back.

const BLOCK = 4096;

class PcmCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(BLOCK);
    this.length = 0;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') {
        this.flush();
        this.port.postMessage('flushed');
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const frames = channels[0].length;
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (const channel of channels) sum += channel[i];
        this.block[this.length++] = sum / channels.length;
        if (this.length === BLOCK) this.flush();
      }
    }
    return true;
  }

  flush() {
    if (this.length === 0) return;
    this.port.postMessage(this.block.slice(0, this.length));
    this.length = 0;
  }
}

registerProcessor('pcm-capture', PcmCapture);
