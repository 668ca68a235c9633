/**
 * NHWC floats in [0, 1] → 8-bit RGB (or RGBA with opaque alpha): round(clamp(v) · 255), the rounding a PNG of
 * the view has. floor(v · 255 + 0.5) with the clamps written out is that same value (NaN gives 0, as a Uint8Array
 * store of NaN does), several times faster than Math.round(Math.min(1, Math.max(0, v)) · 255) per value.
 */
export function toBytes(data: Float32Array, offset: number, count: number, channelsOut: 3 | 4): Uint8Array {
  const pixels = count / 3;
  const out = new Uint8Array(pixels * channelsOut);
  for (let p = 0, i = offset, o = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++, i++, o++) {
      const x = data[i]! * 255 + 0.5;
      out[o] = x >= 255 ? 255 : x >= 0.5 ? x : 0;
    }
    if (channelsOut === 4) out[o++] = 255;
  }
  return out;
}

/** 8-bit RGB → RGBA with opaque alpha. */
export function rgbToRgba(rgb: Uint8Array, offset: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 4);
  for (let p = 0, i = offset, o = 0; p < pixels; p++) {
    out[o++] = rgb[i++]!;
    out[o++] = rgb[i++]!;
    out[o++] = rgb[i++]!;
    out[o++] = 255;
  }
  return out;
}
