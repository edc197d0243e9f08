// The policy itself, free of I/O: YAML text in, findings out.

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
