"""sealbox's documents view, for Python step modules (standard library only).

A step granted `documents: true` finds at /documents/documents.jsonl every
YAML and JSON document of its input tree, decoded once by sealbox's one YAML
reader with the Kubernetes API server's rules (YAML 1.1 booleans and
octals, merge keys, duplicate keys refused), as JSON Lines with the line of
every field. Reading it needs no YAML library. Format: guest-sdk/README.md.
"""

import json
import os

DOCUMENTS_DIR = "/documents"
VIEW_FILE = "documents.jsonl"


class Document:
    """One document: `file`, `index` (in its stream), `line`, `value`."""

    def __init__(self, record):
        self.file = record["file"]
        self.index = record.get("document", 0)
        self.line = record.get("line", 1)
        self.value = record.get("value")
        self._lines = record.get("lines") or {}

    def line_of(self, *path):
        """The line the value at `path` (keys, or list indices) starts on, or None."""
        pointer = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
        return self._lines.get(pointer)


class FileError:
    """A file Kubernetes would refuse: `file`, `line`, `column`, `message`."""

    def __init__(self, record):
        error = record["error"]
        self.file = record["file"]
        self.line = error.get("line")
        self.column = error.get("column")
        self.message = error.get("message", "")


def read_view(directory=DOCUMENTS_DIR):
    """(documents, file errors) of the view, or None when the step was not
    granted it."""
    try:
        f = open(os.path.join(directory, VIEW_FILE), encoding="utf-8")
    except OSError:
        return None
    documents, errors = [], []
    with f:
        for line in f:
            record = json.loads(line)
            if "error" in record:
                errors.append(FileError(record))
            else:
                documents.append(Document(record))
    return documents, errors
