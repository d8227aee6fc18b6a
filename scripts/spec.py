"""Print one operation of the Classic Amigo OpenAPI with every schema it uses, refs expanded.

Usage: python scripts/spec.py OPERATION_ID [--spec PATH]
       python scripts/spec.py --list            (every operation: method, path, operationId)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SHARED = Path(os.environ.get("TERTULIA_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
DEFAULT = SHARED / "reference" / "amigo-openapi.json"
SKIP_PARAMS = {"organization", "x-mongo-cluster-name", "Sec-WebSocket-Protocol"}


def expand(node, schemas, seen=()):
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].split("/")[-1]
            if name in seen:
                return {"$recursive": name}
            out = expand(schemas[name], schemas, seen + (name,))
            if isinstance(out, dict):
                out = {"$schema_name": name, **out}
            return out
        out = {k: expand(v, schemas, seen) for k, v in node.items() if k not in ("title",)}
        if isinstance(out.get("enum"), list) and len(out["enum"]) > 25:
            out["enum"] = f"<{len(out['enum'])} values, e.g. {out['enum'][:5]}>"
        return out
    if isinstance(node, list):
        return [expand(v, schemas, seen) for v in node]
    return node


def main() -> None:
    args = sys.argv[1:]
    spec_path = DEFAULT
    if "--spec" in args:
        i = args.index("--spec")
        spec_path = Path(args[i + 1])
        del args[i : i + 2]
    if not spec_path.exists():
        sys.exit(f"{spec_path} not found: pass --spec PATH or set TERTULIA_SHARED_DIR to the shared directory")
    spec = json.loads(spec_path.read_text())
    schemas = spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue
            if args and args[0] == "--list":
                print(f"{method.upper():7} {path:100} {op['operationId']}")
            elif args and op["operationId"] == args[0]:
                print(f"{method.upper()} {path}\n")
                print(op.get("description", ""))
                params = [p for p in op.get("parameters", []) if p["name"] not in SKIP_PARAMS]
                print("\nPARAMETERS:", json.dumps(expand(params, schemas), indent=1))
                if "requestBody" in op:
                    print("\nBODY:", json.dumps(expand(op["requestBody"], schemas), indent=1))
                print("\nRESPONSES:", json.dumps(expand(op["responses"], schemas), indent=1))


if __name__ == "__main__":
    main()
