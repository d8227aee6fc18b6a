"""Audio decoding/encoding, request_audio_config, sentence splitting and alignment (no speech engines)."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from tertulia.core.errors import BadRequest, Unprocessable, UnsupportedMedia
from tertulia.speech.alignment import align
from tertulia.speech.audio import decode_mp3, decode_upload, decode_wav, encode_mp3, encode_wav, resample, sniff
from tertulia.speech.config import Mp3Config, PcmConfig, parse_audio_config
from tertulia.speech.ports import Pcm
from tertulia.speech.sentences import SentenceSplitter, split_sentences


def tone(seconds: float = 0.5, rate: int = 16000, freq: float = 440.0) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return Pcm.from_float(0.5 * np.sin(2 * np.pi * freq * t), rate)


def dominant_frequency(pcm: Pcm) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.to_float()))
    return float(np.fft.rfftfreq(len(pcm.samples), 1 / pcm.sample_rate)[int(np.argmax(spectrum))])


def test_audio_config_parses_both_shapes_and_rejects_bad_ones() -> None:
    assert parse_audio_config(None) is None
    assert isinstance(parse_audio_config('{"type":"mp3"}'), Mp3Config)
    pcm = parse_audio_config('{"type":"pcm","frame_rate":16000,"n_channels":1,"sample_width":2}')
    assert isinstance(pcm, PcmConfig) and pcm.frame_rate == 16000
    for bad in ("nope", '{"type":"ogg"}', '{"type":"pcm","frame_rate":100,"n_channels":1,"sample_width":2}',
                '{"type":"pcm","frame_rate":16000,"n_channels":2,"sample_width":2}',
                '{"type":"pcm","frame_rate":16000,"n_channels":1,"sample_width":3}'):  # fmt: skip
        with pytest.raises(Unprocessable):
            parse_audio_config(bad)


def test_wav_round_trip_keeps_samples_and_rate() -> None:
    pcm = tone(rate=22050)
    data = encode_wav(pcm)
    assert sniff(data) == "audio/wav"
    back = decode_wav(data)
    assert back.sample_rate == 22050 and np.array_equal(back.samples, pcm.samples)


def test_stereo_and_8_bit_wav_are_mixed_down_to_mono_16_bit() -> None:
    pcm = tone(rate=8000)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(1)
        w.setframerate(8000)
        eight = ((pcm.samples.astype(np.int32) >> 8) + 128).astype(np.uint8)
        w.writeframes(np.repeat(eight, 2).tobytes())
    back = decode_wav(buffer.getvalue())
    assert back.sample_rate == 8000 and len(back.samples) == len(pcm.samples)
    assert abs(dominant_frequency(back) - 440) < 5


def test_mp3_encode_then_decode_keeps_the_sound() -> None:
    pcm = tone(seconds=1.0, rate=24000)
    data = encode_mp3(pcm)
    assert sniff(data) == "audio/mpeg" and len(data) < len(pcm.to_bytes()) / 4
    back = decode_mp3(data)
    assert back.sample_rate == 24000
    assert abs(back.duration - 1.0) < 0.1
    assert abs(dominant_frequency(back) - 440) < 5


def test_raw_pcm_uses_the_config_and_is_kept_as_wav() -> None:
    pcm = tone(rate=16000)
    upload = decode_upload(pcm.to_bytes(), "audio/wav", PcmConfig(frame_rate=16000, n_channels=1, sample_width=2))
    assert upload.content_type == "audio/wav" and np.array_equal(upload.pcm.samples, pcm.samples)
    assert decode_wav(upload.original).sample_rate == 16000
    wide = (pcm.samples.astype("<i4") << 16).tobytes()
    upload = decode_upload(wide, None, PcmConfig(frame_rate=16000, n_channels=1, sample_width=4))
    assert np.array_equal(upload.pcm.samples, pcm.samples)


def test_raw_pcm_that_happens_to_look_like_an_mp3_frame_sync_is_still_raw() -> None:
    """A first sample of -1 is the bytes FF FF, which pass an MP3 frame-sync check: the declared PCM config decides."""
    pcm = tone(rate=16000)
    for first in (-1, -6913):  # FF FF, FF E4
        samples = pcm.samples.copy()
        samples[0] = first
        data = samples.astype("<i2").tobytes()
        assert sniff(data) == "audio/mpeg"
        upload = decode_upload(data, "application/octet-stream", PcmConfig(frame_rate=16000, n_channels=1, sample_width=2))
        assert upload.content_type == "audio/wav" and np.array_equal(upload.pcm.samples, samples)


def test_a_wav_file_wins_over_a_pcm_config() -> None:
    """The SDK's own test sends a WAV file with a PCM config: the header says what the bytes are."""
    pcm = tone(rate=22050)
    upload = decode_upload(encode_wav(pcm), "audio/wav", PcmConfig(frame_rate=16000, n_channels=1, sample_width=2))
    assert upload.pcm.sample_rate == 22050 and upload.original[:4] == b"RIFF"


def test_bad_uploads_answer_400_or_415() -> None:
    with pytest.raises(BadRequest):
        decode_upload(b"", "audio/wav", None)
    with pytest.raises(BadRequest):
        decode_upload(b"RIFF\x00\x00\x00\x00WAVEjunkjunk", "audio/wav", None)  # truncated WAV
    with pytest.raises(BadRequest):
        decode_upload(encode_wav(Pcm(np.zeros(0, np.int16), 16000)), "audio/wav", None)  # no samples
    with pytest.raises(BadRequest):
        decode_upload(b"\xff\xfb\x90\x00" + b"\x00" * 10, "audio/mpeg", None)  # an MP3 frame header and nothing
    with pytest.raises(BadRequest):
        decode_upload(b"plain text, not audio", "audio/wav", None)
    with pytest.raises(UnsupportedMedia):
        decode_upload(b"OggS\x00\x02" + b"\x00" * 40, "audio/ogg", None)
    with pytest.raises(UnsupportedMedia):
        decode_upload(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 40, "audio/mp4", None)
    with pytest.raises(UnsupportedMedia):
        decode_upload(b"some bytes", "video/webm", PcmConfig(frame_rate=16000, n_channels=1, sample_width=2))
    with pytest.raises(UnsupportedMedia):
        decode_upload(b"unknown bytes without a config", None, None)


def test_resample_keeps_pitch_and_duration() -> None:
    pcm = tone(seconds=1.0, rate=22050)
    out = resample(pcm, 16000)
    assert out.sample_rate == 16000 and abs(len(out.samples) - 16000) < 200
    assert abs(dominant_frequency(out) - 440) < 5


def test_sentences_stream_out_as_their_end_arrives() -> None:
    splitter = SentenceSplitter()
    got = []
    for fragment in ["Hello the", "re, how are", " you today? I am Dr. Sm", "ith and it costs 3.5 dollars.", " Bye"]:
        got.append(splitter.feed(fragment))
    assert got == [[], [], ["Hello there, how are you today?"], [], ["I am Dr. Smith and it costs 3.5 dollars."]]
    assert splitter.flush() == ["Bye"]
    assert split_sentences("Hi. Short one here.\nNext line!") == ["Hi. Short one here.", "Next line!"]


def test_alignment_covers_every_character_in_order_within_the_audio() -> None:
    pcm = Pcm(np.concatenate([np.zeros(1600, np.int16), tone(seconds=1.0).samples, np.zeros(1600, np.int16)]), 16000)
    pairs = align("Hi there.", pcm, offset_ms=500)
    assert "".join(c for _, c in pairs) == "Hi there."
    times = [t for t, _ in pairs]
    assert times == sorted(times) and times[0] == 600 and times[-1] < 500 + 1100
