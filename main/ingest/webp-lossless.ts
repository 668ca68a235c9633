/**
 * A lossless WebP (VP8L) writer for tiny thumbnails, without compression: every pixel is three 8-bit literal
 * codes. A 32×32 thumbnail becomes ~3 kB written in microseconds, where asking libvips for a WebP costs a whole
 * native round trip (~1 ms of CPU, most of it per-call overhead). Larger thumbnails go through sharp, whose lossy
 * WebP is far smaller. Format: https://developers.google.com/speed/webp/docs/webp_lossless_bitstream_specification
 */
export function encodeWebpLossless(pixels: Uint8Array, width: number, height: number, channels: number): Buffer {
  if (width < 1 || height < 1 || width > 16384 || height > 16384) throw new Error(`VP8L cannot hold ${width}×${height}`);
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new Error(`VP8L writer takes 1, 3 or 4 channels, not ${channels}`);
  if (pixels.length < width * height * channels) throw new Error(`${pixels.length} bytes for ${width}×${height}×${channels}`);
  const bits = new BitWriter(64 + width * height * 3);
  bits.write(0x2f, 8); // VP8L signature
  bits.write(width - 1, 14);
  bits.write(height - 1, 14);
  bits.write(0, 1); // alpha_is_used: no
  bits.write(0, 3); // version 0
  bits.write(0, 1); // no transforms
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // one prefix-code group for the whole image
  writeAllLength8Code(bits, 256); // green: its 256 literals (lengths 0 for the 24 backward-reference symbols)
  writeAllLength8Code(bits, null); // red
  writeAllLength8Code(bits, null); // blue
  writeSingleSymbolCode(bits, 255); // alpha: always opaque, zero bits per pixel
  writeSingleSymbolCode(bits, 0); // distance: never used
  const n = width * height;
  for (let p = 0, i = 0; p < n; p++, i += channels) {
    const r = pixels[i]!;
    const g = channels === 1 ? r : pixels[i + 1]!;
    const b = channels === 1 ? r : pixels[i + 2]!;
    bits.write(REVERSED[g]! | (REVERSED[r]! << 8) | (REVERSED[b]! << 16), 24);
  }
  const data = bits.finish();
  const padded = data.length + (data.length & 1);
  const out = Buffer.alloc(20 + padded);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(12 + padded, 4);
  out.write('WEBPVP8L', 8, 'ascii');
  out.writeUInt32LE(data.length, 16);
  out.set(data, 20);
  return out;
}

/** Code lengths, in the order the format stores the code-length code's own lengths. */
const CODE_LENGTH_ORDER = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * A prefix code giving 8 bits to each of the first 256 symbols (the canonical code then maps symbol s to code s).
 * Its code lengths are written with a code-length code holding only the length 8, which costs zero bits each;
 * `count` limits how many lengths are read (the rest are 0), or null for all of the alphabet.
 */
function writeAllLength8Code(bits: BitWriter, count: number | null): void {
  bits.write(0, 1); // normal (not simple) code
  const slot = CODE_LENGTH_ORDER.indexOf(8);
  bits.write(slot + 1 - 4, 4); // number of code-length-code lengths that follow
  for (let i = 0; i <= slot; i++) bits.write(i === slot ? 1 : 0, 3);
  if (count === null) {
    bits.write(0, 1);
  } else {
    bits.write(1, 1); // max_symbol follows: 2 + 8-bit value
    bits.write(3, 3); // length_nbits = 2 + 2 * 3 = 8
    bits.write(count - 2, 8);
  }
}

function writeSingleSymbolCode(bits: BitWriter, symbol: number): void {
  bits.write(1, 1); // simple code
  bits.write(0, 1); // one symbol
  bits.write(1, 1); // written in 8 bits
  bits.write(symbol, 8);
}

/** Prefix codes are read most significant bit first out of an LSB-first stream: write them bit-reversed. */
const REVERSED = Uint8Array.from({ length: 256 }, (_, v) => {
  let r = 0;
  for (let i = 0; i < 8; i++) r |= ((v >> i) & 1) << (7 - i);
  return r;
});

class BitWriter {
  private buf: Uint8Array;
  private pos = 0;
  private acc = 0;
  private n = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  /** Appends the low `count` (≤ 24) bits of `value`, least significant first. */
  write(value: number, count: number): void {
    this.acc |= (value & ((1 << count) - 1)) << this.n;
    this.n += count;
    while (this.n >= 8) {
      if (this.pos === this.buf.length) this.grow();
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc >>>= 8;
      this.n -= 8;
    }
  }

  finish(): Uint8Array {
    if (this.n > 0) {
      if (this.pos === this.buf.length) this.grow();
      this.buf[this.pos++] = this.acc & 0xff;
      this.acc = 0;
      this.n = 0;
    }
    return this.buf.subarray(0, this.pos);
  }

  private grow(): void {
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf);
    this.buf = next;
  }
}
