// sealbox's documents view, for JavaScript step modules (no YAML library).
//
// A step granted `documents: true` finds at /documents/documents.jsonl every
// YAML and JSON document of its input tree, decoded once by sealbox's one
// YAML reader with the Kubernetes API server's rules (YAML 1.1 booleans and
// octals, merge keys, duplicate keys refused), as JSON Lines with the line
// of every field. Format: guest-sdk/README.md.

/** The view's file under the directory mounted at /documents. */
export const VIEW_FILE = 'documents.jsonl';

/** The JSON Pointer of `path` (keys, or list indices). */
export function pointer(path) {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

/**
 * The documents and file errors of the view's text: `documents` each with
 * `file`, `index`, `line`, `value` and `lineOf(path)`; `errors` each with
 * `file`, `line`, `column`, `message`.
 */
export function parseView(text) {
  const documents = [];
  const errors = [];
  for (const line of text.split('\n')) {
    if (line === '') {
      continue;
    }
    const record = JSON.parse(line);
    if (record.error) {
      errors.push({ file: record.file, ...record.error });
      continue;
    }
    const lines = record.lines ?? {};
    documents.push({
      file: record.file,
      index: record.document,
      line: record.line,
      value: record.value,
      lineOf: (path) => lines[pointer(path)],
    });
  }
  return { documents, errors };
}
