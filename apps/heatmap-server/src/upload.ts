import { open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-util.js';
import { detectVolumeFormat, SNIFF_BYTES, type VolumeFormat } from './volume-format.js';

/**
 * Streams a request body into `path`, refusing more than `maxBytes` with a 413 as soon as the
 * count passes it (the rest of the body is discarded, not stored), then sniffs the format from
 * the file's first bytes. The partial file is removed on any failure.
 */
export async function receiveVolume(
  req: IncomingMessage,
  path: string,
  maxBytes: number,
): Promise<{ size: number; format: VolumeFormat }> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const handle = await open(path, 'wx+');
  let ok = false;
  try {
    const size = await new Promise<number>((resolve, reject) => {
      let received = 0;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      // Writes are chained, so they land in order, and 'end' (which can come while the last
      // write is still in flight) waits for the chain.
      let written: Promise<unknown> = Promise.resolve();
      req.on('data', (chunk: Buffer) => {
        if (failed) return;
        received += chunk.length;
        if (received > maxBytes) return fail(tooLarge(maxBytes));
        req.pause();
        written = written
          .then(() => handle.write(chunk))
          .then(
            () => req.resume(),
            (error: Error) => {
              fail(error);
              req.resume();
            },
          );
      });
      req.on('end', () => {
        written.then(() => !failed && resolve(received));
      });
      req.on('error', fail);
      req.on('close', () => {
        if (!req.complete) fail(new HttpError(400, 'upload_aborted', 'the upload ended before its last byte'));
      });
    });
    const head = Buffer.alloc(Math.min(size, SNIFF_BYTES));
    await handle.read(head, 0, head.length, 0);
    const format = detectVolumeFormat(head);
    if (!format) {
      throw new HttpError(
        415,
        'not_a_volume',
        'the upload is not a NIfTI-1 (.nii/.nii.gz), NRRD, MetaImage (.mha) or zip of a DICOM series (checked by content, not name)',
      );
    }
    ok = true;
    return { size, format };
  } finally {
    await handle.close();
    if (!ok) await rm(path, { force: true });
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'too_large', `an upload may be at most ${maxBytes} bytes`);
}
