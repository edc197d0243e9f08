"""{{name}}: a sealbox transform. Writes every YAML file under /in to the
same path under /out with a first line "# processed by {{name}}"; the host
applies /out to the image.

The step contract v1: one JSON request on stdin, one JSON response on
stdout, the tree at /in (read-only), /out empty and writable. See
guest-sdk/README.md in sealbox.
"""

import json
import os
import sys

API_VERSION = "sealbox.dev/step/v1"
HEADER = "# processed by {{name}}\n"


def main():
    request = json.loads(sys.stdin.read() or "{}")
    changed = []
    files = sorted(e["path"] for e in request.get("files") or [] if e.get("kind") == "file")
    for path in files:
        if not path.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join("/in", path), encoding="utf-8") as f:
            text = f.read()
        if text.startswith(HEADER):
            continue
        dest = os.path.join("/out", path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(HEADER + text)
        changed.append(path)
    response = {"apiVersion": API_VERSION, "status": "success", "data": {"changed": changed}}
    sys.stdout.write(json.dumps(response) + "\n")
    sys.stdout.flush()
