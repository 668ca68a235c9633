import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';

/**
 * Decodes one batch of image files to a Float32Array NHWC in [0, 1] at size×size (EXIF-rotated, centre-cropped
 * to square, sRGB, alpha dropped), and transfers the buffer back. Runs off the training thread.
 */
export interface DecodeRequest {
  id: number;
  paths: string[];
  size: number;
}
export interface DecodeReply {
  id: number;
  x: Float32Array;
  /** positions in the batch that could not be decoded (left black), with the reason */
  failed: { at: number; reason: string }[];
}

// One libvips thread per worker: the loader decides how many workers run.
sharp.concurrency(1);
sharp.cache(false);

async function decodeBatch({ id, paths, size }: DecodeRequest): Promise<DecodeReply> {
  const per = size * size * 3;
  const x = new Float32Array(paths.length * per);
  const failed: DecodeReply['failed'] = [];
  for (let i = 0; i < paths.length; i++) {
    try {
      const raw = await sharp(paths[i]!, { failOn: 'truncated', pages: 1 })
        .rotate()
        .resize(size, size, { fit: 'cover', position: 'centre' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (raw.info.channels !== 3 || raw.data.length !== per) throw new Error(`decoded to ${raw.info.channels} channels`);
      const offset = i * per;
      for (let j = 0; j < per; j++) x[offset + j] = raw.data[j]! / 255;
    } catch (err) {
      failed.push({ at: i, reason: (err instanceof Error ? err.message : String(err)).split('\n')[0]! });
    }
  }
  return { id, x, failed };
}

parentPort?.on('message', (req: DecodeRequest) => {
  decodeBatch(req).then(
    (reply) => parentPort!.postMessage(reply, [reply.x.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: req.id, error: String(err) }),
  );
});
