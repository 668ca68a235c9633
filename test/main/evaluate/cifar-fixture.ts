import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { LabeledFeatures } from '../../../main/evaluate/features.js';
import { pixelFeaturesFromImages } from '../../../main/evaluate/pixels.js';

/** ../shared/datasets beside the repository: the CIFAR-10 training split as JPEGs (train/<class>/NNNN.jpg). */
export const CIFAR_ARCHIVE = fileURLToPath(new URL('../../../../shared/datasets/cifar10-train.tar.gz', import.meta.url));
export const haveCifar = fs.existsSync(CIFAR_ARCHIVE);
export const CIFAR_SKIP_REASON = `SKIP: CIFAR-10 archive not found at ${CIFAR_ARCHIVE}`;

export interface CifarImages {
  classes: string[];
  /** Per class (classes sorted by name), the JPEG bytes of its files sorted by file name. */
  byClass: Buffer[][];
}

/**
 * Reads the JPEGs straight out of the .tar.gz in memory: 50,000 small files written to and deleted from disk cost
 * far more than decoding them, and leave nothing behind if a test is interrupted.
 */
export function readCifar(): CifarImages {
  const tar = gunzipSync(fs.readFileSync(CIFAR_ARCHIVE));
  const files = new Map<string, Map<string, Buffer>>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = cString(header, 0, 100);
    const prefix = cString(header, 345, 155);
    const size = parseInt(cString(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    const full = prefix ? `${prefix}/${name}` : name;
    const m = /^(?:\.\/)?train\/([^/]+)\/([^/]+\.jpg)$/.exec(full);
    if ((type === '0' || type === '\0') && m) {
      const byName = files.get(m[1]!) ?? new Map<string, Buffer>();
      byName.set(m[2]!, tar.subarray(off + 512, off + 512 + size));
      files.set(m[1]!, byName);
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  const classes = [...files.keys()].sort();
  return { classes, byClass: classes.map((c) => [...files.get(c)!.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, buf]) => buf)) };
}

function cString(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** Raw-pixel features of the given images, labelled by class index; rows in the order given. */
export async function pixelsOf(images: { bytes: Buffer; label: number }[], size: number, numClasses: number): Promise<LabeledFeatures> {
  const f = await pixelFeaturesFromImages(images.map((x) => x.bytes), { size, concurrency: 8 });
  return { ...f, labels: Int32Array.from(images.map((x) => x.label)), numClasses };
}
