/**
 * L-BFGS (Nocedal & Wright, Numerical Optimization, 2nd ed.): Algorithm 7.4 (two-loop recursion) for the
 * search direction and Algorithms 3.5/3.6 (a line search that brackets, then zooms with safeguarded cubic
 * interpolation) for a step that satisfies the strong Wolfe conditions.
 */
import { type AsyncStepOptions, runSteps, runStepsAsync, type Steps } from './steps.js';

/** Writes the gradient at x into g and returns the objective value. Must not keep references to x or g. */
export type Objective = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  /** Number of correction pairs kept (m). */
  memory?: number;
  maxIterations?: number;
  /** Stop when the largest absolute gradient component is at most this. */
  gradientTolerance?: number;
  /**
   * Stop when the objective fell by at most this much, relative to max(|f|, 1), over the last
   * `relativeWindow` iterations (a window rather than one step, so one short step does not end the run).
   */
  relativeTolerance?: number;
  relativeWindow?: number;
  /** Sufficient-decrease (c1) and curvature (c2) constants of the strong Wolfe conditions. */
  c1?: number;
  c2?: number;
  maxLineSearchEvaluations?: number;
  /** Called after every accepted step; throw from it to cancel. */
  onIteration?: (iteration: number, f: number, gradMaxAbs: number) => void;
}

export type LbfgsStop = 'gradient' | 'relative-reduction' | 'max-iterations' | 'line-search';

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  stop: LbfgsStop;
  gradMaxAbs: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > m) m = v;
  }
  return m;
}

/** Minimiser of the cubic through (a, fa, da) and (b, fb, db), or NaN when it has none. */
function cubicMinimizer(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  const denom = db - da + 2 * d2;
  if (denom === 0) return NaN;
  return b - ((b - a) * (db + d2 - d1)) / denom;
}

export function minimizeLbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  return runSteps(lbfgsSteps(objective, x0, options));
}

/** As minimizeLbfgs, returning to the event loop between objective evaluations; rejects with CancelledError on abort. */
export function minimizeLbfgsAsync(objective: Objective, x0: Float64Array, options: LbfgsOptions & AsyncStepOptions = {}): Promise<LbfgsResult> {
  return runStepsAsync(lbfgsSteps(objective, x0, options), options);
}

/** The minimiser as steps: it yields after every objective evaluation (see steps.ts for the drivers). */
export function* lbfgsSteps(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): Steps<LbfgsResult> {
  const m = options.memory ?? 10;
  const maxIterations = options.maxIterations ?? 500;
  const gtol = options.gradientTolerance ?? 1e-5;
  const ftol = options.relativeTolerance ?? 1e-10;
  const window = Math.max(1, options.relativeWindow ?? 5);
  const c1 = options.c1 ?? 1e-4;
  const c2 = options.c2 ?? 0.9;
  const maxLs = options.maxLineSearchEvaluations ?? 25;
  const n = x0.length;

  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  const p = new Float64Array(n);
  const xTrial = new Float64Array(n);
  const gTrial = new Float64Array(n);
  const S = Array.from({ length: m }, () => new Float64Array(n));
  const Y = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alphaTmp = new Float64Array(m);
  let stored = 0;
  let head = 0; // index where the next pair goes

  let evaluations = 0;
  const evaluate = (at: Float64Array, grad: Float64Array): number => {
    evaluations++;
    const v = objective(at, grad);
    if (!Number.isFinite(v)) return Infinity;
    return v;
  };

  let f = evaluate(x, g);
  yield;
  if (!Number.isFinite(f)) throw new Error('L-BFGS: objective is not finite at the starting point');
  let gmax = maxAbs(g);
  if (gmax <= gtol) return { x, f, iterations: 0, evaluations, stop: 'gradient', gradMaxAbs: gmax };

  let iteration = 0;
  let stop: LbfgsStop = 'max-iterations';
  const history = new Float64Array(window + 1); // f at iterations k − window … k, as a ring
  history[0] = f;
  while (iteration < maxIterations) {
    // Two-loop recursion: p = −H g, with H0 = γI, γ = sᵀy / yᵀy of the newest pair.
    for (let i = 0; i < n; i++) p[i] = -g[i]!;
    for (let j = 0; j < stored; j++) {
      const k = (head - 1 - j + m) % m;
      const a = rho[k]! * dot(S[k]!, p);
      alphaTmp[k] = a;
      const yk = Y[k]!;
      for (let i = 0; i < n; i++) p[i] = p[i]! - a * yk[i]!;
    }
    if (stored > 0) {
      const k = (head - 1 + m) % m;
      const gamma = dot(S[k]!, Y[k]!) / dot(Y[k]!, Y[k]!);
      for (let i = 0; i < n; i++) p[i] = p[i]! * gamma;
    }
    for (let j = stored - 1; j >= 0; j--) {
      const k = (head - 1 - j + m) % m;
      const b = rho[k]! * dot(Y[k]!, p);
      const sk = S[k]!;
      const coef = alphaTmp[k]! - b;
      for (let i = 0; i < n; i++) p[i] = p[i]! + coef * sk[i]!;
    }
    let dphi0 = dot(g, p);
    if (!(dphi0 < 0)) {
      // Not a descent direction (lost curvature information): restart from steepest descent.
      stored = 0;
      for (let i = 0; i < n; i++) p[i] = -g[i]!;
      dphi0 = dot(g, p);
    }
    const alphaInit = stored === 0 ? Math.min(1, 1 / Math.sqrt(dot(g, g))) : 1;

    const ls = yield* strongWolfe(f, dphi0, alphaInit);
    if (ls === null) {
      stop = 'line-search';
      break;
    }
    // Accept the step: s = x_new − x, y = g_new − g.
    const sk = S[head]!;
    const yk = Y[head]!;
    for (let i = 0; i < n; i++) {
      sk[i] = xTrial[i]! - x[i]!;
      yk[i] = gTrial[i]! - g[i]!;
    }
    const sy = dot(sk, yk);
    if (sy > 1e-10 * dot(yk, yk)) {
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      stored = Math.min(stored + 1, m);
    }
    x.set(xTrial);
    g.set(gTrial);
    f = ls;
    gmax = maxAbs(g);
    iteration++;
    options.onIteration?.(iteration, f, gmax);
    if (gmax <= gtol) {
      stop = 'gradient';
      break;
    }
    history[iteration % (window + 1)] = f;
    const fBack = history[Math.max(0, iteration - window) % (window + 1)]!;
    if ((fBack - f) / Math.max(Math.abs(fBack), Math.abs(f), 1) <= ftol) {
      stop = 'relative-reduction';
      break;
    }
  }
  return { x, f, iterations: iteration, evaluations, stop, gradMaxAbs: gmax };

  /** φ(α) = f(x + αp). On success xTrial/gTrial hold the accepted point and its value is returned. */
  function* phi(alpha: number): Steps<{ f: number; d: number }> {
    for (let i = 0; i < n; i++) xTrial[i] = x[i]! + alpha * p[i]!;
    const v = evaluate(xTrial, gTrial);
    yield;
    return { f: v, d: Number.isFinite(v) ? dot(gTrial, p) : NaN };
  }

  function* strongWolfe(phi0: number, dphi0: number, alpha1: number): Steps<number | null> {
    let evals = 0;
    let aPrev = 0;
    let fPrev = phi0;
    let dPrev = dphi0;
    let a = alpha1;
    for (;;) {
      const cur = yield* phi(a);
      evals++;
      if (!Number.isFinite(cur.f)) {
        // Overflow: step back towards the last good point.
        if (evals >= maxLs) return null;
        a = aPrev + 0.1 * (a - aPrev);
        continue;
      }
      if (cur.f > phi0 + c1 * a * dphi0 || (evals > 1 && cur.f >= fPrev)) {
        return yield* zoom(aPrev, fPrev, dPrev, a, cur.f, cur.d, evals);
      }
      if (Math.abs(cur.d) <= -c2 * dphi0) return cur.f;
      if (cur.d >= 0) return yield* zoom(a, cur.f, cur.d, aPrev, fPrev, dPrev, evals);
      if (evals >= maxLs) return cur.f; // sufficient decrease holds; accept a short step rather than stall
      // Extrapolate: the cubic's minimiser, kept within [2a, 10a] of the bracket growth.
      const next = cubicMinimizer(aPrev, fPrev, dPrev, a, cur.f, cur.d);
      const lo = a + 1.1 * (a - aPrev);
      const hi = a + 10 * (a - aPrev);
      aPrev = a;
      fPrev = cur.f;
      dPrev = cur.d;
      a = Number.isFinite(next) ? Math.min(Math.max(next, lo), hi) : 2 * a;
    }

    function* zoom(aLo: number, fLo: number, dLo: number, aHi: number, fHi: number, dHi: number, used: number): Steps<number | null> {
      // Best point with sufficient decrease seen in the zoom, in case it runs out of evaluations.
      let bestA = -1;
      let bestF = Infinity;
      for (let evalsZ = used; evalsZ < maxLs; evalsZ++) {
        const lo = Math.min(aLo, aHi);
        const hi = Math.max(aLo, aHi);
        const width = hi - lo;
        let a = cubicMinimizer(aLo, fLo, dLo, aHi, fHi, dHi);
        if (!Number.isFinite(a) || a < lo + 0.1 * width || a > hi - 0.1 * width) a = 0.5 * (aLo + aHi);
        if (width <= 1e-16 * Math.max(1, hi)) break;
        const cur = yield* phi(a);
        if (!Number.isFinite(cur.f) || cur.f > phi0 + c1 * a * dphi0 || cur.f >= fLo) {
          aHi = a;
          fHi = Number.isFinite(cur.f) ? cur.f : fLo + Math.abs(fLo) + 1;
          dHi = Number.isFinite(cur.d) ? cur.d : 0;
          continue;
        }
        if (Math.abs(cur.d) <= -c2 * dphi0) return cur.f;
        if (cur.f < bestF) {
          bestF = cur.f;
          bestA = a;
        }
        if (cur.d * (aHi - aLo) >= 0) {
          aHi = aLo;
          fHi = fLo;
          dHi = dLo;
        }
        aLo = a;
        fLo = cur.f;
        dLo = cur.d;
      }
      if (aLo > 0 && fLo < phi0) {
        // The curvature condition was not met, but aLo decreases f sufficiently: take it.
        return (yield* phi(aLo)).f;
      }
      if (bestA > 0) return (yield* phi(bestA)).f;
      return null;
    }
  }
}
