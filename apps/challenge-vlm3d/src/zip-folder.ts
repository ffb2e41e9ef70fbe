import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { InputError } from '@anymc3d/core/util';
import { Zip, ZipPassThrough } from 'fflate';

/** Plain zip stores sizes in 32 bits; fflate writes no ZIP64 records. */
const ZIP_LIMIT = 2 ** 32 - 1;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * Zips a folder's contents with the files at the archive's root (as the 2026 platform mounts
 * weights.zip at /weights), stored without compression (safetensors do not compress), streamed
 * file by file so a multi-GB backbone is never held in memory, through a temporary file renamed
 * into place.
 */
export async function zipFolder(folder: string, zipPath: string): Promise<number> {
  const files = await filesUnder(folder);
  for (const f of files) {
    if ((await stat(f)).size > ZIP_LIMIT)
      throw new InputError(
        f,
        'over 4 GiB: a plain zip cannot hold it; upload the folder with a ZIP64 tool (zip -0 -r)',
      );
  }
  const tmp = join(dirname(zipPath), `.${basename(zipPath)}.${process.pid}.tmp`);
  const sink = createWriteStream(tmp);
  const finished = new Promise<void>((resolve, reject) => {
    sink.on('finish', resolve);
    sink.on('error', reject);
  });
  let failure: Error | null = null;
  const zip = new Zip((error, chunk, final) => {
    if (error) failure = error;
    else sink.write(chunk);
    if (final || error) sink.end();
  });
  try {
    for (const f of files) {
      const entry = new ZipPassThrough(relative(folder, f).split('\\').join('/'));
      zip.add(entry);
      for await (const piece of createReadStream(f)) {
        entry.push(piece as Uint8Array);
        // Let the file stream drain what was pushed before reading more.
        if (sink.writableNeedDrain) await new Promise<void>((r) => sink.once('drain', () => r()));
      }
      entry.push(new Uint8Array(0), true);
    }
    zip.end();
    await finished;
    if (failure) throw failure;
    await rename(tmp, zipPath);
  } catch (error) {
    sink.destroy();
    await rm(tmp, { force: true });
    throw error;
  }
  return files.length;
}
