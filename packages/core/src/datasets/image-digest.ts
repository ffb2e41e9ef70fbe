import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { parseNpzRef } from './image-ref.js';

/** Digests of files already hashed in this process, by path, size and mtime (a changed file is hashed again). */
const known = new Map<string, Promise<string>>();

const SHA256 = /^[0-9a-f]{64}$/;

function hashFile(path: string): Promise<string> {
  return new Promise<string>((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}

/**
 * A file's digest, hashed at most once per (path, size, mtime): in this process, and across runs
 * and machines through `index` (a folder of one small file per identity, written atomically), so a
 * rerun over 50,000 cached CT volumes reads none of them again.
 */
async function fileDigest(path: string, index?: string): Promise<string> {
  const s = await stat(path);
  const id = `${path}\u0000${s.size}\u0000${s.mtimeMs}`;
  let digest = known.get(id);
  if (!digest) {
    digest = (async () => {
      const key = createHash('sha256').update(id).digest('hex');
      const entry = index ? join(index, key.slice(0, 2), key) : undefined;
      if (entry) {
        const stored = (await readFile(entry, 'utf8').catch(() => '')).trim();
        if (SHA256.test(stored)) return stored;
      }
      const computed = await hashFile(path);
      if (entry) await writeFileAtomic(entry, `${computed}\n`).catch(() => undefined); // an index that cannot be written only costs time
      return computed;
    })();
    known.set(id, digest);
    digest.catch(() => known.delete(id));
  }
  return digest;
}

/** Regular files under a folder, by relative path in sorted order (a DICOM series folder's content). */
async function folderFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await folderFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/**
 * What a manifest image path holds, by content: sha256 of the file's bytes (the compressed bytes
 * of a .nii.gz: hashing is ~50× cheaper than decoding), of a DICOM folder's files (relative names
 * and bytes, sorted), or of an .npz archive plus the reference's split and index. The same volume
 * copied to another folder or machine has the same digest, so a shared feature cache serves it;
 * another dataset reusing the same case ids (MedMNIST's `train-0`) does not. Hashes are kept per
 * (path, size, mtime) for the life of the process, so an archive of a thousand volumes is read once.
 */
export async function imageDigest(
  path: string,
  /** A folder that keeps digests across runs (`digestIndex` of a feature cache); absent: this process only. */
  index?: string,
): Promise<string> {
  const ref = parseNpzRef(path);
  const file = resolve(ref?.file ?? path);
  let s: Awaited<ReturnType<typeof stat>>;
  try {
    s = await stat(file);
  } catch {
    throw new InputError(path, 'no such file or folder');
  }
  const hash = createHash('sha256');
  if (s.isDirectory()) {
    for (const rel of await folderFiles(file))
      hash.update(`${rel}\u0000${await fileDigest(join(file, rel), index)}\u0000`);
  } else hash.update(await fileDigest(file, index));
  if (ref) hash.update(`#${ref.split}/${ref.index}`);
  return hash.digest('hex');
}
