/**
 * The size and EXIF orientation of a JPEG, read from its marker segments in JS. Asking libvips for the same
 * (sharp.metadata) costs a whole native round trip, about a third of the decode of a 32×32 image. Anything
 * unexpected returns null and the caller asks sharp, so this only has to be right for well-formed files.
 */
export interface JpegHeader {
  width: number;
  height: number;
  /** EXIF orientation 1..8; 1 when the file has none */
  orientation: number;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

export function readJpegHeader(buf: Uint8Array): JpegHeader | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 2;
  let size: { width: number; height: number } | null = null;
  let orientation: number | null = null;
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) return null;
    const marker = buf[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9) return null; // end of image before any scan
    const length = view.getUint16(pos + 2);
    if (length < 2 || pos + 2 + length > buf.length) return null;
    const body = pos + 4;
    if (SOF_MARKERS.has(marker)) {
      if (size || length < 8) return null;
      const height = view.getUint16(body + 1);
      const width = view.getUint16(body + 3);
      if (width === 0 || height === 0) return null;
      size = { width, height };
    } else if (marker === 0xe1 && orientation === null && isExif(buf, body, length - 2)) {
      orientation = exifOrientation(view, body + 6, body + length - 2);
      if (orientation === -1) return null;
    } else if (marker === 0xda) {
      // Start of scan: every header segment has been seen.
      return size ? { ...size, orientation: orientation ?? 1 } : null;
    }
    pos += 2 + length;
  }
  return null;
}

function isExif(buf: Uint8Array, at: number, length: number): boolean {
  return length >= 14 && buf[at] === 0x45 && buf[at + 1] === 0x78 && buf[at + 2] === 0x69 && buf[at + 3] === 0x66 && buf[at + 4] === 0 && buf[at + 5] === 0;
}

/** Tag 0x0112 of IFD0 in the TIFF structure at [start, end): 1..8, 1 when absent, -1 when the structure is odd. */
function exifOrientation(view: DataView, start: number, end: number): number {
  const order = view.getUint16(start);
  if (order !== 0x4949 && order !== 0x4d4d) return -1;
  const le = order === 0x4949;
  if (view.getUint16(start + 2, le) !== 42) return -1;
  const ifd = start + view.getUint32(start + 4, le);
  if (ifd + 2 > end) return -1;
  const count = view.getUint16(ifd, le);
  if (ifd + 2 + count * 12 > end) return -1;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (view.getUint16(entry, le) !== 0x0112) continue;
    const type = view.getUint16(entry + 2, le);
    if (type !== 3 || view.getUint32(entry + 4, le) !== 1) return -1;
    const value = view.getUint16(entry + 8, le);
    return value >= 1 && value <= 8 ? value : -1;
  }
  return 1;
}

/**
 * A JPEG with junk bytes between its header segments (libjpeg's harmless "extraneous bytes before marker"),
 * returned without them; null when the segments before the first scan are contiguous or the file is not a JPEG.
 * It lets the import tell that case from damaged pixel data by decoding again, instead of reading libvips'
 * warning text, which is shared by every thread and may belong to another file.
 */
export function stripExtraneousBytes(buf: Buffer): Buffer | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  const kept: Buffer[] = [buf.subarray(0, 2)];
  let i = 2;
  let stripped = false;
  while (i < buf.length - 1) {
    if (buf[i] !== 0xff) {
      // stray bytes: skip to the next 0xFF that starts a marker
      let j = i;
      while (j < buf.length - 1 && !(buf[j] === 0xff && buf[j + 1] !== 0x00 && buf[j + 1] !== 0xff)) j++;
      if (j >= buf.length - 1) return null;
      stripped = true;
      i = j;
      continue;
    }
    const marker = buf[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xda) {
      // start of scan: the rest (entropy-coded data and later segments) is kept as it is
      kept.push(buf.subarray(i));
      return stripped ? Buffer.concat(kept) : null;
    }
    if (marker === 0xd9 || i + 4 > buf.length) return null;
    const length = buf.readUInt16BE(i + 2);
    if (length < 2 || i + 2 + length > buf.length) return null;
    kept.push(buf.subarray(i, i + 2 + length));
    i += 2 + length;
  }
  return null;
}
