/**
 * A decoder for the JPEGs that decodeForEncoder sees most (CIFAR and other small thumbnails already at the encoder's
 * size), in plain JS, giving the same bytes as sharp (libvips on libjpeg-turbo) for the files it accepts: baseline
 * Huffman, 8-bit, three components as YCbCr, 4:2:0 or 4:4:4, a size that is a whole number of MCUs, one interleaved
 * scan, no restart intervals. It follows libjpeg's arithmetic step for step: the "islow" integer IDCT
 * (Loeffler–Ligtenberg–Moschytz, 13-bit constants, 2 extra bits in the first pass), h2v2 "fancy" (triangular)
 * chroma upsampling with the first and last rows and columns replicated, and the fixed-point YCbCr → RGB tables.
 *
 * Why: for a 32×32 JPEG libvips' fixed cost per image (pipeline setup, GObject properties) is ~0.7 ms of CPU even
 * when many are joined into one call, 25–30× the cost of the decode itself (bench/onnx 'stages'). Anything outside
 * that subset, or anything odd in the data (a bad Huffman code, a scan that runs past its data), returns false and the caller decodes the file through sharp as before. test/main/evaluate/decode.test.ts
 * holds the two to the same bytes on real CIFAR JPEGs and on encodings of many qualities.
 */

const NATURAL_ORDER = Int32Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
  30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** Thrown inside the decoder for anything it does not take; decodeBaselineJpeg turns it into `false`. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported();

interface HuffTable {
  /** 9-bit lookahead: (code length << 8) | symbol, 0 when the code is longer */
  lookup: Uint16Array;
  maxcode: Int32Array;
  valoffset: Int32Array;
  symbols: Uint8Array;
}

const LOOKAHEAD = 9;

function buildHuff(counts: Uint8Array, symbols: Uint8Array, isDC: boolean): HuffTable {
  const lookup = new Uint16Array(1 << LOOKAHEAD);
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    valoffset[len] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (isDC && symbols[k]! > 15) throw UNSUPPORTED;
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        const base = code << shift;
        for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | symbols[k]!;
      }
    }
    if (n > 0) maxcode[len] = code - 1;
    // as libjpeg: a table whose codes overflow their length (or use the all-ones code) is malformed
    if (code >= 1 << len) throw UNSUPPORTED;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { lookup, maxcode, valoffset, symbols };
}

// YCbCr → RGB as libjpeg's build_ycc_rgb_table: 16-bit fixed point, rounded
const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const FIX = (x: number) => Math.floor(x * (1 << SCALEBITS) + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX(1.402) * x + ONE_HALF) >> SCALEBITS;
  CB_B[i] = (FIX(1.772) * x + ONE_HALF) >> SCALEBITS;
  CR_G[i] = -FIX(0.71414) * x;
  CB_G[i] = -FIX(0.34414) * x + ONE_HALF;
}

/** v / 255 as float32 for a clamped sample: index v + 256, so that -256…511 need no branch */
const UNIT_CLAMPED = Float32Array.from({ length: 768 }, (_, i) => Math.min(255, Math.max(0, i - 256)) / 255);

// islow IDCT constants: FIX(x) with CONST_BITS = 13
const CONST_BITS = 13;
const PASS1_BITS = 2;
const F_0_298631336 = 2446;
const F_0_390180644 = 3196;
const F_0_541196100 = 4433;
const F_0_765366865 = 6270;
const F_0_899976223 = 7373;
const F_1_175875602 = 9633;
const F_1_501321110 = 12299;
const F_1_847759065 = 15137;
const F_1_961570560 = 16069;
const F_2_053119869 = 16819;
const F_2_562915447 = 20995;
const F_3_072711026 = 25172;

const workspace = new Int32Array(64);

/** libjpeg's jpeg_idct_islow of dequantized coefficients (natural order) into `out` at `o`, row stride `stride`, clamped to 0…255. */
function idctIslow(c: Int32Array, out: Uint8Array, o: number, stride: number): void {
  const ws = workspace;
  // pass 1: columns, results scaled up by 2^PASS1_BITS
  for (let col = 0; col < 8; col++) {
    if (c[8 + col] === 0 && c[16 + col] === 0 && c[24 + col] === 0 && c[32 + col] === 0 && c[40 + col] === 0 && c[48 + col] === 0 && c[56 + col] === 0) {
      const dc = c[col]! << PASS1_BITS;
      for (let r = 0; r < 64; r += 8) ws[r + col] = dc;
      continue;
    }
    let z2 = c[16 + col]!;
    let z3 = c[48 + col]!;
    let z1 = (z2 + z3) * F_0_541196100;
    let tmp2 = z1 - z3 * F_1_847759065;
    let tmp3 = z1 + z2 * F_0_765366865;
    z2 = c[col]!;
    z3 = c[32 + col]!;
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = c[56 + col]!;
    tmp1 = c[40 + col]!;
    tmp2 = c[24 + col]!;
    tmp3 = c[8 + col]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F_1_175875602;
    tmp0 *= F_0_298631336;
    tmp1 *= F_2_053119869;
    tmp2 *= F_3_072711026;
    tmp3 *= F_1_501321110;
    z1 *= -F_0_899976223;
    z2 *= -F_2_562915447;
    z3 = z3 * -F_1_961570560 + z5;
    z4 = z4 * -F_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const R1 = 1 << (CONST_BITS - PASS1_BITS - 1);
    const S1 = CONST_BITS - PASS1_BITS;
    ws[col] = (tmp10 + tmp3 + R1) >> S1;
    ws[56 + col] = (tmp10 - tmp3 + R1) >> S1;
    ws[8 + col] = (tmp11 + tmp2 + R1) >> S1;
    ws[48 + col] = (tmp11 - tmp2 + R1) >> S1;
    ws[16 + col] = (tmp12 + tmp1 + R1) >> S1;
    ws[40 + col] = (tmp12 - tmp1 + R1) >> S1;
    ws[24 + col] = (tmp13 + tmp0 + R1) >> S1;
    ws[32 + col] = (tmp13 - tmp0 + R1) >> S1;
  }
  // pass 2: rows, descaled by 2^(CONST_BITS + PASS1_BITS + 3), plus the range centre, clamped
  const S2 = CONST_BITS + PASS1_BITS + 3;
  const R2 = 1 << (S2 - 1);
  for (let r = 0; r < 64; r += 8, o += stride) {
    if (ws[r + 1] === 0 && ws[r + 2] === 0 && ws[r + 3] === 0 && ws[r + 4] === 0 && ws[r + 5] === 0 && ws[r + 6] === 0 && ws[r + 7] === 0) {
      const v = clamp(((ws[r]! + (1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3)) + 128);
      for (let x = 0; x < 8; x++) out[o + x] = v;
      continue;
    }
    let z2 = ws[r + 2]!;
    let z3 = ws[r + 6]!;
    let z1 = (z2 + z3) * F_0_541196100;
    let tmp2 = z1 - z3 * F_1_847759065;
    let tmp3 = z1 + z2 * F_0_765366865;
    z2 = ws[r]!;
    z3 = ws[r + 4]!;
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[r + 7]!;
    tmp1 = ws[r + 5]!;
    tmp2 = ws[r + 3]!;
    tmp3 = ws[r + 1]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F_1_175875602;
    tmp0 *= F_0_298631336;
    tmp1 *= F_2_053119869;
    tmp2 *= F_3_072711026;
    tmp3 *= F_1_501321110;
    z1 *= -F_0_899976223;
    z2 *= -F_2_562915447;
    z3 = z3 * -F_1_961570560 + z5;
    z4 = z4 * -F_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = clamp(((tmp10 + tmp3 + R2) >> S2) + 128);
    out[o + 7] = clamp(((tmp10 - tmp3 + R2) >> S2) + 128);
    out[o + 1] = clamp(((tmp11 + tmp2 + R2) >> S2) + 128);
    out[o + 6] = clamp(((tmp11 - tmp2 + R2) >> S2) + 128);
    out[o + 2] = clamp(((tmp12 + tmp1 + R2) >> S2) + 128);
    out[o + 5] = clamp(((tmp12 - tmp1 + R2) >> S2) + 128);
    out[o + 3] = clamp(((tmp13 + tmp0 + R2) >> S2) + 128);
    out[o + 4] = clamp(((tmp13 - tmp0 + R2) >> S2) + 128);
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** decoded samples, width × height of whole blocks */
  plane: Uint8Array;
  width: number;
  dc: HuffTable | null;
  ac: HuffTable | null;
  pred: number;
}

const coef = new Int32Array(64);
const QUANT_SCRATCH = Array.from({ length: 8 }, () => new Int32Array(64));

/** Planes reused from call to call (the decoder is synchronous): three components, two upsampled chroma planes. */
const planes: Uint8Array[] = [];
function scratch(k: number, length: number): Uint8Array {
  if (planes[k]?.length !== length) planes[k] = new Uint8Array(length);
  return planes[k]!;
}

/** The entropy-coded data as a bit stream: stuffed zero bytes dropped, zeros fed in from a marker on (as libjpeg does). */
class BitReader {
  private b: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private acc = 0;
  private nbits = 0;
  /** zero bits fed in past a marker, at the bottom of the buffer; consuming any means the data ran out */
  private fake = 0;

  reset(b: Uint8Array, pos: number): this {
    this.b = b;
    this.pos = pos;
    this.acc = 0;
    this.nbits = 0;
    this.fake = 0;
    return this;
  }

  ranOut(): boolean {
    return this.nbits < this.fake;
  }

  private fill(): void {
    const b = this.b;
    while (this.nbits <= 24) {
      let byte = 0;
      if (this.fake === 0 && this.pos < b.length) {
        byte = b[this.pos]!;
        if (byte === 0xff) {
          if (b[this.pos + 1] === 0) this.pos += 2;
          else {
            byte = 0;
            this.fake += 8;
          }
        } else this.pos++;
      } else this.fake += 8;
      this.acc = (this.acc << 8) | byte;
      this.nbits += 8;
    }
  }

  decode(t: HuffTable): number {
    if (this.nbits < 16) this.fill();
    const e = t.lookup[(this.acc >>> (this.nbits - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)]!;
    if (e !== 0) {
      this.nbits -= e >> 8;
      return e & 0xff;
    }
    for (let len = LOOKAHEAD + 1; len <= 16; len++) {
      const code = (this.acc >>> (this.nbits - len)) & ((1 << len) - 1);
      if (code <= t.maxcode[len]!) {
        this.nbits -= len;
        return t.symbols[t.valoffset[len]! + code]!;
      }
    }
    throw UNSUPPORTED;
  }

  receiveExtend(s: number): number {
    if (this.nbits < 16) this.fill();
    this.nbits -= s;
    const v = (this.acc >>> this.nbits) & ((1 << s) - 1);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }
}
const reader = new BitReader();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Tables seen lately, by their bytes (class, counts, symbols): files from one encoder share them, and building one costs more than decoding a 32 px image's blocks. */
const huffCache: { key: Uint8Array; table: HuffTable }[] = [];
function cachedHuff(key: Uint8Array): HuffTable {
  for (const e of huffCache) if (sameBytes(e.key, key)) return e.table;
  const own = key.slice();
  const table = buildHuff(own.subarray(1, 17), own.subarray(17), own[0]! >> 4 === 0);
  huffCache.unshift({ key: own, table });
  if (huffCache.length > 16) huffCache.pop();
  return table;
}

/**
 * Decodes `b` into `out` at `offset` as size × size × 3 floats v / 255 (what decodeForEncoder returns), or returns
 * false, leaving `out` in an unspecified state there, when the file is outside the subset this decoder takes.
 */
export function decodeBaselineJpeg(b: Uint8Array, size: number, out: Float32Array, offset: number): boolean {
  try {
    return decode(b, size, out, offset);
  } catch (err) {
    if (err instanceof Unsupported || err instanceof RangeError) return false;
    throw err;
  }
}

function decode(b: Uint8Array, size: number, out: Float32Array, offset: number): boolean {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return false;
  const quant: (Int32Array | null)[] = [null, null, null, null];
  let quantUsed = 0;
  const dcTables: (HuffTable | null)[] = [null, null, null, null];
  const acTables: (HuffTable | null)[] = [null, null, null, null];
  let comps: Component[] | null = null;
  let jfif = false;
  let i = 2;
  for (;;) {
    if (i + 4 > b.length) return false;
    if (b[i] !== 0xff) return false;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    const d = i + 4;
    const end = i + 2 + length;
    if (length < 2 || end > b.length) return false;
    if (marker === 0xe0) {
      if (length >= 16 && b[d] === 0x4a && b[d + 1] === 0x46 && b[d + 2] === 0x49 && b[d + 3] === 0x46 && b[d + 4] === 0) jfif = true;
    } else if (marker === 0xee) {
      // an Adobe segment chooses the colour transform: not ours
      return false;
    } else if ((marker >= 0xe1 && marker <= 0xef) || marker === 0xfe) {
      // other APPn (EXIF and ICC were refused by isDecodedAsIs) and comments change nothing
    } else if (marker === 0xdb) {
      for (let p = d; p < end; ) {
        const pq = b[p]! >> 4;
        const tq = b[p]! & 15;
        if (pq !== 0 || tq > 3 || p + 65 > end) return false;
        // a table slot may be redefined: each definition gets its own scratch array
        if (quantUsed === QUANT_SCRATCH.length) return false;
        const q = QUANT_SCRATCH[quantUsed++]!;
        for (let k = 0; k < 64; k++) q[NATURAL_ORDER[k]!] = b[p + 1 + k]!;
        quant[tq] = q;
        p += 65;
      }
    } else if (marker === 0xc4) {
      for (let p = d; p < end; ) {
        const tc = b[p]! >> 4;
        const th = b[p]! & 15;
        if (tc > 1 || th > 3 || p + 17 > end) return false;
        const counts = b.subarray(p + 1, p + 17);
        let total = 0;
        for (let k = 0; k < 16; k++) total += counts[k]!;
        if (total > 256 || p + 17 + total > end) return false;
        const table = cachedHuff(b.subarray(p, p + 17 + total));
        (tc === 0 ? dcTables : acTables)[th] = table;
        p += 17 + total;
      }
    } else if (marker === 0xc0 || marker === 0xc1) {
      if (comps || b[d] !== 8 || length !== 17 || b[d + 5] !== 3) return false;
      const height = (b[d + 1]! << 8) | b[d + 2]!;
      const width = (b[d + 3]! << 8) | b[d + 4]!;
      if (width !== size || height !== size) return false;
      comps = [0, 1, 2].map((k) => {
        const p = d + 6 + 3 * k;
        return { id: b[p]!, h: b[p + 1]! >> 4, v: b[p + 1]! & 15, tq: b[p + 2]!, plane: new Uint8Array(0), width: 0, dc: null, ac: null, pred: 0 };
      });
    } else if (marker === 0xdd) {
      // restart intervals: no encoder here writes them, so this decoder never saw one; sharp takes these files
      if (length !== 4 || ((b[d]! << 8) | b[d + 1]!) !== 0) return false;
    } else if (marker === 0xda) {
      if (!comps) return false;
      if (!jfif && comps[0]!.id === 82 && comps[1]!.id === 71 && comps[2]!.id === 66) return false;
      const ns = b[d]!;
      if (ns !== 3 || length !== 6 + 2 * ns) return false;
      const order: Component[] = [];
      for (let k = 0; k < ns; k++) {
        const c = comps.find((x) => x.id === b[d + 1 + 2 * k]);
        if (!c || order.includes(c)) return false;
        c.dc = dcTables[b[d + 2 + 2 * k]! >> 4] ?? null;
        c.ac = acTables[b[d + 2 + 2 * k]! & 15] ?? null;
        if (!c.dc || !c.ac || c.tq > 3 || !quant[c.tq]) return false;
        order.push(c);
      }
      const p = d + 1 + 2 * ns;
      if (b[p] !== 0 || b[p + 1] !== 63 || b[p + 2] !== 0) return false;
      return decodeScan(b, end, comps, order, quant as Int32Array[], size, out, offset);
    } else {
      // progressive, lossless, arithmetic coding, DNL, EOI before a scan…
      return false;
    }
    i = end;
  }
}

function decodeScan(
  b: Uint8Array,
  start: number,
  comps: Component[],
  order: Component[],
  quant: Int32Array[],
  size: number,
  out: Float32Array,
  offset: number,
): boolean {
  const [y, cb, cr] = comps as [Component, Component, Component];
  const subsampled = y.h === 2 && y.v === 2;
  if (!(subsampled || (y.h === 1 && y.v === 1)) || cb.h !== 1 || cb.v !== 1 || cr.h !== 1 || cr.v !== 1) return false;
  const mcuSize = subsampled ? 16 : 8;
  if (size % mcuSize !== 0) return false;
  const mcus = size / mcuSize;
  comps.forEach((c, k) => {
    c.width = mcus * c.h * 8;
    c.plane = scratch(k, c.width * mcus * c.v * 8);
    c.pred = 0;
  });

  const bits = reader.reset(b, start);

  const totalMcus = mcus * mcus;
  for (let m = 0; m < totalMcus; m++) {
    const mx = m % mcus;
    const my = (m - mx) / mcus;
    for (const c of order) {
      const q = quant[c.tq]!;
      const dcT = c.dc!;
      const acT = c.ac!;
      for (let by = 0; by < c.v; by++) {
        for (let bx = 0; bx < c.h; bx++) {
          coef.fill(0);
          const t = bits.decode(dcT);
          c.pred += t === 0 ? 0 : bits.receiveExtend(t);
          // libjpeg keeps the predictor in an int and the coefficient in 16 bits
          coef[0] = ((c.pred << 16) >> 16) * q[0]!;
          for (let k = 1; k < 64; ) {
            const rs = bits.decode(acT);
            const s = rs & 15;
            const r = rs >> 4;
            if (s === 0) {
              if (r !== 15) break;
              k += 16;
              continue;
            }
            k += r;
            if (k > 63) throw UNSUPPORTED;
            const z = NATURAL_ORDER[k]!;
            coef[z] = bits.receiveExtend(s) * q[z]!;
            k++;
          }
          const row = (my * c.v + by) * 8;
          const col = (mx * c.h + bx) * 8;
          idctIslow(coef, c.plane, row * c.width + col, c.width);
        }
      }
    }
  }
  if (bits.ranOut()) throw UNSUPPORTED;

  const Y = y.plane;
  const per = size * size * 3;
  if (offset + per > out.length) throw new RangeError('output too small');
  if (!subsampled) {
    const Cb = cb.plane;
    const Cr = cr.plane;
    for (let p = 0, o = offset; p < size * size; p++, o += 3) writeRgb(Y[p]!, Cb[p]!, Cr[p]!, out, o);
    return true;
  }
  const Cb = upsampleH2V2(cb.plane, size / 2, scratch(3, size * size));
  const Cr = upsampleH2V2(cr.plane, size / 2, scratch(4, size * size));
  for (let p = 0, o = offset; p < size * size; p++, o += 3) writeRgb(Y[p]!, Cb[p]!, Cr[p]!, out, o);
  return true;
}

function writeRgb(yy: number, cbv: number, crv: number, out: Float32Array, o: number): void {
  out[o] = UNIT_CLAMPED[yy + CR_R[crv]! + 256]!;
  out[o + 1] = UNIT_CLAMPED[yy + ((CB_G[cbv]! + CR_G[crv]!) >> SCALEBITS) + 256]!;
  out[o + 2] = UNIT_CLAMPED[yy + CB_B[cbv]! + 256]!;
}

/**
 * libjpeg's h2v2_fancy_upsample of an n × n plane to 2n × 2n: each output sample is 9/16, 3/16, 3/16, 1/16 of its
 * four nearest input samples, the rows above the first and below the last being copies of them.
 */
function upsampleH2V2(src: Uint8Array, n: number, dst: Uint8Array): Uint8Array {
  const w = 2 * n;
  for (let r = 0; r < n; r++) {
    const near = r * n;
    for (let v = 0; v < 2; v++) {
      const far = (v === 0 ? Math.max(0, r - 1) : Math.min(n - 1, r + 1)) * n;
      let o = (2 * r + v) * w;
      let thiscol = src[near]! * 3 + src[far]!;
      if (n === 1) {
        dst[o] = (thiscol * 4 + 8) >> 4;
        dst[o + 1] = (thiscol * 4 + 7) >> 4;
        continue;
      }
      let nextcol = src[near + 1]! * 3 + src[far + 1]!;
      dst[o++] = (thiscol * 4 + 8) >> 4;
      dst[o++] = (thiscol * 3 + nextcol + 7) >> 4;
      let lastcol = thiscol;
      thiscol = nextcol;
      for (let x = 2; x < n; x++) {
        nextcol = src[near + x]! * 3 + src[far + x]!;
        dst[o++] = (thiscol * 3 + lastcol + 8) >> 4;
        dst[o++] = (thiscol * 3 + nextcol + 7) >> 4;
        lastcol = thiscol;
        thiscol = nextcol;
      }
      dst[o++] = (thiscol * 3 + lastcol + 8) >> 4;
      dst[o] = (thiscol * 4 + 7) >> 4;
    }
  }
  return dst;
}

/**
 * Whether the full pipeline would leave this file's decoded pixels untouched: a JPEG whose frame header says 8-bit,
 * 3 components, size × size, with no EXIF block (it may carry an orientation) and no ICC profile (sharp converts
 * through it). Reads only the marker segments before the scan data.
 */
export function isDecodedAsIs(b: Uint8Array, size: number): boolean {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return false;
  let frame: { precision: number; height: number; width: number; components: number } | null = null;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return false;
    const marker = b[i + 1]!;
    // fill bytes, and markers without a length
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2;
      continue;
    }
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    const d = i + 4;
    // start of scan: every header segment has been seen
    if (marker === 0xda) break;
    if (marker === 0xe1 && ascii(b, d, 6) === 'Exif\0\0') return false;
    if (marker === 0xe2 && ascii(b, d, 12) === 'ICC_PROFILE\0') return false;
    // SOF0–SOF15, less DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (d + 6 > b.length) return false;
      frame = { precision: b[d]!, height: (b[d + 1]! << 8) | b[d + 2]!, width: (b[d + 3]! << 8) | b[d + 4]!, components: b[d + 5]! };
    }
    i = d - 2 + length;
  }
  return frame !== null && frame.precision === 8 && frame.components === 3 && frame.width === size && frame.height === size;
}

function ascii(b: Uint8Array, start: number, n: number): string {
  return start + n > b.length ? '' : String.fromCharCode(...b.subarray(start, start + n));
}
