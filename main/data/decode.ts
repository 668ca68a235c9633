import sharp from 'sharp';

/**
 * One image file as size×size 8-bit RGB: EXIF-rotated, resized to cover and centre-cropped, alpha dropped, sRGB.
 * The training cache, the DataLoader and the augmentation preview all decode through this one function, so the
 * pixels a preview shows are the pixels a run trains on. `failOn: 'none'` decodes what it can of a damaged file.
 */
export async function decodeRgb(file: string, size: number, failOn: 'none' | 'truncated' = 'none'): Promise<Uint8Array> {
  const { data, info } = await sharp(file, { failOn, pages: 1 })
    .rotate()
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const per = size * size * 3;
  if (info.channels !== 3 || data.length !== per) throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  return data;
}
