// The few WASI calls a step needs, over the interfaces wit/world.wit imports:
// read the request from stdin, write the response to stdout, read files
// under /in and write files under /out. componentize-js turns each WIT
// import into an ES module of that name.

import { getStdin } from 'wasi:cli/stdin@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const CHUNK = 65536;
// `blocking-write-and-flush` takes at most 4096 bytes a call.
const WRITE_CHUNK = 4096;

/** The preopened directory mounted at `path` (`/in` or `/out`). */
export function preopen(path) {
  for (const [descriptor, name] of getDirectories()) {
    if (name === path) {
      return descriptor;
    }
  }
  throw new Error(`${path} is not mounted`);
}

/** A WASI error as text: its error code when it has one. */
export function describe(error) {
  return error && error.payload !== undefined ? String(error.payload?.tag ?? error.payload) : String(error);
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** All of stdin, as text. */
export function readStdin() {
  const stream = getStdin();
  const chunks = [];
  for (;;) {
    try {
      chunks.push(stream.blockingRead(BigInt(CHUNK)));
    } catch (e) {
      if (describe(e) === 'closed') {
        break;
      }
      throw new Error(`reading stdin: ${describe(e)}`);
    }
  }
  return new TextDecoder().decode(concat(chunks));
}

/** Writes `text` to stdout. */
export function writeStdout(text) {
  const stream = getStdout();
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length; at += WRITE_CHUNK) {
    stream.blockingWriteAndFlush(bytes.subarray(at, at + WRITE_CHUNK));
  }
}

/** The content of `path` under `dir`, as text. */
export function readFile(dir, path) {
  let file;
  try {
    file = dir.openAt({}, path, {}, { read: true });
  } catch (e) {
    throw new Error(`opening ${path}: ${describe(e)}`);
  }
  const chunks = [];
  let offset = 0n;
  for (;;) {
    const [data, end] = file.read(BigInt(CHUNK), offset);
    chunks.push(data);
    offset += BigInt(data.length);
    if (end || data.length === 0) {
      break;
    }
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(concat(chunks));
}

/** Writes `text` to `path` under `dir`, creating its parent directories. */
export function writeFile(dir, path, text) {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    try {
      dir.createDirectoryAt(parent);
    } catch (e) {
      if (describe(e) !== 'exist') {
        throw new Error(`creating ${parent}: ${describe(e)}`);
      }
    }
  }
  let file;
  try {
    file = dir.openAt({}, path, { create: true, truncate: true }, { write: true });
  } catch (e) {
    throw new Error(`creating ${path}: ${describe(e)}`);
  }
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    const written = file.write(bytes.subarray(offset), BigInt(offset));
    offset += Number(written);
  }
}
