// The curio: media scheme maps a URL to a file only in two strict shapes; everything else is refused before the
// filesystem is touched.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_BASE, mediaResponse, resolveMediaRequest } from '../../../main/app/media.js';
import { thumbnailPath } from '../../../main/ingest/decode.js';
import { seededServices, type SeededServices } from '../rpc/fixtures.js';

describe('curio: media scheme', () => {
  let seeded: SeededServices;
  let image: { id: number; sha256: string; path: string };

  beforeAll(async () => {
    seeded = await seededServices('media', 2);
    const item = seeded.services.catalog.listImages({ datasetId: seeded.datasetId, offset: 0, limit: 1, status: 'ok' }).items[0]!;
    image = { id: item.id, sha256: item.sha256!, path: item.path };
  });
  afterAll(() => seeded?.cleanup());

  it('resolves a thumbnail by content hash into the thumbnail cache', () => {
    const r = resolveMediaRequest(seeded.services, `${MEDIA_BASE}thumbs/${image.sha256}.webp`);
    expect(r).toEqual({ ok: true, file: thumbnailPath(seeded.services.thumbnailDir, image.sha256), contentType: 'image/webp', immutable: true });
  });

  it('resolves an original by catalog id to the file the catalog holds', () => {
    const r = resolveMediaRequest(seeded.services, `${MEDIA_BASE}images/${image.id}`);
    expect(r).toMatchObject({ ok: true, file: image.path, contentType: 'image/png' });
  });

  it('refuses every other shape', () => {
    const refused = [
      `${MEDIA_BASE}thumbs/${image.sha256.toUpperCase()}.webp`,
      `${MEDIA_BASE}thumbs/${image.sha256}.png`,
      `${MEDIA_BASE}thumbs/${image.sha256.slice(1)}.webp`,
      `${MEDIA_BASE}thumbs/${image.sha256}.webp/..`,
      `${MEDIA_BASE}thumbs/%2e%2e/%2e%2e/catalog.sqlite`,
      `${MEDIA_BASE}thumbs/..%2f..%2fcatalog.sqlite`,
      `${MEDIA_BASE}thumbs/../../catalog.sqlite`,
      `${MEDIA_BASE}images/0`,
      `${MEDIA_BASE}images/-1`,
      `${MEDIA_BASE}images/01`,
      `${MEDIA_BASE}images/1.0`,
      `${MEDIA_BASE}images/${'9'.repeat(17)}`,
      `${MEDIA_BASE}images/999999`,
      `${MEDIA_BASE}images/${image.id}/x`,
      `${MEDIA_BASE}images/%31`,
      `${MEDIA_BASE}`,
      `curio://other/thumbs/${image.sha256}.webp`,
      `curio://media:8080/images/${image.id}`,
      `curio://user:pw@media/images/${image.id}`,
      `file:///etc/passwd`,
      `https://media/images/${image.id}`,
      'not a url',
    ];
    for (const url of refused) {
      const r = resolveMediaRequest(seeded.services, url);
      expect(r.ok, url).toBe(false);
    }
    expect(resolveMediaRequest(seeded.services, `${MEDIA_BASE}images/${image.id}`, 'POST')).toMatchObject({ ok: false, status: 405 });
  });

  it('answers with the file bytes, nosniff, and 404 for a thumbnail not in the cache', async () => {
    const res = await mediaResponse(seeded.services, `${MEDIA_BASE}images/${image.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(image.path))).toBe(true);
    expect((await mediaResponse(seeded.services, `${MEDIA_BASE}thumbs/${'0'.repeat(64)}.webp`)).status).toBe(404);
    const head = await mediaResponse(seeded.services, `${MEDIA_BASE}thumbs/${image.sha256}.webp`, 'HEAD');
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });
});
