// A sealbox policy step: every container and init container of every
// workload in the YAML files under /in must set resource limits (by default
// `cpu` and `memory`; config `{"require": ["cpu", "memory", ...]}` or the
// RUN-style argument `require=cpu,memory` choose others).

import { VIEW_FILE, parseView } from '../../../../guest-sdk/js/view.js';
import { checkLimits, checkLimitsInView } from './limits.js';
import { preopen, readFile, readStdin, writeStdout } from './wasi.js';

const API_VERSION = 'sealbox.dev/step/v1';
const RULE = 'require-limits';

/** The limits to require, from the request's config. */
function required(config) {
  let list = config?.require;
  for (const arg of Array.isArray(config?.args) ? config.args : []) {
    if (String(arg).startsWith('require=')) {
      list = String(arg).slice('require='.length).split(',');
    }
  }
  if (list === undefined) {
    return ['cpu', 'memory'];
  }
  if (!Array.isArray(list) || list.length === 0 || !list.every((r) => typeof r === 'string' && r !== '')) {
    throw new Error('config require: expected a non-empty list of resource names');
  }
  return list;
}

/** The documents view's text, or undefined when the step was not granted it. */
function viewText() {
  let dir;
  try {
    dir = preopen('/documents');
  } catch {
    return undefined;
  }
  return readFile(dir, VIEW_FILE);
}

function evaluate(request) {
  const require = required(request.config);
  // Granted the documents view, the manifests are read from it (decoded as
  // Kubernetes decodes them); otherwise the YAML is parsed here.
  const view = viewText();
  if (view !== undefined) {
    const { documents, errors } = parseView(view);
    const diagnostics = errors.map((e) => ({
      severity: 'error', message: `not valid YAML: ${e.message}`, file: e.file, line: e.line, rule: RULE,
    }));
    for (const finding of checkLimitsInView(documents, require)) {
      diagnostics.push({ severity: 'error', rule: RULE, ...finding });
    }
    const failed = diagnostics.some((d) => d.severity === 'error');
    return { apiVersion: API_VERSION, status: failed ? 'failure' : 'success', diagnostics };
  }
  const input = preopen('/in');
  const diagnostics = [];
  const files = (request.files ?? [])
    .filter((f) => f.kind === 'file' && /\.ya?ml$/.test(f.path))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of files) {
    let text;
    try {
      text = readFile(input, file.path);
    } catch (e) {
      diagnostics.push({ severity: 'error', message: String(e.message ?? e), file: file.path, rule: RULE });
      continue;
    }
    for (const finding of checkLimits(text, require)) {
      diagnostics.push({ severity: 'error', file: file.path, rule: RULE, ...finding });
    }
  }
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { apiVersion: API_VERSION, status: failed ? 'failure' : 'success', diagnostics };
}

export const run = {
  run() {
    let response;
    try {
      response = evaluate(JSON.parse(readStdin() || '{}'));
    } catch (e) {
      response = {
        apiVersion: API_VERSION,
        status: 'failure',
        diagnostics: [{ severity: 'error', message: String(e.message ?? e), rule: RULE }],
      };
    }
    writeStdout(JSON.stringify(response) + '\n');
  },
};
