"""Similar past issues: the embeddings of a model's training issues, stored with the model, searched per label.

``neighbours.npz`` (written by the training job, read by :class:`~triage.ml.model.Classifier`) holds, per
stored issue: its unit-length embedding from the served ONNX model (float16, ``hidden`` × 2 bytes), its
number, its human labels (bit-packed over the manifest's labels) and its title (UTF-8, cut to
:data:`TITLE_CHARS` characters). Cosine similarity is then a dot product. NumPy only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

NEIGHBOURS_FILE = "neighbours.npz"
MAX_ROWS = 20_000  # the newest issues kept: ~0.85 MB per 1,000 with a 384-wide encoder
TITLE_CHARS = 100


def pack(vectors: np.ndarray, numbers: Sequence[int], row_labels: Sequence[Sequence[str]], labels: Sequence[str],
         titles: Sequence[str]) -> bytes:
    """The ``neighbours.npz`` bytes of ``len(numbers)`` issues: embeddings (n, hidden), numbers, each issue's labels
    (those not in ``labels`` are left out) and titles."""
    if not len(vectors) == len(numbers) == len(row_labels) == len(titles):
        raise ValueError("vectors, numbers, labels and titles must describe the same issues")
    index = {label: j for j, label in enumerate(labels)}
    members = np.zeros((len(numbers), len(labels)), dtype=bool)
    for i, names in enumerate(row_labels):
        members[i, [index[name] for name in names if name in index]] = True
    encoded = [" ".join(title.split())[:TITLE_CHARS].encode() for title in titles]
    offsets = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    out = io.BytesIO()
    np.savez(out, vectors=np.asarray(vectors, dtype=np.float16), numbers=np.asarray(numbers, dtype=np.int64),
             labels=np.packbits(members, axis=1), label_names=np.array(list(labels), dtype=str),
             titles=np.frombuffer(b"".join(encoded), dtype=np.uint8), title_offsets=offsets)
    return out.getvalue()


class Neighbours:
    """The stored issues of one model, searchable by label."""

    def __init__(self, data: bytes, labels: Sequence[str]) -> None:
        """Read ``neighbours.npz`` bytes; ``labels``: the model's labels (those the file was written over)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            self.vectors = npz["vectors"].astype(np.float32)
            self.numbers = npz["numbers"].astype(np.int64)
            names = [str(name) for name in npz["label_names"]]
            members = np.unpackbits(npz["labels"], axis=1, count=len(names)).astype(bool)
            blob, offsets = npz["titles"].tobytes(), npz["title_offsets"]
        if list(names) != list(labels) or not len(self.vectors) == len(self.numbers) == len(members) == len(offsets) - 1:
            raise ValueError(f"the file describes labels {names[:5]}… and {len(self.numbers)} issues, which do not "
                             "match the model")
        self.titles = [blob[offsets[i]:offsets[i + 1]].decode(errors="replace") for i in range(len(self.numbers))]
        self._rows = {label: np.flatnonzero(members[:, j]) for j, label in enumerate(names)}

    def __len__(self) -> int:
        return len(self.numbers)

    def rows(self, label: str) -> np.ndarray:
        """The indices of the stored issues labeled ``label``."""
        return self._rows.get(label, np.zeros(0, dtype=np.int64))

    def nearest(self, vector: np.ndarray, label: str, k: int = 3, exclude: int | None = None) -> list[tuple[int, str]]:
        """The ``k`` stored issues labeled ``label`` most similar to ``vector`` (unit length), most similar first,
        as (number, title); ``exclude``: an issue number never returned (the issue itself)."""
        rows = self._rows.get(label)
        if rows is None or not len(rows):
            return []
        if exclude is not None:
            rows = rows[self.numbers[rows] != exclude]
        similarity = self.vectors[rows] @ np.asarray(vector, dtype=np.float32)
        top = rows[np.argsort(-similarity, kind="stable")[:k]]
        return [(int(self.numbers[i]), self.titles[i]) for i in top]
