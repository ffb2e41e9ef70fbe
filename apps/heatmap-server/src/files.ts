import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { RequestContext } from './app-context.js';
import { notFound } from './http-util.js';

/**
 * Streams a stored file with an ETag. A .nii.gz goes out as the gzip bytes it is, with no
 * Content-Encoding: viewers decompress it themselves, and a browser that decoded it on the way
 * would hand them a file whose name no longer matches its content.
 */
export async function sendFile(
  { req, res }: RequestContext,
  path: string,
  contentType: string,
  downloadName: string,
): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw notFound('the file is missing');
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers = {
    'Content-Type': contentType,
    'Content-Disposition': `attachment; filename="${downloadName}"`,
    'Cache-Control': 'private, max-age=3600',
    ETag: etag,
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': info.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(path);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(res);
  });
}
