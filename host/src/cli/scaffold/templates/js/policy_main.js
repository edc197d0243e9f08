// {{name}}: a sealbox policy. Every Kubernetes object in the YAML files
// under /in must carry the label named by config.label (default "team").
//
// The step contract v1: one JSON request on stdin, one JSON response on
// stdout, the tree at /in (read-only). See guest-sdk/README.md in sealbox.

import { LineCounter, isMap, parseAllDocuments } from 'yaml';
import { preopen, readFile, readStdin, writeStdout } from './wasi.js';

const API_VERSION = 'sealbox.dev/step/v1';
const RULE = '{{name}}';

function check(path, text, label) {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  const out = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos ? error.linePos[0].line : undefined;
      out.push({ severity: 'error', message: `not valid YAML: ${error.message}`, file: path, line, rule: RULE });
      continue;
    }
    if (!isMap(doc.contents) || !doc.has('kind')) {
      continue;
    }
    if (doc.getIn(['metadata', 'labels', label]) === undefined) {
      const node = doc.get('metadata', true) ?? doc.contents;
      const { line, col } = lines.linePos(node.range[0]);
      const message = `${doc.get('kind')} has no label ${JSON.stringify(label)}`;
      out.push({ severity: 'error', message, file: path, line, column: col, rule: RULE });
    }
  }
  return out;
}

export const run = {
  run() {
    const request = JSON.parse(readStdin() || '{}');
    const label = request.config?.label ?? 'team';
    const input = preopen('/in');
    const diagnostics = [];
    const files = (request.files ?? []).filter((f) => f.kind === 'file' && /\.ya?ml$/.test(f.path));
    for (const file of files.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      diagnostics.push(...check(file.path, readFile(input, file.path), label));
    }
    const status = diagnostics.some((d) => d.severity === 'error') ? 'failure' : 'success';
    writeStdout(JSON.stringify({ apiVersion: API_VERSION, status, diagnostics }) + '\n');
  },
};
