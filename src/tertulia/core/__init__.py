"""Cross-cutting building blocks shared by every domain (ids, time, errors, storage, paging)."""
