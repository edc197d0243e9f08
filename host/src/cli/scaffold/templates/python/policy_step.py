"""{{name}}: a sealbox policy. Every Kubernetes object in the YAML files
under /in must carry the label named by config["label"] (default "team").

The step contract v1: one JSON request on stdin, one JSON response on
stdout, the tree at /in (read-only). See guest-sdk/README.md in sealbox.
"""

import json
import os
import sys

import yaml

API_VERSION = "sealbox.dev/step/v1"
RULE = "{{name}}"


def value_of(mapping, key):
    """The value node under `key` in a mapping node, or None."""
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def check(path, text, label):
    """The diagnostics for one YAML file (path relative to /in)."""
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        d = {"severity": "error", "message": f"not valid YAML: {e}", "file": path, "rule": RULE}
        if mark is not None:
            d["line"] = mark.line + 1
        return [d]
    out = []
    for doc in documents:
        if value_of(doc, "kind") is None:
            continue
        metadata = value_of(doc, "metadata")
        if value_of(value_of(metadata, "labels"), label) is None:
            at = (metadata or doc).start_mark
            kind = value_of(doc, "kind").value
            out.append({"severity": "error", "message": f"{kind} has no label {label!r}", "file": path,
                        "line": at.line + 1, "column": at.column + 1, "rule": RULE})
    return out


def main():
    request = json.loads(sys.stdin.read() or "{}")
    label = (request.get("config") or {}).get("label", "team")
    diagnostics = []
    files = sorted(e["path"] for e in request.get("files") or [] if e.get("kind") == "file")
    for path in files:
        if path.endswith((".yaml", ".yml")):
            with open(os.path.join("/in", path), encoding="utf-8") as f:
                diagnostics += check(path, f.read(), label)
    status = "failure" if any(d["severity"] == "error" for d in diagnostics) else "success"
    sys.stdout.write(json.dumps({"apiVersion": API_VERSION, "status": status, "diagnostics": diagnostics}) + "\n")
    sys.stdout.flush()
