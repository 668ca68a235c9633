import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/**
 * One tiled GEMM shader, C[b] = A[b] · B[b] with A: M×K and B: K×N, that every Curio WebGPU kernel is an instance
 * of: a plain (batched) matmul reads A and B from memory; Conv2D and its two gradients are implicit GEMMs whose
 * operand readers compute the im2col element on the fly from NHWC indices, so no im2col buffer is ever written.
 *
 * Each workgroup of WG_X×WG_Y threads owns a TILE_M×TILE_N block of C (each thread REG_M×REG_N outputs, strided by
 * the workgroup size so neighbouring threads touch neighbouring columns). Per step of TILE_K along K the
 * workgroup stages an A tile and a B tile in workgroup memory, then every thread accumulates its block from
 * registers. The operand readers return 0 outside the matrix, so ragged edges need no special cases.
 */
export interface GemmTile {
  /** threads per workgroup along N (x) and M (y) */
  wgX: number;
  wgY: number;
  /** outputs per thread along M and N */
  regM: number;
  regN: number;
  /** depth of one K step */
  tileK: number;
}

/** 16×16 threads × 4×4 outputs: a 64×64 tile; 8 KiB of workgroup memory. */
export const LARGE_TILE: GemmTile = { wgX: 16, wgY: 16, regM: 4, regN: 4, tileK: 16 };
/** 8×8 threads × 4×4 outputs: a 32×32 tile, for devices limited to fewer than 256 invocations per workgroup. */
export const SMALL_TILE: GemmTile = { wgX: 8, wgY: 8, regM: 4, regN: 4, tileK: 16 };

export function tileFor(limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupSizeX: number; maxComputeWorkgroupSizeY: number }): GemmTile {
  const t = LARGE_TILE;
  const fits = limits.maxComputeInvocationsPerWorkgroup >= t.wgX * t.wgY && limits.maxComputeWorkgroupSizeX >= t.wgX && limits.maxComputeWorkgroupSizeY >= t.wgY;
  return fits ? t : SMALL_TILE;
}

export interface GemmVariant {
  /** distinguishes compiled shaders: everything baked into the WGSL text must be in here */
  key: string;
  /** input buffer names, in binding order */
  inputs: string[];
  /** extra i32 uniforms (beyond dimM, dimN, dimK), in declaration order */
  uniforms: string[];
  /** WGSL bodies of `fn curioReadA(batch: i32, row: i32, col: i32) -> f32` and the same for B */
  readA: string;
  readB: string;
}

export class GemmProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y: number[]; z: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number];

  /**
   * With `splits` > 1 (split-K, for a small M×N over a long K such as a filter gradient) workgroup z is the slice of
   * K, `kChunk` long, that a workgroup sums; the output is then [splits, M, N] partial sums (SplitSumProgram adds
   * them) and operands are read at batch 0.
   */
  constructor(
    batch: number,
    m: number,
    n: number,
    private readonly variant: GemmVariant,
    private readonly tile: GemmTile,
    private readonly splits = 1,
  ) {
    if (splits > 1 && batch !== 1) throw new Error('split-K GEMM takes one batch');
    this.outputShape = [Math.max(batch, splits), m, n];
    this.dispatchLayout = { x: [2], y: [1], z: [0] };
    this.workgroupSize = [tile.wgX, tile.wgY, 1];
    this.dispatch = [Math.ceil(n / (tile.wgX * tile.regN)), Math.ceil(m / (tile.wgY * tile.regM)), Math.max(batch, splits)];
    this.variableNames = variant.inputs;
    this.uniforms = ['dimM : i32,', 'dimN : i32,', 'dimK : i32,', 'kChunk : i32,', ...variant.uniforms.map((u) => `${u} : i32,`)].join(' ');
    this.shaderKey = `curioGemm_${variant.key}_${tile.wgX}x${tile.wgY}_${tile.regM}x${tile.regN}_${tile.tileK}${splits > 1 ? '_splitK' : ''}`;
  }

  getUserCode(): string {
    const { wgX, wgY, regM, regN, tileK } = this.tile;
    const tileM = wgY * regM;
    const tileN = wgX * regN;
    const threads = wgX * wgY;
    // The register block, the tile loads and the output writes are unrolled here rather than left as loops over
    // arrays: a compiler that does not unroll them (llvmpipe's, for one) keeps such arrays in memory.
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    const accs = range(regM).flatMap((i) => range(regN).map((j) => `acc${i}_${j}`));
    const loadA = range((tileM * tileK) / threads).map(
      (l) => `{ let e = tid + ${l * threads}; curioTileA[e / ${tileK}][e % ${tileK}] = curioReadA(batch, rowBase + e / ${tileK}, kBase + e % ${tileK}); }`,
    );
    const loadB = range((tileK * tileN) / threads).map(
      (l) => `{ let e = tid + ${l * threads}; curioTileB[e / ${tileN}][e % ${tileN}] = curioReadB(batch, kBase + e / ${tileN}, colBase + e % ${tileN}); }`,
    );
    const inner = [
      ...range(regN).map((j) => `let b${j} = curioTileB[k][tx + ${j * wgX}];`),
      ...range(regM).flatMap((i) => [
        `let a${i} = curioTileA[ty + ${i * wgY}][k];`,
        ...range(regN).map((j) => `acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`),
      ]),
    ];
    const writes = range(regM).flatMap((i) =>
      range(regN).map(
        (j) => `if (rowBase + ty + ${i * wgY} < uniforms.dimM && colBase + tx + ${j * wgX} < uniforms.dimN) {
          result[outBase + (rowBase + ty + ${i * wgY}) * uniforms.dimN + colBase + tx + ${j * wgX}] = acc${i}_${j};
        }`,
      ),
    );
    return `
      var<workgroup> curioTileA : array<array<f32, ${tileK}>, ${tileM}>;
      var<workgroup> curioTileB : array<array<f32, ${tileN}>, ${tileK}>;

      fn curioReadA(batch : i32, row : i32, col : i32) -> f32 {
        ${this.variant.readA}
      }
      fn curioReadB(batch : i32, row : i32, col : i32) -> f32 {
        ${this.variant.readB}
      }

      fn main() {
        ${this.splits > 1 ? 'let batch = 0;\n        let slice = i32(workgroupId.z);' : 'let batch = i32(workgroupId.z);'}
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let tid = ty * ${wgX} + tx;
        let rowBase = i32(workgroupId.y) * ${tileM};
        let colBase = i32(workgroupId.x) * ${tileN};
        ${accs.map((a) => `var ${a} = 0.0;`).join('\n        ')}
        // The loop bound comes from uniforms only, so the barriers inside stay in uniform control flow. Slices are
        // whole multiples of TILE_K and only the last one runs past K, where the readers return 0.
        let kStart = ${this.splits > 1 ? 'slice * uniforms.kChunk' : '0'};
        for (var t = 0; t < uniforms.kChunk; t += ${tileK}) {
          let kBase = kStart + t;
          ${loadA.join('\n          ')}
          ${loadB.join('\n          ')}
          workgroupBarrier();
          for (var k = 0; k < ${tileK}; k++) {
            ${inner.join('\n            ')}
          }
          workgroupBarrier();
        }
        let outBase = ${this.splits > 1 ? 'slice' : 'batch'} * uniforms.dimM * uniforms.dimN;
        ${writes.join('\n        ')}
      }
    `;
  }
}

/**
 * How many K slices a GEMM should be split into: only when its M×N tiles alone cannot fill the device (fewer than
 * 64 workgroups) and K is long; each slice keeps ≥ 1024 of K, and the partial sums stay ≤ 16M floats.
 */
export function splitKFor(m: number, n: number, k: number, tile: GemmTile): { splits: number; kChunk: number } {
  const tiles = Math.ceil(m / (tile.wgY * tile.regM)) * Math.ceil(n / (tile.wgX * tile.regN));
  if (tiles >= 64 || k < 4096) return { splits: 1, kChunk: k };
  const wanted = Math.min(Math.floor(k / 1024), Math.ceil(256 / tiles), Math.floor((16 * 1024 * 1024) / (m * n)), 64);
  if (wanted < 2) return { splits: 1, kChunk: k };
  const kChunk = Math.ceil(k / wanted / tile.tileK) * tile.tileK;
  return { splits: Math.ceil(k / kChunk), kChunk };
}

/** Adds the [splits, M·N] partial sums of a split-K GEMM into one M·N result. */
export class SplitSumProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey = 'curioSplitSum';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['partial'];
  uniforms = 'splits : i32,';
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(size: number) {
    this.outputShape = [size];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(size / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var sum = 0.0;
          for (var s = 0; s < uniforms.splits; s++) {
            sum += partial[s * uniforms.size + index];
          }
          result[index] = sum;
        }
      }
    `;
  }
}

/** (Batched) matmul operands: A is [batchA, M, K] ([batchA, K, M] transposed), B is [batchB, K, N] ([batchB, N, K]). */
export function matmulVariant(transposeA: boolean, transposeB: boolean): GemmVariant {
  const aIndex = transposeA ? 'col * uniforms.dimM + row' : 'row * uniforms.dimK + col';
  const bIndex = transposeB ? 'col * uniforms.dimK + row' : 'row * uniforms.dimN + col';
  return {
    key: `matmul_${transposeA ? 'T' : 'N'}${transposeB ? 'T' : 'N'}`,
    inputs: ['A', 'B'],
    uniforms: ['batchA', 'batchB'],
    readA: `
        if (row >= uniforms.dimM || col >= uniforms.dimK) { return 0.0; }
        let b = select(batch, 0, uniforms.batchA == 1);
        return A[b * uniforms.dimM * uniforms.dimK + ${aIndex}];`,
    readB: `
        if (row >= uniforms.dimK || col >= uniforms.dimN) { return 0.0; }
        let b = select(batch, 0, uniforms.batchB == 1);
        return B[b * uniforms.dimK * uniforms.dimN + ${bIndex}];`,
  };
}

/** The geometry every conv variant shares, as uniforms (so one compiled shader serves every conv shape). */
export const CONV_UNIFORMS = ['batchN', 'inH', 'inW', 'inC', 'outH', 'outW', 'outC', 'filterH', 'filterW', 'strideH', 'strideW', 'padTop', 'padLeft', 'dilationH', 'dilationW'];

/**
 * Conv2D forward, NHWC: M = N·outH·outW (one row per output pixel), N = outC, K = filterH·filterW·inC.
 * A(m, k) = x[n, ho·sh − padTop + kh·dh, wo·sw − padLeft + kw·dw, ci] (0 in the padding); B = the filter as K×outC.
 */
export const CONV2D_FORWARD: GemmVariant = {
  key: 'conv2d',
  inputs: ['x', 'W'],
  uniforms: CONV_UNIFORMS,
  readA: `
        if (row >= uniforms.dimM || col >= uniforms.dimK) { return 0.0; }
        let wo = row % uniforms.outW;
        let t = row / uniforms.outW;
        let ho = t % uniforms.outH;
        let n = t / uniforms.outH;
        let ci = col % uniforms.inC;
        let f = col / uniforms.inC;
        let kw = f % uniforms.filterW;
        let kh = f / uniforms.filterW;
        let h = ho * uniforms.strideH - uniforms.padTop + kh * uniforms.dilationH;
        let w = wo * uniforms.strideW - uniforms.padLeft + kw * uniforms.dilationW;
        if (h < 0 || h >= uniforms.inH || w < 0 || w >= uniforms.inW) { return 0.0; }
        return x[((n * uniforms.inH + h) * uniforms.inW + w) * uniforms.inC + ci];`,
  readB: `
        if (row >= uniforms.dimK || col >= uniforms.dimN) { return 0.0; }
        return W[row * uniforms.dimN + col];`,
};

/**
 * Conv2DBackpropInput (the transposed conv), NHWC: M = N·inH·inW (one row per input pixel), N = inC,
 * K = filterH·filterW·outC. A(m, k) = dy[n, (h + padTop − kh·dh)/sh, (w + padLeft − kw·dw)/sw, co] where the
 * division is exact and in range, else 0; B(k, ci) = W[kh, kw, ci, co].
 */
export const CONV2D_BACKPROP_INPUT: GemmVariant = {
  key: 'conv2dDx',
  inputs: ['dy', 'W'],
  uniforms: CONV_UNIFORMS,
  readA: `
        if (row >= uniforms.dimM || col >= uniforms.dimK) { return 0.0; }
        let w = row % uniforms.inW;
        let t = row / uniforms.inW;
        let h = t % uniforms.inH;
        let n = t / uniforms.inH;
        let co = col % uniforms.outC;
        let f = col / uniforms.outC;
        let kw = f % uniforms.filterW;
        let kh = f / uniforms.filterW;
        let hs = h + uniforms.padTop - kh * uniforms.dilationH;
        let ws = w + uniforms.padLeft - kw * uniforms.dilationW;
        if (hs < 0 || ws < 0 || hs % uniforms.strideH != 0 || ws % uniforms.strideW != 0) { return 0.0; }
        let ho = hs / uniforms.strideH;
        let wo = ws / uniforms.strideW;
        if (ho >= uniforms.outH || wo >= uniforms.outW) { return 0.0; }
        return dy[((n * uniforms.outH + ho) * uniforms.outW + wo) * uniforms.outC + co];`,
  readB: `
        if (row >= uniforms.dimK || col >= uniforms.dimN) { return 0.0; }
        let co = row % uniforms.outC;
        let f = row / uniforms.outC;
        return W[(f * uniforms.inC + col) * uniforms.outC + co];`,
};

/**
 * Conv2DBackpropFilter, NHWC: M = filterH·filterW·inC (one row per filter tap and input channel), N = outC,
 * K = N·outH·outW. A(m, k) = x[n, ho·sh − padTop + kh·dh, wo·sw − padLeft + kw·dw, ci]; B = dy as K×outC.
 */
export const CONV2D_BACKPROP_FILTER: GemmVariant = {
  key: 'conv2dDw',
  inputs: ['x', 'dy'],
  uniforms: CONV_UNIFORMS,
  readA: `
        if (row >= uniforms.dimM || col >= uniforms.dimK) { return 0.0; }
        let ci = row % uniforms.inC;
        let f = row / uniforms.inC;
        let kw = f % uniforms.filterW;
        let kh = f / uniforms.filterW;
        let wo = col % uniforms.outW;
        let t = col / uniforms.outW;
        let ho = t % uniforms.outH;
        let n = t / uniforms.outH;
        let h = ho * uniforms.strideH - uniforms.padTop + kh * uniforms.dilationH;
        let w = wo * uniforms.strideW - uniforms.padLeft + kw * uniforms.dilationW;
        if (h < 0 || h >= uniforms.inH || w < 0 || w >= uniforms.inW) { return 0.0; }
        return x[((n * uniforms.inH + h) * uniforms.inW + w) * uniforms.inC + ci];`,
  readB: `
        if (row >= uniforms.dimK || col >= uniforms.dimN) { return 0.0; }
        return dy[row * uniforms.dimN + col];`,
};
