// The transform itself, free of I/O: YAML text in, labelled YAML text out.

import { isMap, parseAllDocuments, Scalar } from 'yaml';

/** Why a file could not be labelled, with where in it (1-based). */
export class YamlError extends Error {
  constructor(message, line, column) {
    super(message);
    this.line = line;
    this.column = column;
  }
}

/**
 * Sets `metadata.labels[key] = value` on every Kubernetes object (a mapping
 * with `apiVersion` and `kind`) in a YAML stream. Returns the new text, or
 * null when every object already had the label, so unchanged files stay out
 * of the layer. Comments, key order and the other documents are kept.
 */
export function labelManifests(text, key, value) {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const [line, column] = error.linePos ? [error.linePos[0].line, error.linePos[0].col] : [undefined, undefined];
      throw new YamlError(`not valid YAML: ${error.message.split('\n')[0]}`, line, column);
    }
  }
  let changed = false;
  for (const doc of docs) {
    if (!isMap(doc.contents) || !doc.has('apiVersion') || !doc.has('kind')) {
      continue;
    }
    if (doc.getIn(['metadata', 'labels', key]) === value) {
      continue;
    }
    // `metadata:` or `labels:` may be absent or empty (null): replace those
    // with a mapping rather than writing into a scalar.
    if (!isMap(doc.get('metadata'))) {
      doc.set('metadata', doc.createNode({}));
    }
    if (!isMap(doc.getIn(['metadata', 'labels']))) {
      doc.setIn(['metadata', 'labels'], doc.createNode({}));
    }
    // Always quoted: Kubernetes reads YAML 1.1, where a bare `yes` or `on`
    // is a boolean, and a label value must be a string.
    const quoted = new Scalar(value);
    quoted.type = Scalar.QUOTE_DOUBLE;
    doc.setIn(['metadata', 'labels', key], quoted);
    changed = true;
  }
  return changed ? docs.map((doc) => doc.toString({ lineWidth: 0 })).join('') : null;
}
