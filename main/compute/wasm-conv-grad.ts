import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-backend-wasm 4.22 ships Conv2D and Conv2DBackpropInput but not Conv2DBackpropFilter, so tf.grad of any
 * conv net throws on wasm. This computes the filter gradient as one im2col matMul through the wasm backend's own
 * kernels (StridedSlice, Concat, BatchMatMul on XNNPACK):
 *   dW[kh, kw, ci, co] = Σ_{n, ho, wo} xPad[n, ho·s + kh, wo·s + kw, ci] · dy[n, ho, wo, co]
 * The batch is processed in chunks so the im2col buffer stays under COLS_BUDGET floats.
 */
const COLS_BUDGET = 32 * 1024 * 1024;

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilterIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: BackpropFilterAttrs,
  colsBudget = COLS_BUDGET,
): tf.Tensor4D {
  return tf.tidy(() => {
    let xs = x;
    let dys = dy;
    let pad = attrs.pad;
    if (attrs.dataFormat === 'NCHW') {
      xs = tf.transpose(x, [0, 2, 3, 1]);
      dys = tf.transpose(dy, [0, 2, 3, 1]);
      // Explicit paddings are given in the tensor's own layout.
      if (Array.isArray(pad)) pad = [[0, 0], pad[2]!, pad[3]!, [0, 0]];
    }
    const [kh, kw, cin, cout] = attrs.filterShape;
    const info = tf.backend_util.computeConv2DInfo(
      xs.shape,
      attrs.filterShape,
      attrs.strides,
      1,
      pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
    const { top, left } = info.padInfo;
    const [n, h, w] = xs.shape;
    // Only the rows/columns a tap actually reads are needed; zero-pad the rest.
    const needH = (kh - 1) + (ho - 1) * sh + 1;
    const needW = (kw - 1) + (wo - 1) * sw + 1;
    const padBottom = Math.max(0, needH - top - h);
    const padRight = Math.max(0, needW - left - w);
    const cropH = Math.min(h, needH - top);
    const cropW = Math.min(w, needW - left);
    let xp: tf.Tensor4D = xs;
    if (cropH < h || cropW < w) xp = tf.slice(xp, [0, 0, 0, 0], [n, cropH, cropW, cin]);
    if (top || left || padBottom || padRight) {
      xp = tf.pad(xp, [[0, 0], [top, padBottom], [left, padRight], [0, 0]]);
    }
    const k = kh * kw * cin;
    const perImage = ho * wo * k;
    const chunk = Math.max(1, Math.min(n, Math.floor(colsBudget / Math.max(1, perImage))));
    let acc: tf.Tensor2D | null = null;
    for (let b = 0; b < n; b += chunk) {
      const nb = Math.min(chunk, n - b);
      const part = tf.tidy((): tf.Tensor2D => {
        const xb = nb === n ? xp : tf.slice(xp, [b, 0, 0, 0], [nb, -1, -1, -1]);
        const dyb = nb === n ? dys : tf.slice(dys, [b, 0, 0, 0], [nb, -1, -1, -1]);
        const taps: tf.Tensor4D[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            taps.push(
              tf.stridedSlice(
                xb,
                [0, i, j, 0],
                [nb, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, cin],
                [1, sh, sw, 1],
              ) as tf.Tensor4D,
            );
          }
        }
        const cols = taps.length === 1 ? taps[0]! : tf.concat(taps, 3);
        return tf.matMul(cols.reshape([nb * ho * wo, k]), dyb.reshape([nb * ho * wo, cout]), true, false) as tf.Tensor2D;
      });
      if (acc === null) acc = part;
      else {
        const next = tf.add(acc, part) as tf.Tensor2D;
        acc.dispose();
        part.dispose();
        acc = next;
      }
    }
    return acc!.reshape([kh, kw, cin, cout]);
  });
}

/** Kernel inputs are usually Tensors already; a bare TensorInfo gets a temporary Tensor view of the same data. */
function asTensor(info: tf.TensorInfo): tf.Tensor {
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

let registered = false;

/** Registers the missing kernel for backend 'wasm' once per process. */
export function registerWasmConv2DBackpropFilter(): void {
  if (registered || tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    registered = true;
    return;
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const x = asTensor(inputs['x']!) as tf.Tensor4D;
      const dy = asTensor(inputs['dy']!) as tf.Tensor4D;
      try {
        return conv2dBackpropFilterIm2col(x, dy, attrs as unknown as BackpropFilterAttrs);
      } finally {
        if (x !== inputs['x']) x.dispose();
        if (dy !== inputs['dy']) dy.dispose();
      }
    },
  });
  registered = true;
}
