"""{{name}}: a sealbox policy. Every Kubernetes object in the YAML and JSON
files under /in must carry the label named by config["label"] (default
"team").

The step contract v1: one JSON request on stdin, one JSON response on
stdout, the tree at /in (read-only). The manifests come from the documents
view (sealbox_view.py, standard library only): granted `documents: true`,
the step finds every document decoded as Kubernetes decodes it, with the
line of each field. See guest-sdk/README.md in sealbox.
"""

import json
import sys

import sealbox_view

API_VERSION = "sealbox.dev/step/v1"
RULE = "{{name}}"


def check(documents, errors, label):
    """The diagnostics for the documents of the view."""
    out = [{"severity": "error", "message": f"not valid YAML: {e.message}", "file": e.file, "line": e.line,
            "rule": RULE} for e in errors]
    for doc in documents:
        value = doc.value
        if not isinstance(value, dict) or "kind" not in value:
            continue
        labels = (value.get("metadata") or {}).get("labels") or {}
        if label not in labels:
            line = doc.line_of("metadata") or doc.line
            out.append({"severity": "error", "message": f"{value['kind']} has no label {label!r}", "file": doc.file,
                        "line": line, "rule": RULE})
    return out


def main():
    request = json.loads(sys.stdin.read() or "{}")
    label = (request.get("config") or {}).get("label", "team")
    view = sealbox_view.read_view()
    if view is None:
        diagnostics = [{"severity": "error", "rule": RULE,
                        "message": "no documents view: grant this step `documents: true`"}]
    else:
        diagnostics = check(*view, label)
    status = "failure" if any(d["severity"] == "error" for d in diagnostics) else "success"
    sys.stdout.write(json.dumps({"apiVersion": API_VERSION, "status": status, "diagnostics": diagnostics}) + "\n")
    sys.stdout.flush()
