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
  /**
   * The A operand, read in three parts so that index arithmetic on a row (an output pixel, say) is done once per
   * thread rather than once per K step: `aRow(l)` declares values derived from the fixed row `aRow<l>`;
   * `aCol` declares values derived from the step's column `aCol`; `aValue(l)` assigns the element to `v`
   * (left 0 outside the matrix or in padding). `batch` is in scope.
   */
  aRow: (l: number) => string;
  aCol: string;
  aValue: (l: number) => string;
  /** WGSL body of `fn curioReadB(batch: i32, row: i32, col: i32) -> f32`, 0 outside the matrix */
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
    const threads = tile.wgX * tile.wgY;
    if (threads % tile.tileK !== 0 || (tile.wgY * tile.regM * tile.tileK) % threads !== 0 || (tile.tileK * tile.wgX * tile.regN) % threads !== 0) {
      throw new Error(`GEMM tile ${JSON.stringify(tile)}: the workgroup must load whole tiles, each thread one A column`);
    }
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
    // Every thread loads the same column of the A tile (threads is a multiple of TILE_K) at rows l·threads/TILE_K
    // apart, so each of its A rows is fixed for the whole K loop.
    const aLoads = range((tileM * tileK) / threads);
    const aRows = aLoads.map((l) => `let aRow${l} = rowBase + (tid + ${l * threads}) / ${tileK};\n        ${this.variant.aRow(l)}`);
    const loadA = aLoads.map((l) => `{ var v = 0.0; ${this.variant.aValue(l)} curioTileA[(tid + ${l * threads}) / ${tileK}][tid % ${tileK}] = v; }`);
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
        ${aRows.join('\n        ')}
        // The loop bound comes from uniforms only, so the barriers inside stay in uniform control flow. Slices are
        // whole multiples of TILE_K and only the last one runs past K, where the readers return 0.
        let kStart = ${this.splits > 1 ? 'slice * uniforms.kChunk' : '0'};
        for (var t = 0; t < uniforms.kChunk; t += ${tileK}) {
          let kBase = kStart + t;
          let aCol = kBase + tid % ${tileK};
          ${this.variant.aCol}
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
  const aIndex = (row: string) => (transposeA ? `aCol * uniforms.dimM + ${row}` : `${row} * uniforms.dimK + aCol`);
  const bIndex = transposeB ? 'col * uniforms.dimK + row' : 'row * uniforms.dimN + col';
  return {
    key: `matmul_${transposeA ? 'T' : 'N'}${transposeB ? 'T' : 'N'}`,
    inputs: ['A', 'B'],
    uniforms: ['batchA', 'batchB'],
    aRow: () => '',
    aCol: 'let aBatch = select(batch, 0, uniforms.batchA == 1) * uniforms.dimM * uniforms.dimK;',
    aValue: (l) => `if (aRow${l} < uniforms.dimM && aCol < uniforms.dimK) { v = A[aBatch + ${aIndex(`aRow${l}`)}]; }`,
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
  aRow: (l) => `
        let wo${l} = aRow${l} % uniforms.outW;
        let ho${l} = (aRow${l} / uniforms.outW) % uniforms.outH;
        let n${l} = aRow${l} / (uniforms.outW * uniforms.outH);
        let hBase${l} = ho${l} * uniforms.strideH - uniforms.padTop;
        let wBase${l} = wo${l} * uniforms.strideW - uniforms.padLeft;`,
  aCol: `
          let ci = aCol % uniforms.inC;
          let f = aCol / uniforms.inC;
          let hOff = (f / uniforms.filterW) * uniforms.dilationH;
          let wOff = (f % uniforms.filterW) * uniforms.dilationW;`,
  aValue: (l) => `
            let h = hBase${l} + hOff;
            let w = wBase${l} + wOff;
            if (aRow${l} < uniforms.dimM && aCol < uniforms.dimK && h >= 0 && h < uniforms.inH && w >= 0 && w < uniforms.inW) {
              v = x[((n${l} * uniforms.inH + h) * uniforms.inW + w) * uniforms.inC + ci];
            }`,
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
  aRow: (l) => `
        let w${l} = aRow${l} % uniforms.inW;
        let h${l} = (aRow${l} / uniforms.inW) % uniforms.inH;
        let n${l} = aRow${l} / (uniforms.inW * uniforms.inH);`,
  aCol: `
          let co = aCol % uniforms.outC;
          let f = aCol / uniforms.outC;
          let hOff = uniforms.padTop - (f / uniforms.filterW) * uniforms.dilationH;
          let wOff = uniforms.padLeft - (f % uniforms.filterW) * uniforms.dilationW;`,
  aValue: (l) => `
            let hs = h${l} + hOff;
            let ws = w${l} + wOff;
            if (aRow${l} < uniforms.dimM && aCol < uniforms.dimK && hs >= 0 && ws >= 0 && hs % uniforms.strideH == 0 && ws % uniforms.strideW == 0) {
              let ho = hs / uniforms.strideH;
              let wo = ws / uniforms.strideW;
              if (ho < uniforms.outH && wo < uniforms.outW) {
                v = dy[((n${l} * uniforms.outH + ho) * uniforms.outW + wo) * uniforms.outC + co];
              }
            }`,
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
  aRow: (l) => `
        let ci${l} = aRow${l} % uniforms.inC;
        let f${l} = aRow${l} / uniforms.inC;
        let hOff${l} = (f${l} / uniforms.filterW) * uniforms.dilationH - uniforms.padTop;
        let wOff${l} = (f${l} % uniforms.filterW) * uniforms.dilationW - uniforms.padLeft;`,
  aCol: `
          let wo = aCol % uniforms.outW;
          let ho = (aCol / uniforms.outW) % uniforms.outH;
          let n = aCol / (uniforms.outW * uniforms.outH);
          let hBase = ho * uniforms.strideH;
          let wBase = wo * uniforms.strideW;`,
  aValue: (l) => `
            let h = hBase + hOff${l};
            let w = wBase + wOff${l};
            if (aRow${l} < uniforms.dimM && aCol < uniforms.dimK && h >= 0 && h < uniforms.inH && w >= 0 && w < uniforms.inW) {
              v = x[((n * uniforms.inH + h) * uniforms.inW + w) * uniforms.inC + ci${l}];
            }`,
  readB: `
        if (row >= uniforms.dimK || col >= uniforms.dimN) { return 0.0; }
        return dy[row * uniforms.dimN + col];`,
};
