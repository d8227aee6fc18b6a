"""Speech adapters: embedded engines (faster-whisper, piper, espeak-ng) and OpenAI-compatible HTTP APIs."""
