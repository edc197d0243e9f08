// A sealbox transform step: adds the label `sealbox.io/scanned` to
// metadata.labels of every Kubernetes object in the YAML files under /in,
// writing each changed file to the same path under /out.
//
// Config (from a pipeline file): {"label": "sealbox.io/scanned", "value": "true"}.
// Arguments (from `RUN --module=… ARGS`): `label=KEY`, `value=VALUE`.

import { labelManifests, YamlError } from './label.js';
import { preopen, readFile, readStdin, writeFile, writeStdout } from './wasi.js';

const API_VERSION = 'sealbox.dev/step/v1';
const RULE = 'add-label';

/** The label to set, from the request's config or RUN arguments. */
function settings(config) {
  const out = { label: 'sealbox.io/scanned', value: 'true' };
  const given = { ...(config ?? {}) };
  for (const arg of Array.isArray(given.args) ? given.args : []) {
    const eq = String(arg).indexOf('=');
    if (eq < 0) {
      throw new Error(`argument ${JSON.stringify(arg)}: expected label=KEY or value=VALUE`);
    }
    given[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  for (const name of ['label', 'value']) {
    if (given[name] !== undefined) {
      if (typeof given[name] !== 'string' || given[name] === '') {
        throw new Error(`config ${name}: expected a non-empty string`);
      }
      out[name] = given[name];
    }
  }
  return out;
}

function transform(request) {
  const { label, value } = settings(request.config);
  const input = preopen('/in');
  const output = preopen('/out');
  const diagnostics = [];
  const changed = [];
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
    let labelled;
    try {
      labelled = labelManifests(text, label, value);
    } catch (e) {
      if (!(e instanceof YamlError)) {
        throw e;
      }
      diagnostics.push({ severity: 'error', message: e.message, file: file.path, line: e.line, column: e.column, rule: RULE });
      continue;
    }
    if (labelled !== null) {
      writeFile(output, file.path, labelled);
      changed.push(file.path);
    }
  }
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { apiVersion: API_VERSION, status: failed ? 'failure' : 'success', diagnostics, data: { changed } };
}

export const run = {
  run() {
    let response;
    try {
      response = transform(JSON.parse(readStdin() || '{}'));
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
