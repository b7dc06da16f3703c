// Atomic file writes: a temp file in the same directory, fsync, rename over the target, fsync of
// the directory. A reader (or a process killed mid-write) sees the old file or the new one, never half.
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** fsync a directory so a rename in it survives a power loss; not possible everywhere (Windows), so best effort. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // EISDIR/EPERM/EINVAL on platforms that cannot fsync directories: the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temp files that a killed writer of `target` left behind (their pid is gone). */
function removeStale(dir: string, base: string): void {
  const prefix = `.${base}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(n.slice(prefix.length));
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) fs.rmSync(path.join(dir, n), { force: true });
  }
}

/** Writes chunks to file atomically; creates the parent directory. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    throw new Error(`cannot write ${target}: it is a directory`);
  }
  removeStale(dir, path.basename(target));
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += fs.writeSync(fd, c, off, c.byteLength - off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

// ---- a set of files switched at once ----
// A model directory holds several files (config.json, model.safetensors, ...) that only make sense
// together. Each new file is first written complete beside the old ones under a staging name,
// then one small journal naming the set is renamed into place: that rename is the moment the new
// set exists. Then each staged file is renamed over its old one and the journal removed. A writer
// killed before the journal exists leaves the old set (its staged files are swept later); one
// killed after it leaves a journal that the next reader or writer completes (finishFileSet).

const JOURNAL = '.commit.json';
const STAGED = '.next.';

interface Journal { write: string[]; remove: string[] }

function readJournal(dir: string): Journal | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, JOURNAL), 'utf8');
  } catch {
    return null;
  }
  const j = JSON.parse(text) as Journal;
  const names = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string' && n === path.basename(n) && !n.startsWith('.'));
  if (!j || !names(j.write) || !names(j.remove)) throw new Error(`${path.join(dir, JOURNAL)} is not a file-set journal`);
  return j;
}

/**
 * Completes a switch that a killed writer committed but did not finish; with sweep (writers only),
 * also removes the staged files of one killed before committing. Idempotent; a reader may call it. False where the directory
 * cannot be written (a read-only copy): committedFile then still resolves the committed set.
 */
export function finishFileSet(dir: string, sweep = false): boolean {
  try {
    const j = readJournal(dir);
    if (j) {
      for (const n of j.write) {
        try {
          fs.renameSync(path.join(dir, STAGED + n), path.join(dir, n));
        } catch (e) {
          // already moved (by an earlier finish, or a concurrent reader finishing the same switch)
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      for (const n of j.remove) fs.rmSync(path.join(dir, n), { force: true });
      fsyncDir(dir);
      fs.rmSync(path.join(dir, JOURNAL), { force: true });
    }
    // Only a writer sweeps: a reader could otherwise delete what a live writer is still staging.
    if (sweep) for (const n of fs.readdirSync(dir)) if (n.startsWith(STAGED)) fs.rmSync(path.join(dir, n), { force: true });
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return false;
    throw e;
  }
}

/** Where the committed version of dir/name is now (its staged copy while a committed switch is unfinished); null if the set has none. */
export function committedFile(dir: string, name: string): string | null {
  const j = readJournal(dir);
  if (j?.remove.includes(name)) return null;
  if (j?.write.includes(name) && fs.existsSync(path.join(dir, STAGED + name))) return path.join(dir, STAGED + name);
  const f = path.join(dir, name);
  return fs.existsSync(f) ? f : null;
}

/**
 * Replaces a set of files in dir at once: write(file) is called for each name with the path to write
 * it to (it may write that path any way, atomically or not); names mapped to null are removed. A
 * process killed at any moment leaves the old set or the new one, whole.
 */
export function writeFileSetSync(dir: string, files: Record<string, ((file: string) => void) | null>): void {
  fs.mkdirSync(dir, { recursive: true });
  finishFileSet(dir, true);
  const write = Object.keys(files).filter((n) => files[n] !== null);
  const remove = Object.keys(files).filter((n) => files[n] === null);
  try {
    for (const n of write) (files[n] as (file: string) => void)(path.join(dir, STAGED + n));
  } catch (e) {
    for (const n of write) fs.rmSync(path.join(dir, STAGED + n), { force: true });
    throw e;
  }
  fsyncDir(dir);
  writeFileAtomicSync(path.join(dir, JOURNAL), JSON.stringify({ write, remove } satisfies Journal));
  finishFileSet(dir);
}
