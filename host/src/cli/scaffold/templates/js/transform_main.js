// {{name}}: a sealbox transform. Writes every YAML file under /in to the
// same path under /out with a first line "# processed by {{name}}"; the host
// applies /out to the image.
//
// The step contract v1: one JSON request on stdin, one JSON response on
// stdout, the tree at /in (read-only), /out empty and writable. See
// guest-sdk/README.md in sealbox.

import { preopen, readFile, readStdin, writeFile, writeStdout } from './wasi.js';

const API_VERSION = 'sealbox.dev/step/v1';
const HEADER = '# processed by {{name}}\n';

export const run = {
  run() {
    const request = JSON.parse(readStdin() || '{}');
    const input = preopen('/in');
    const output = preopen('/out');
    const changed = [];
    const files = (request.files ?? []).filter((f) => f.kind === 'file' && /\.ya?ml$/.test(f.path));
    for (const file of files.sort((a, b) => (a.path < b.path ? -1 : 1))) {
      const text = readFile(input, file.path);
      if (!text.startsWith(HEADER)) {
        writeFile(output, file.path, HEADER + text);
        changed.push(file.path);
      }
    }
    writeStdout(JSON.stringify({ apiVersion: API_VERSION, status: 'success', data: { changed } }) + '\n');
  },
};
