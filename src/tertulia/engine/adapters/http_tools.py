"""Tools as HTTP endpoints: the production ``ToolRunner``.

tertulia does not build or host tool code (the Amigo tool registry publishes Git repositories to serverless
functions); instead an operator declares, in a YAML or JSON file named by ``TERTULIA_TOOLS_FILE``, which HTTP
endpoint answers each ``tool_id`` that context graphs and dynamic behaviors reference::

    tools:
      - tool_id: 6650f0c2a1b2c3d4e5f60718        # the id used in ToolCallSpec.tool_id
        name: lookup_order
        version: 1.0.0
        description: Look up an order by its number.
        input_schema: {type: object, properties: {order_number: {type: string}}, required: [order_number]}
        url: http://127.0.0.1:9000/tools/lookup_order
        timeout_seconds: 10
        headers: {Authorization: Bearer <token>}   # optional

An invocation POSTs the generated parameters as a JSON object; a 2xx answer's body is the tool's output, anything
else (an error status, a timeout, a tool id nobody declared) is a failed result the agent sees as such -- a turn
never fails because a tool did.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tertulia.engine.ports import ToolInfo, ToolResult


@dataclass(frozen=True)
class HttpTool:
    tool_id: str
    name: str
    url: str
    version: str = "1.0.0"
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    timeout_seconds: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)


class HttpToolRunner:
    def __init__(self, tools: list[HttpTool], client: httpx.AsyncClient | None = None) -> None:
        self.tools = {t.tool_id: t for t in tools}
        self._client = client or httpx.AsyncClient()

    @classmethod
    def from_file(cls, path: str | Path | None) -> HttpToolRunner:
        if not path:
            return cls([])
        text = Path(path).read_text()
        data = yaml.safe_load(text) if str(path).endswith((".yaml", ".yml")) else json.loads(text)
        entries = (data or {}).get("tools", [])
        try:
            return cls([HttpTool(**{**entry, "tool_id": str(entry["tool_id"])}) for entry in entries])
        except (TypeError, KeyError) as exc:
            raise RuntimeError(f"{path}: each tool needs tool_id, name and url ({exc}).") from exc

    async def describe(self, tool_id: str, version_constraint: str) -> ToolInfo | None:
        tool = self.tools.get(tool_id)
        if tool is None:
            return None
        return ToolInfo(tool.tool_id, tool.name, tool.version, tool.description, tool.input_schema)

    async def invoke(self, tool_id: str, version_constraint: str, params: dict[str, Any]) -> ToolResult:
        tool = self.tools.get(tool_id)
        if tool is None:
            return ToolResult(False, f"Tool {tool_id} is not configured on this server (see TERTULIA_TOOLS_FILE).", 0.0)
        started = time.perf_counter()
        try:
            response = await self._client.post(tool.url, json=params, headers=tool.headers, timeout=tool.timeout_seconds)
        except httpx.TimeoutException:
            return ToolResult(False, f"Tool {tool.name} timed out after {tool.timeout_seconds} s.",
                              time.perf_counter() - started, tool.version)
        except httpx.HTTPError as exc:
            return ToolResult(False, f"Tool {tool.name} is unreachable ({type(exc).__name__}).",
                              time.perf_counter() - started, tool.version)
        elapsed = time.perf_counter() - started
        if response.is_success:
            return ToolResult(True, response.text, elapsed, tool.version)
        return ToolResult(False, f"Tool {tool.name} answered HTTP {response.status_code}: {response.text[:500]}",
                          elapsed, tool.version)

    async def aclose(self) -> None:
        await self._client.aclose()
