"""Prompt logs: the rendered prompt and raw output of every LLM call of a turn, kept for a configurable number of
days (``TERTULIA_PROMPT_LOG_RETENTION_DAYS``, 0 = off) and served by the spec's ``get-prompt-logs`` admin operation.

Log keys are ``{conversation_id}/{interaction_id}/{NN}-{InteractionName}`` (NN: the call's order in the turn), so a
prefix selects one conversation, one interaction or one call. The zip holds, per log, ``{log_key}-system`` (the
system messages) and ``{log_key}-history`` (every other message, ``role:`` then its text, separated by ``---``,
with the model's raw output as the last entry, labelled ``output:``); a log the caller may not read becomes
``{log_key}-error``. Captured by ``observability.prompt_capture`` (secrets redacted before anything is stored).
"""
