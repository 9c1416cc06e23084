"""Extract the Bot API methods the client calls into tests/telegram/bot_api_methods.json.

The full Bot API description lives beside the repository (``../shared/telegram/``), which a CI
checkout may lack; the tests check the client's requests against this committed extract.
Run: ``python scripts/extract_bot_api.py [path/to/bot-api.json]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FULL_SPEC = REPO.parent / "shared" / "telegram" / "bot-api-10.1.json"
EXTRACT = REPO / "tests" / "telegram" / "bot_api_methods.json"


def extract(spec: dict[str, Any], methods: Iterable[str]) -> dict[str, Any]:
    """The version, and for each method its return types and fields (types, required)."""
    return {
        "version": spec["version"],
        "methods": {
            name: {
                "returns": spec["methods"][name]["returns"],
                "fields": {
                    item["name"]: {"types": item["types"], "required": item["required"]}
                    for item in spec["methods"][name].get("fields", [])
                },
            }
            for name in sorted(methods)
        },
    }


def render(data: dict[str, Any]) -> str:
    """The extract as JSON with one line per field, so a diff shows what changed."""
    lines = ["{", f' "version": {json.dumps(data["version"])},', ' "methods": {']
    methods = list(data["methods"].items())
    for m, (name, method) in enumerate(methods):
        lines.append(f"  {json.dumps(name)}: {{")
        lines.append(f'   "returns": {json.dumps(method["returns"])},')
        lines.append('   "fields": {')
        fields = list(method["fields"].items())
        for f, (field, value) in enumerate(fields):
            comma = "," if f < len(fields) - 1 else ""
            lines.append(f"    {json.dumps(field)}: {json.dumps(value)}{comma}")
        lines.append("   }")
        lines.append("  }" + ("," if m < len(methods) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write the extract; the client's method list comes from the package itself."""
    from disparo.telegram.bot import HELPER_METHODS

    source = Path(argv[1]) if len(argv) > 1 else FULL_SPEC
    spec = json.loads(source.read_text(encoding="utf-8"))
    EXTRACT.write_text(render(extract(spec, HELPER_METHODS)), encoding="utf-8")
    sys.stdout.write(f"wrote {EXTRACT.relative_to(REPO)} from {source.name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
