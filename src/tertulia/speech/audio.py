"""Audio in and out: sniff and decode uploads (WAV, MP3, raw PCM), resample, encode WAV/MP3.

WAV and raw PCM need only the standard library and numpy; MP3 (both ways) and high-quality resampling use PyAV
(``tertulia[voice]``), with ``lameenc`` as an alternative MP3 encoder.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

from tertulia.core.errors import BadRequest, UnsupportedMedia
from tertulia.speech.config import AudioConfig, Mp3Config, PcmConfig
from tertulia.speech.ports import Pcm

WAV = "audio/wav"
MP3 = "audio/mpeg"
WAV_TYPES = {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}
MP3_TYPES = {"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg"}
NEUTRAL_TYPES = {"", "application/octet-stream", "audio/pcm", "audio/l16", "audio/raw"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class DecodedUpload:
    """A decoded voice message: the audio to transcribe and the original to keep (raw PCM is kept as WAV)."""

    pcm: Pcm
    original: bytes
    content_type: str  # audio/wav | audio/mpeg


def sniff(data: bytes) -> str | None:
    """``audio/wav``, ``audio/mpeg``, ``"other"`` for a recognised but unsupported container, or None (raw)."""
    head = data[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE6) in (0xE2, 0xE4, 0xE6)):
        return MP3
    if head[:4] in (b"OggS", b"fLaC", b"\x1aE\xdf\xa3", b"FORM", b"caff") or head[4:8] == b"ftyp":
        return "other"
    return None


def decode_upload(data: bytes, content_type: str | None, config: AudioConfig | None) -> DecodedUpload:
    """Decode a ``recorded_message`` part. 415 for audio we cannot take, 400 for empty or corrupt audio."""
    if not data:
        raise BadRequest("The user message is empty.")
    declared = (content_type or "").split(";")[0].strip().lower()
    kind = sniff(data)
    if kind == MP3 and isinstance(config, PcmConfig) and data[:3] != b"ID3":
        # Declared raw PCM: an MP3 frame sync is only 11 bits, and ordinary samples carry it (-1 is FF FF), so it
        # is not evidence against the client's word. A WAV header (12 bytes, unambiguous) still wins.
        kind = None
    if kind == "other":
        raise UnsupportedMedia("The format of the supplied audio file is not supported: send WAV, MP3 or raw PCM.")
    if kind is None:
        if declared in WAV_TYPES | MP3_TYPES and not isinstance(config, PcmConfig):
            raise BadRequest(f"The audio is not a valid {'WAV' if declared in WAV_TYPES else 'MP3'} file.")
        if declared not in NEUTRAL_TYPES | WAV_TYPES | MP3_TYPES:
            raise UnsupportedMedia(f"The audio content type {declared!r} is not supported: send audio/wav or audio/mpeg.")
        if isinstance(config, PcmConfig):
            pcm = decode_raw(data, config)
            return _checked(DecodedUpload(pcm, encode_wav(pcm), WAV))
        if isinstance(config, Mp3Config):
            raise BadRequest("The audio is not a valid MP3 file.")
        raise UnsupportedMedia("The format of the supplied audio file is not supported: send WAV, MP3 or raw PCM.")
    if declared and declared not in NEUTRAL_TYPES | WAV_TYPES | MP3_TYPES:
        raise UnsupportedMedia(f"The audio content type {declared!r} is not supported: send audio/wav or audio/mpeg.")
    pcm = decode_wav(data) if kind == WAV else decode_mp3(data)
    return _checked(DecodedUpload(pcm, data, kind))


def _checked(upload: DecodedUpload) -> DecodedUpload:
    if len(upload.pcm.samples) == 0:
        raise BadRequest("The user message is empty: the audio has no samples.")
    if upload.pcm.duration > MAX_SECONDS:
        raise BadRequest(f"The voice message is longer than {int(MAX_SECONDS)} seconds.")
    return upload


def decode_raw(data: bytes, config: PcmConfig) -> Pcm:
    width = config.sample_width
    usable = len(data) - len(data) % (width * config.n_channels)
    if usable <= 0:
        raise BadRequest("The user message is empty: the audio has no complete sample.")
    dtype = "<i2" if width == 2 else "<i4"
    samples = np.frombuffer(data[:usable], dtype=dtype)
    if width == 4:
        samples = (samples >> 16).astype(np.int16)
    return Pcm(samples.astype(np.int16, copy=False), config.frame_rate)


def decode_wav(data: bytes) -> Pcm:
    try:
        with wave.open(io.BytesIO(data)) as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except wave.Error as exc:
        if "unknown format" in str(exc):
            return _decode_with_av(data, "wav")  # e.g. IEEE float WAV
        raise BadRequest(f"The audio is not a valid WAV file ({exc}).") from None
    except (EOFError, ValueError) as exc:
        raise BadRequest(f"The audio is not a valid WAV file ({exc}).") from None
    if rate <= 0 or channels <= 0:
        raise BadRequest("The WAV header is invalid.")
    usable = len(frames) - len(frames) % (width * channels)
    raw = frames[:usable]
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        samples = ((b[:, 2].astype(np.int8).astype(np.int16) << 8) | b[:, 1]).astype(np.int16)
    elif width == 4:
        samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    else:
        raise UnsupportedMedia(f"WAV files with {width * 8}-bit samples are not supported.")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return Pcm(samples, rate)


def decode_mp3(data: bytes) -> Pcm:
    return _decode_with_av(data, "mp3")


def _decode_with_av(data: bytes, fmt: str) -> Pcm:
    try:
        import av
    except ImportError:
        raise UnsupportedMedia(f"{fmt.upper()} audio needs the voice extra on this server (pip install 'tertulia[voice]').") from None
    chunks: list[np.ndarray] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), format=fmt) as container:
            stream = container.streams.audio[0]
            rate = stream.rate or stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise BadRequest(f"The audio could not be decoded as {fmt.upper()} ({type(exc).__name__}).") from None
    if not chunks or not rate:
        raise BadRequest("The user message is empty: the audio has no samples.")
    return Pcm(np.concatenate(chunks).astype(np.int16), int(rate))


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Change the sample rate (PyAV's swresample when installed, else linear interpolation)."""
    if pcm.sample_rate == rate or len(pcm.samples) == 0:
        return Pcm(pcm.samples, rate)
    try:
        import av
    except ImportError:
        n = int(round(len(pcm.samples) * rate / pcm.sample_rate))
        positions = np.linspace(0, len(pcm.samples) - 1, n)
        out = np.interp(positions, np.arange(len(pcm.samples)), pcm.samples.astype(np.float32))
        return Pcm(np.round(out).astype(np.int16), rate)
    frame = av.AudioFrame.from_ndarray(pcm.samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = pcm.sample_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return Pcm(np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16), rate)


def encode_wav(pcm: Pcm) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(pcm.sample_rate)
        writer.writeframes(pcm.to_bytes())
    return buffer.getvalue()


def encode_mp3(pcm: Pcm, bitrate_kbps: int = 64) -> bytes:
    """MP3 (CBR, mono). Rates MP3 cannot carry are resampled to the nearest one it can."""
    if pcm.sample_rate not in MP3_RATES:
        pcm = resample(pcm, min(MP3_RATES, key=lambda r: abs(r - pcm.sample_rate)))
    try:
        return _encode_mp3_av(pcm, bitrate_kbps)
    except ImportError:
        pass
    try:
        import lameenc
    except ImportError:
        raise UnsupportedMedia("MP3 output needs the voice extra on this server (pip install 'tertulia[voice]').") from None
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate_kbps)
    encoder.set_in_sample_rate(pcm.sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return bytes(encoder.encode(pcm.to_bytes()) + encoder.flush())


def _encode_mp3_av(pcm: Pcm, bitrate_kbps: int) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=pcm.sample_rate, layout="mono")
        stream.bit_rate = bitrate_kbps * 1000
        frame_size = 1152
        samples = pcm.samples
        for start in range(0, len(samples), frame_size):
            chunk = samples[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout="mono")
            frame.sample_rate = pcm.sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def encode(pcm: Pcm, content_type: str) -> bytes:
    """Encode to ``audio/wav``, ``audio/mpeg`` or raw little-endian PCM16 (anything else)."""
    if content_type == WAV:
        return encode_wav(pcm)
    if content_type == MP3:
        return encode_mp3(pcm)
    return pcm.to_bytes()
