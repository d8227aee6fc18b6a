// Voice notes in (MediaRecorder → 16 kHz mono 16-bit WAV, a format the server decodes) and voice replies out
// (the reply's base64 WAV sentences, played one after the other from blob: URLs).

const RATE = 16000;

function wavOf(samples, rate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: "audio/wav" });
}

async function toWav(blob) {
  const data = await blob.arrayBuffer();
  const decoded = await new AudioContext().decodeAudioData(data);
  const frames = Math.ceil(decoded.duration * RATE);
  const offline = new OfflineAudioContext(1, Math.max(frames, 1), RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded;
  source.connect(offline.destination);
  source.start();
  const rendered = await offline.startRendering();
  return wavOf(rendered.getChannelData(0), RATE);
}

export class VoiceRecorder {
  static supported() {
    return Boolean(navigator.mediaDevices && window.MediaRecorder);
  }

  get recording() {
    return Boolean(this.recorder && this.recorder.state === "recording");
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.chunks = [];
    this.recorder = new MediaRecorder(this.stream);
    this.recorder.addEventListener("dataavailable", (e) => { if (e.data.size) this.chunks.push(e.data); });
    this.recorder.start();
  }

  // Stop, and resolve with the recording as a WAV blob.
  stop() {
    return new Promise((resolve, reject) => {
      this.recorder.addEventListener("stop", () => {
        this.stream.getTracks().forEach((t) => t.stop());
        toWav(new Blob(this.chunks, { type: this.recorder.mimeType })).then(resolve, reject);
      }, { once: true });
      this.recorder.stop();
    });
  }
}

export class VoicePlayer {
  constructor() {
    this.queue = [];
    this.playing = false;
  }

  enqueue(base64) {
    const audio = document.getElementById("player");
    audio.dataset.queued = String(Number(audio.dataset.queued || 0) + 1);
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    this.queue.push(URL.createObjectURL(new Blob([bytes], { type: "audio/wav" })));
    if (!this.playing) this.next();
  }

  next() {
    const url = this.queue.shift();
    if (!url) {
      this.playing = false;
      return;
    }
    this.playing = true;
    const audio = document.getElementById("player");
    audio.src = url;
    const done = () => { URL.revokeObjectURL(url); this.next(); };
    audio.onended = () => {
      audio.dataset.played = String(Number(audio.dataset.played || 0) + 1);
      done();
    };
    audio.onerror = done;
    audio.play().catch(done);
  }
}
