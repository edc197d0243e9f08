// The policy itself, free of I/O: YAML text (or the documents view's
// documents) in, findings out.

import { LineCounter, isMap, isSeq, parseAllDocuments } from 'yaml';

/** Where each workload kind keeps its pod spec. */
const POD_SPEC = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/**
 * The findings for one YAML file: one per container (or init container)
 * of a workload that does not set every limit in `required`, located at
 * the container (1-based line and column).
 */
export function checkLimits(text, required) {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  const findings = [];
  const at = (node) => {
    const { line, col } = lines.linePos(node.range[0]);
    return { line, column: col };
  };
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos ? { line: error.linePos[0].line, column: error.linePos[0].col } : {};
      findings.push({ message: `not valid YAML: ${error.message.split('\n')[0]}`, ...pos });
      continue;
    }
    if (!isMap(doc.contents)) {
      continue;
    }
    const kind = doc.get('kind');
    const path = POD_SPEC[kind];
    if (!path) {
      continue;
    }
    const spec = doc.getIn(path, true);
    if (!isMap(spec)) {
      continue;
    }
    const name = doc.getIn(['metadata', 'name']) ?? '';
    for (const list of ['initContainers', 'containers']) {
      const containers = spec.get(list, true);
      if (!isSeq(containers)) {
        continue;
      }
      for (const container of containers.items) {
        if (!isMap(container)) {
          continue;
        }
        const limits = container.getIn(['resources', 'limits'], true);
        const missing = required.filter((r) => !(isMap(limits) && limits.has(r)));
        if (missing.length > 0) {
          const which = container.get('name') ?? '(unnamed)';
          findings.push({
            message: `${kind}/${name}: container ${which} sets no ${missing.join(' or ')} limit`,
            ...at(container),
          });
        }
      }
    }
  }
  return findings;
}

/**
 * The findings for the documents of sealbox's documents view (guest-sdk/js/
 * view.js): the same check over documents decoded as Kubernetes decodes
 * them (merge keys applied), each finding at its container's line.
 */
export function checkLimitsInView(documents, required) {
  const findings = [];
  for (const doc of documents) {
    const value = doc.value;
    const path = POD_SPEC[value?.kind];
    if (!path) {
      continue;
    }
    const spec = path.reduce((v, key) => (v && typeof v === 'object' ? v[key] : undefined), value);
    if (!spec || typeof spec !== 'object') {
      continue;
    }
    const name = value.metadata?.name ?? '';
    for (const list of ['initContainers', 'containers']) {
      const containers = spec[list];
      if (!Array.isArray(containers)) {
        continue;
      }
      containers.forEach((container, i) => {
        if (!container || typeof container !== 'object' || Array.isArray(container)) {
          return;
        }
        const limits = container.resources?.limits;
        const missing = required.filter((r) => !(limits && typeof limits === 'object' && r in limits));
        if (missing.length > 0) {
          const which = container.name ?? '(unnamed)';
          findings.push({
            file: doc.file,
            message: `${value.kind}/${name}: container ${which} sets no ${missing.join(' or ')} limit`,
            line: doc.lineOf([...path, list, i]),
          });
        }
      });
    }
  }
  return findings;
}
