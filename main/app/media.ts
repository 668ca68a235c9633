import fs from 'node:fs';
import path from 'node:path';
import { CurioError } from '../common/errors.js';
import { thumbnailPath } from '../ingest/decode.js';
import type { Services } from '../services.js';

/** The privileged scheme the Electron renderer loads media from: `curio://media/thumbs/<sha256>.webp`, `curio://media/images/<id>`. */
export const MEDIA_SCHEME = 'curio';
export const MEDIA_HOST = 'media';
export const MEDIA_BASE = `${MEDIA_SCHEME}://${MEDIA_HOST}/`;

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.bmp': 'image/bmp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.svg': 'image/svg+xml',
};

export type MediaResolution =
  | { ok: true; file: string; contentType: string; immutable: boolean }
  | { ok: false; status: 400 | 404 | 405; message: string };

/**
 * Maps a request on the media scheme to one file, or to a refusal. Only two shapes pass: a thumbnail named by a
 * lowercase sha256, which can only land inside the thumbnail cache, and an original named by its catalog id, which
 * can only be a file the catalog already holds. Anything else (another host, `..`, encodings, query tricks) is
 * refused before the filesystem is touched, because the renderer is untrusted.
 */
export function resolveMediaRequest(services: Pick<Services, 'catalog' | 'thumbnailDir'>, rawUrl: string, method = 'GET'): MediaResolution {
  if (method !== 'GET' && method !== 'HEAD') return { ok: false, status: 405, message: 'method not allowed' };
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, status: 400, message: 'malformed URL' };
  }
  if (url.protocol !== `${MEDIA_SCHEME}:` || url.host !== MEDIA_HOST || url.username || url.password || url.port) {
    return { ok: false, status: 400, message: 'not a media URL' };
  }
  // The shapes are matched on the raw path, so neither percent-encoding nor dot segments can smuggle anything in.
  const thumb = /^\/thumbs\/([0-9a-f]{64})\.webp$/.exec(url.pathname);
  if (thumb) {
    return { ok: true, file: thumbnailPath(services.thumbnailDir, thumb[1]!), contentType: 'image/webp', immutable: true };
  }
  const original = /^\/images\/([1-9][0-9]{0,15})$/.exec(url.pathname);
  if (original) {
    const id = Number(original[1]);
    if (!Number.isSafeInteger(id)) return { ok: false, status: 404, message: 'no such image' };
    let imagePath: string;
    try {
      imagePath = services.catalog.getImage(id).path;
    } catch (err) {
      if (err instanceof CurioError && err.code === 'not-found') return { ok: false, status: 404, message: 'no such image' };
      throw err;
    }
    const contentType = IMAGE_TYPES[path.extname(imagePath).toLowerCase()] ?? 'application/octet-stream';
    return { ok: true, file: imagePath, contentType, immutable: false };
  }
  return { ok: false, status: 404, message: 'not found' };
}

/** Opens what resolveMediaRequest allowed as a web Response; a file that is gone or not a regular file is a 404. */
export async function mediaResponse(services: Pick<Services, 'catalog' | 'thumbnailDir'>, rawUrl: string, method = 'GET'): Promise<Response> {
  const resolved = resolveMediaRequest(services, rawUrl, method);
  const baseHeaders = { 'X-Content-Type-Options': 'nosniff' };
  if (!resolved.ok) {
    return new Response(resolved.message, { status: resolved.status, headers: { ...baseHeaders, 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  let data: Buffer;
  try {
    const st = await fs.promises.stat(resolved.file);
    if (!st.isFile()) throw new Error('not a file');
    data = method === 'HEAD' ? Buffer.alloc(0) : await fs.promises.readFile(resolved.file);
  } catch {
    return new Response('not found', { status: 404, headers: { ...baseHeaders, 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  const headers: Record<string, string> = { ...baseHeaders, 'Content-Type': resolved.contentType };
  headers['Cache-Control'] = resolved.immutable ? 'private, max-age=31536000, immutable' : 'no-cache';
  // An SVG original is shown as an image only; a sandboxing CSP keeps it from running script if opened directly.
  if (resolved.contentType === 'image/svg+xml') headers['Content-Security-Policy'] = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
  return new Response(method === 'HEAD' ? null : new Uint8Array(data), { status: 200, headers });
}
