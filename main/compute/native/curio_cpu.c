// Curio's CPU kernels for the tfjs `cpu` backend: convolution (forward and both gradients) and batched matmul as
// im2col + SGEMM, plus the broadcast and reduction patterns that batch norm and the heads run on NHWC tensors.
//
// SGEMM comes from a BLAS found at run time with dlopen (OpenBLAS, or Apple's Accelerate), so this file builds with
// nothing but a C compiler and Node's own headers, and a machine without OpenBLAS gets a clear reason instead of a
// load error. Every entry point is synchronous and takes Float32Arrays that the caller allocated: no memory is
// owned across calls except the im2col scratch buffer.
//
// Layouts follow tfjs: activations NHWC, filters HWIO ([KH, KW, C, OC]), so an im2col row (kh, kw, c) meets the
// filter viewed as a [KH·KW·C, OC] matrix without any transpose.
#define _POSIX_C_SOURCE 200809L
#define NAPI_VERSION 8
#include <node_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);

static sgemm_fn sgemm = NULL;
static set_threads_fn set_threads = NULL;
static char library[512] = "";

// Per calling thread: the training worker and a preview worker may both be in here at once.
static _Thread_local float *scratch = NULL;
static _Thread_local size_t scratch_len = 0;
static int n_threads = 1;

// ---- parallel loops ---------------------------------------------------------------------------------------------

typedef void (*range_fn)(void *ctx, size_t begin, size_t end);
typedef struct {
  range_fn fn;
  void *ctx;
  size_t begin, end;
} range_task;

static void *run_range(void *p) {
  range_task *t = (range_task *)p;
  t->fn(t->ctx, t->begin, t->end);
  return NULL;
}

// Runs fn over [0, n) split across up to n_threads threads, each with at least `grain` items; the first part runs
// on the calling thread. Threads are started per call: only loops worth well over their ~30 µs start use this.
static void parallel_for(size_t n, size_t grain, range_fn fn, void *ctx) {
  size_t t = (size_t)n_threads;
  if (grain == 0) grain = 1;
  if (t > n / grain) t = n / grain;
  if (t > 16) t = 16;
  if (t <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  pthread_t th[16];
  range_task tasks[16];
  int started[16] = {0};
  for (size_t i = 0; i < t; i++) tasks[i] = (range_task){fn, ctx, n * i / t, n * (i + 1) / t};
  for (size_t i = 1; i < t; i++) started[i] = pthread_create(&th[i], NULL, run_range, &tasks[i]) == 0;
  fn(ctx, tasks[0].begin, tasks[0].end);
  for (size_t i = 1; i < t; i++) {
    if (started[i]) pthread_join(th[i], NULL);
    else fn(ctx, tasks[i].begin, tasks[i].end);  // no thread: do that part here
  }
}

// Elementwise loops split into parts of at least this many floats.
#define GRAIN (1u << 16)

// Floats of im2col scratch per chunk: large enough that SGEMM runs on tall panels, small enough to stay near cache.
#define COL_BUDGET (4u << 20)

static float *get_scratch(size_t n) {
  if (n > scratch_len) {
    free(scratch);
    scratch = (float *)malloc(n * sizeof(float));
    scratch_len = scratch ? n : 0;
  }
  return scratch;
}

#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) {                                                                                          \
      napi_throw_error(env, NULL, "curio_cpu: N-API call failed: " #call);                                            \
      return NULL;                                                                                                    \
    }                                                                                                                 \
  } while (0)

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "curio_cpu: expected a Float32Array");
    return 0;
  }
  *data = (float *)ptr;
  *len = length;
  return 1;
}

static int get_i32(napi_env env, napi_value v, int32_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, NULL, "curio_cpu: expected an Int32Array of dimensions");
    return 0;
  }
  *data = (int32_t *)ptr;
  *len = length;
  return 1;
}

static int need(napi_env env, size_t have, size_t want, const char *what) {
  if (have < want) {
    char msg[160];
    snprintf(msg, sizeof msg, "curio_cpu: %s holds %zu floats, the shape needs %zu", what, have, want);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

// ---- BLAS discovery -------------------------------------------------------------------------------------------

static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t threads = 0;
  if (argc >= 1) napi_get_value_int32(env, argv[0], &threads);
  if (threads > 0) n_threads = threads > 16 ? 16 : threads;
  if (!sgemm) {
    // OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each GEMM by default, on the cores the elementwise
    // loops between GEMMs need; 2^14 cycles is a few microseconds. Read when the library loads, so set it first.
    setenv("OPENBLAS_THREAD_TIMEOUT", "14", 0);
    static const char *candidates[] = {
        "libopenblas.so.0",
        "libopenblas.so",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "libopenblas.dylib",
        "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
        "/usr/local/opt/openblas/lib/libopenblas.dylib",
        "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    };
    char tried[1024] = "";
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !sgemm; i++) {
      void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
      if (!h) continue;
      sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
      if (!f) {
        dlclose(h);
        continue;
      }
      sgemm = f;
      set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
      get_config_fn cfg = (get_config_fn)dlsym(h, "openblas_get_config");
      snprintf(library, sizeof library, "%s%s%s", candidates[i], cfg ? " " : "", cfg ? cfg() : "");
      (void)tried;
    }
    if (!sgemm) {
      napi_throw_error(env, "ENOBLAS",
                       "no optimised BLAS found (tried libopenblas.so.0 and Accelerate); on Debian/Ubuntu: "
                       "apt-get install libopenblas0-pthread");
      return NULL;
    }
  }
  if (threads > 0 && set_threads) set_threads(threads);
  napi_value result;
  CHECK(napi_create_string_utf8(env, library, NAPI_AUTO_LENGTH, &result));
  return result;
}

// ---- convolution ------------------------------------------------------------------------------------------------

typedef struct {
  int n, h, w, c, kh, kw, oc, oh, ow, sh, sw, pt, pl, dh, dw;
} conv_dims;

static int read_conv_dims(napi_env env, napi_value v, conv_dims *d) {
  int32_t *p;
  size_t len;
  if (!get_i32(env, v, &p, &len)) return 0;
  if (len < 15) {
    napi_throw_range_error(env, NULL, "curio_cpu: conv dims need 15 entries");
    return 0;
  }
  *d = (conv_dims){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]};
  // n, h, w, c, kh, kw, oc, oh, ow, strides and dilations are positive; the paddings are ≥ 0
  for (int i = 0; i < 15; i++) {
    if ((i == 11 || i == 12) ? p[i] < 0 : p[i] <= 0) {
      napi_throw_range_error(env, NULL, "curio_cpu: conv dims out of range");
      return 0;
    }
  }
  return 1;
}

static int is_pointwise(const conv_dims *d) {
  return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->pt == 0 && d->pl == 0 && d->oh == d->h &&
         d->ow == d->w;
}

// col[(img, oh, ow), (kh, kw, c)] for images [n0, n0 + count)
static void im2col(const conv_dims *d, const float *x, int n0, int count, float *col) {
  const size_t K = (size_t)d->kh * d->kw * d->c;
  const size_t csz = (size_t)d->c * sizeof(float);
  float *dst = col;
  for (int n = n0; n < n0 + count; n++) {
    const float *xn = x + (size_t)n * d->h * d->w * d->c;
    for (int oh = 0; oh < d->oh; oh++) {
      for (int ow = 0; ow < d->ow; ow++) {
        float *row = dst;
        for (int kh = 0; kh < d->kh; kh++) {
          const int ih = oh * d->sh - d->pt + kh * d->dh;
          for (int kw = 0; kw < d->kw; kw++) {
            const int iw = ow * d->sw - d->pl + kw * d->dw;
            if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w) memset(row, 0, csz);
            else memcpy(row, xn + ((size_t)ih * d->w + iw) * d->c, csz);
            row += d->c;
          }
        }
        dst += K;
      }
    }
  }
}

// dx[n0 + ...] += col2im(col)
static void col2im_add(const conv_dims *d, const float *col, int n0, int count, float *dx) {
  const size_t K = (size_t)d->kh * d->kw * d->c;
  const float *src = col;
  for (int n = n0; n < n0 + count; n++) {
    float *xn = dx + (size_t)n * d->h * d->w * d->c;
    for (int oh = 0; oh < d->oh; oh++) {
      for (int ow = 0; ow < d->ow; ow++) {
        const float *row = src;
        for (int kh = 0; kh < d->kh; kh++) {
          const int ih = oh * d->sh - d->pt + kh * d->dh;
          for (int kw = 0; kw < d->kw; kw++) {
            const int iw = ow * d->sw - d->pl + kw * d->dw;
            if (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w) {
              float *t = xn + ((size_t)ih * d->w + iw) * d->c;
              for (int c = 0; c < d->c; c++) t[c] += row[c];
            }
            row += d->c;
          }
        }
        src += K;
      }
    }
  }
}

typedef struct {
  const conv_dims *d;
  const float *x;
  float *col;
  int n0;
} im2col_job;

static void im2col_range(void *p, size_t b, size_t e) {
  im2col_job *j = (im2col_job *)p;
  const size_t per = (size_t)j->d->oh * j->d->ow * j->d->kh * j->d->kw * j->d->c;
  im2col(j->d, j->x, j->n0 + (int)b, (int)(e - b), j->col + b * per);
}

static void im2col_parallel(const conv_dims *d, const float *x, int n0, int count, float *col) {
  im2col_job j = {d, x, col, n0};
  const size_t per = (size_t)d->oh * d->ow * d->kh * d->kw * d->c;
  parallel_for((size_t)count, per >= GRAIN ? 1 : GRAIN / per + 1, im2col_range, &j);
}

typedef struct {
  const conv_dims *d;
  const float *col;
  float *dx;
  int n0;
} col2im_job;

static void col2im_range(void *p, size_t b, size_t e) {
  col2im_job *j = (col2im_job *)p;
  const size_t per = (size_t)j->d->oh * j->d->ow * j->d->kh * j->d->kw * j->d->c;
  col2im_add(j->d, j->col + b * per, j->n0 + (int)b, (int)(e - b), j->dx);
}

static void col2im_parallel(const conv_dims *d, const float *col, int n0, int count, float *dx) {
  col2im_job j = {d, col, dx, n0};
  const size_t per = (size_t)d->oh * d->ow * d->kh * d->kw * d->c;
  parallel_for((size_t)count, per >= GRAIN ? 1 : GRAIN / per + 1, col2im_range, &j);
}

static int images_per_chunk(const conv_dims *d) {
  const size_t per = (size_t)d->oh * d->ow * d->kh * d->kw * d->c;
  size_t k = per ? COL_BUDGET / per : 1;
  if (k < 1) k = 1;
  if (k > (size_t)d->n) k = (size_t)d->n;
  return (int)k;
}

// The im2col scratch for as many images per chunk as COL_BUDGET allows; throws and returns NULL when out of memory.
static float *chunk_scratch(napi_env env, const conv_dims *d, int *chunk) {
  *chunk = images_per_chunk(d);
  float *col = get_scratch((size_t)*chunk * d->oh * d->ow * d->kh * d->kw * d->c);
  if (!col) napi_throw_error(env, NULL, "curio_cpu: out of memory for the im2col buffer");
  return col;
}

#define CONV_ARGS(nargs)                                                                                             \
  size_t argc = nargs;                                                                                               \
  napi_value argv[nargs];                                                                                            \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                                       \
  if (!sgemm) {                                                                                                      \
    napi_throw_error(env, NULL, "curio_cpu: init() has not found a BLAS");                                           \
    return NULL;                                                                                                     \
  }                                                                                                                  \
  if (argc < nargs) {                                                                                                \
    napi_throw_type_error(env, NULL, "curio_cpu: missing arguments");                                                \
    return NULL;                                                                                                     \
  }

enum conv_role { ROLE_INPUT, ROLE_OUTPUT, ROLE_FILTER };

// Reads a convolution call (a, b, c, dims) and checks that each array holds what its role needs: the NHWC input
// [n, h, w, c], the NHWC output [n, oh, ow, oc] or the HWIO filter [kh, kw, c, oc].
static int conv_call(napi_env env, napi_callback_info info, const int roles[3], const char *const names[3],
                     float *arr[3], conv_dims *d) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "curio_cpu: N-API call failed: napi_get_cb_info");
    return 0;
  }
  if (!sgemm) {
    napi_throw_error(env, NULL, "curio_cpu: init() has not found a BLAS");
    return 0;
  }
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "curio_cpu: missing arguments");
    return 0;
  }
  size_t len[3];
  for (int i = 0; i < 3; i++)
    if (!get_f32(env, argv[i], &arr[i], &len[i])) return 0;
  if (!read_conv_dims(env, argv[3], d)) return 0;
  for (int i = 0; i < 3; i++) {
    const size_t want = roles[i] == ROLE_INPUT    ? (size_t)d->n * d->h * d->w * d->c
                        : roles[i] == ROLE_OUTPUT ? (size_t)d->n * d->oh * d->ow * d->oc
                                                  : (size_t)d->kh * d->kw * d->c * d->oc;
    if (!need(env, len[i], want, names[i])) return 0;
  }
  return 1;
}

// conv2d(x, filter, out, dims): out[n, oh, ow, oc] = Σ x[n, ih, iw, c] · w[kh, kw, c, oc]
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  static const int roles[3] = {ROLE_INPUT, ROLE_FILTER, ROLE_OUTPUT};
  static const char *const names[3] = {"x", "filter", "out"};
  float *arr[3];
  conv_dims d;
  if (!conv_call(env, info, roles, names, arr, &d)) return NULL;
  float *x = arr[0], *w = arr[1], *out = arr[2];
  const size_t K = (size_t)d.kh * d.kw * d.c, P = (size_t)d.oh * d.ow;
  if (is_pointwise(&d)) {
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, d.n * (int)P, d.oc, d.c, 1.f, x, d.c, w, d.oc, 0.f, out, d.oc);
    return NULL;
  }
  int chunk;
  float *col = chunk_scratch(env, &d, &chunk);
  if (!col) return NULL;
  for (int n0 = 0; n0 < d.n; n0 += chunk) {
    const int count = n0 + chunk <= d.n ? chunk : d.n - n0;
    im2col_parallel(&d, x, n0, count, col);
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, count * (int)P, d.oc, (int)K, 1.f, col, (int)K, w, d.oc, 0.f,
          out + (size_t)n0 * P * d.oc, d.oc);
  }
  return NULL;
}

// conv2dBackpropInput(dy, filter, dx, dims): dx = col2im(dy · Wᵀ)
static napi_value js_conv2d_backprop_input(napi_env env, napi_callback_info info) {
  static const int roles[3] = {ROLE_OUTPUT, ROLE_FILTER, ROLE_INPUT};
  static const char *const names[3] = {"dy", "filter", "dx"};
  float *arr[3];
  conv_dims d;
  if (!conv_call(env, info, roles, names, arr, &d)) return NULL;
  float *dy = arr[0], *w = arr[1], *dx = arr[2];
  const size_t K = (size_t)d.kh * d.kw * d.c, P = (size_t)d.oh * d.ow;
  if (is_pointwise(&d)) {
    sgemm(ROW_MAJOR, NO_TRANS, TRANS, d.n * (int)P, d.c, d.oc, 1.f, dy, d.oc, w, d.oc, 0.f, dx, d.c);
    return NULL;
  }
  memset(dx, 0, (size_t)d.n * d.h * d.w * d.c * sizeof(float));
  int chunk;
  float *col = chunk_scratch(env, &d, &chunk);
  if (!col) return NULL;
  for (int n0 = 0; n0 < d.n; n0 += chunk) {
    const int count = n0 + chunk <= d.n ? chunk : d.n - n0;
    sgemm(ROW_MAJOR, NO_TRANS, TRANS, count * (int)P, (int)K, d.oc, 1.f, dy + (size_t)n0 * P * d.oc, d.oc, w, d.oc,
          0.f, col, (int)K);
    col2im_parallel(&d, col, n0, count, dx);
  }
  return NULL;
}

// conv2dBackpropFilter(x, dy, dw, dims): dW = im2col(x)ᵀ · dy
static napi_value js_conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  static const int roles[3] = {ROLE_INPUT, ROLE_OUTPUT, ROLE_FILTER};
  static const char *const names[3] = {"x", "dy", "dw"};
  float *arr[3];
  conv_dims d;
  if (!conv_call(env, info, roles, names, arr, &d)) return NULL;
  float *x = arr[0], *dy = arr[1], *dw = arr[2];
  const size_t K = (size_t)d.kh * d.kw * d.c, P = (size_t)d.oh * d.ow;
  if (is_pointwise(&d)) {
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, d.c, d.oc, d.n * (int)P, 1.f, x, d.c, dy, d.oc, 0.f, dw, d.oc);
    return NULL;
  }
  int chunk;
  float *col = chunk_scratch(env, &d, &chunk);
  if (!col) return NULL;
  for (int n0 = 0; n0 < d.n; n0 += chunk) {
    const int count = n0 + chunk <= d.n ? chunk : d.n - n0;
    im2col_parallel(&d, x, n0, count, col);
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, (int)K, d.oc, count * (int)P, 1.f, col, (int)K, dy + (size_t)n0 * P * d.oc,
          d.oc, n0 == 0 ? 0.f : 1.f, dw, d.oc);
  }
  return NULL;
}

// ---- matmul -----------------------------------------------------------------------------------------------------

// matmul(a, b, c, dims[batchA, batchB, m, n, k, transA, transB]): batch broadcasting where one side has batch 1
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  CONV_ARGS(4);
  float *a, *b, *c;
  size_t la, lb, lc, ld;
  int32_t *p;
  if (!get_f32(env, argv[0], &a, &la) || !get_f32(env, argv[1], &b, &lb) || !get_f32(env, argv[2], &c, &lc) ||
      !get_i32(env, argv[3], &p, &ld))
    return NULL;
  if (ld < 7) {
    napi_throw_range_error(env, NULL, "curio_cpu: matmul dims need 7 entries");
    return NULL;
  }
  const int ba = p[0], bb = p[1], m = p[2], n = p[3], k = p[4], ta = p[5], tb = p[6];
  const int batch = ba > bb ? ba : bb;
  if (ba < 1 || bb < 1 || m < 0 || n < 0 || k < 0 || (ba != bb && ba != 1 && bb != 1)) {
    napi_throw_range_error(env, NULL, "curio_cpu: matmul dims out of range");
    return NULL;
  }
  const size_t sa = (size_t)m * k, sb = (size_t)k * n, sc = (size_t)m * n;
  if (!need(env, la, sa * ba, "a") || !need(env, lb, sb * bb, "b") || !need(env, lc, sc * batch, "c")) return NULL;
  if (k == 0) {
    memset(c, 0, sc * batch * sizeof(float));
    return NULL;
  }
  for (int i = 0; i < batch; i++) {
    const float *ai = a + (ba == 1 ? 0 : sa * i), *bi = b + (bb == 1 ? 0 : sb * i);
    sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1.f, ai, ta ? m : k, bi, tb ? k : n, 0.f,
          c + sc * i, n);
  }
  return NULL;
}

// ---- elementwise and reductions ----------------------------------------------------------------------------

// op codes: 0 add, 1 sub, 2 mul, 3 div, 4 squared difference; bit 4 (16) set means b ∘ a (operands swapped).
typedef struct {
  const float *a, *b;
  float *out;
  int d[4], s[4];
  int op;
} binary_job;

// rows [r0, r1) of the [d0·d1·d2, d3] view
static void binary_range(void *p, size_t r0, size_t r1) {
  const binary_job *j = (const binary_job *)p;
  const int d3 = j->d[3], s3 = j->s[3];
  for (size_t r = r0; r < r1; r++) {
    const size_t i2 = r % (size_t)j->d[2], i1 = (r / (size_t)j->d[2]) % (size_t)j->d[1];
    const size_t i0 = r / ((size_t)j->d[2] * j->d[1]);
    const float *ar = j->a + r * d3;
    float *orow = j->out + r * d3;
    const float *br = j->b + i0 * j->s[0] + i1 * j->s[1] + i2 * j->s[2];
#define SLOOP(EXPR)                                                                                                  \
  if (s3)                                                                                                            \
    for (int k = 0; k < d3; k++) {                                                                                   \
      const float x = ar[k], y = br[k];                                                                              \
      orow[k] = (EXPR);                                                                                              \
    }                                                                                                                \
  else {                                                                                                             \
    const float y = br[0];                                                                                           \
    for (int k = 0; k < d3; k++) {                                                                                   \
      const float x = ar[k];                                                                                         \
      orow[k] = (EXPR);                                                                                              \
    }                                                                                                                \
  }
    switch (j->op) {
      case 0: case 16: SLOOP(x + y); break;
      case 1: SLOOP(x - y); break;
      case 17: SLOOP(y - x); break;
      case 2: case 18: SLOOP(x * y); break;
      case 3: SLOOP(x / y); break;
      case 19: SLOOP(y / x); break;
      case 4: case 20: SLOOP((x - y) * (x - y)); break;
    }
#undef SLOOP
  }
}

// binaryStrided(op, a, b, out, dims Int32Array[d0..d3, s0..s3]): out has a's shape, viewed as [d0, d1, d2, d3]; b is
// read at Σ i_k · s_k, so a broadcast dimension of b has stride 0. 
static napi_value js_binary_strided(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t op, *p;
  float *a, *b, *out;
  size_t la, lb, lo, ld;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &op) != napi_ok || !get_f32(env, argv[1], &a, &la) ||
      !get_f32(env, argv[2], &b, &lb) || !get_f32(env, argv[3], &out, &lo) || !get_i32(env, argv[4], &p, &ld)) {
    if (argc < 5) napi_throw_type_error(env, NULL, "curio_cpu: binaryStrided needs 5 arguments");
    return NULL;
  }
  if (ld < 8) {
    napi_throw_range_error(env, NULL, "curio_cpu: binaryStrided dims need 8 entries");
    return NULL;
  }
  const size_t total = (size_t)p[0] * p[1] * p[2] * p[3];
  size_t bmax = 0;
  for (int k = 0; k < 4; k++) {
    if (p[k] < 1 || p[4 + k] < 0) {
      napi_throw_range_error(env, NULL, "curio_cpu: binaryStrided dims out of range");
      return NULL;
    }
    bmax += (size_t)(p[k] - 1) * p[4 + k];
  }
  if (!need(env, la, total, "a") || !need(env, lb, bmax + 1, "b") || !need(env, lo, total, "out")) return NULL;
  const int swap = op & 16, kind = op & 15;
  if (kind > 4) {
    napi_throw_range_error(env, NULL, "curio_cpu: unknown binary op");
    return NULL;
  }
  binary_job j = {a, b, out, {p[0], p[1], p[2], p[3]}, {p[4], p[5], p[6], p[7]}, kind | swap};
  const size_t rows = (size_t)p[0] * p[1] * p[2];
  parallel_for(rows, GRAIN / (size_t)p[3] + 1, binary_range, &j);
  return NULL;
}

typedef struct {
  const float *x;
  float *out;
  int op;
  float al, be;
} unary_job;

static void unary_range(void *p, size_t i0, size_t i1) {
  const unary_job *j = (const unary_job *)p;
  const float *x = j->x;
  float *out = j->out;
  const float al = j->al, be = j->be;
  switch (j->op) {
    case 0: for (size_t i = i0; i < i1; i++) out[i] = x[i] > 0.f ? x[i] : (x[i] != x[i] ? x[i] : 0.f); break;
    case 1: for (size_t i = i0; i < i1; i++) out[i] = x[i] != x[i] ? x[i] : (x[i] > 0.f ? 1.f : al); break;
    case 2: for (size_t i = i0; i < i1; i++) out[i] = x[i] * x[i]; break;
    case 3: for (size_t i = i0; i < i1; i++) out[i] = -x[i]; break;
    case 4: for (size_t i = i0; i < i1; i++) out[i] = sqrtf(x[i]); break;
    case 5: for (size_t i = i0; i < i1; i++) out[i] = 1.f / sqrtf(x[i]); break;
    case 6: for (size_t i = i0; i < i1; i++) out[i] = expf(x[i]); break;
    case 7: for (size_t i = i0; i < i1; i++) out[i] = fabsf(x[i]); break;
    case 8: for (size_t i = i0; i < i1; i++) out[i] = powf(x[i], al); break;
    case 9: for (size_t i = i0; i < i1; i++) out[i] = x[i] != x[i] ? x[i] : (x[i] > be ? be : (x[i] < al ? al : x[i])); break;
  }
}

// unary(op, x, out, alpha, beta): 0 relu, 1 step (x > 0 ? 1 : alpha; NaN stays NaN), 2 square, 3 neg, 4 sqrt,
// 5 rsqrt, 6 exp, 7 abs, 8 pow(x, alpha), 9 clip to [alpha, beta] (NaN stays NaN)
static napi_value js_unary(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t op;
  double alpha = 0, beta = 0;
  float *x, *out;
  size_t lx, lo;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &op) != napi_ok || !get_f32(env, argv[1], &x, &lx) ||
      !get_f32(env, argv[2], &out, &lo) || napi_get_value_double(env, argv[3], &alpha) != napi_ok ||
      (argc >= 5 && napi_get_value_double(env, argv[4], &beta) != napi_ok)) {
    if (argc < 4) napi_throw_type_error(env, NULL, "curio_cpu: unary needs 4 or 5 arguments");
    return NULL;
  }
  if (!need(env, lo, lx, "out")) return NULL;
  if (op < 0 || op > 9) {
    napi_throw_range_error(env, NULL, "curio_cpu: unknown unary op");
    return NULL;
  }
  unary_job j = {x, out, op, (float)alpha, (float)beta};
  parallel_for(lx, GRAIN, unary_range, &j);
  return NULL;
}

typedef struct {
  const float *x;
  double *partial;
  int mid, inner;
  size_t parts;
} colsum_job;

// parts [k0, k1) of the rows of an [mid, inner] matrix, each summed into its own row of `partial`
static void colsum_range(void *p, size_t k0, size_t k1) {
  const colsum_job *j = (const colsum_job *)p;
  for (size_t k = k0; k < k1; k++) {
    double *acc = j->partial + k * j->inner;
    const size_t m0 = (size_t)j->mid * k / j->parts, m1 = (size_t)j->mid * (k + 1) / j->parts;
    for (size_t m = m0; m < m1; m++) {
      const float *xr = j->x + m * j->inner;
      for (int i = 0; i < j->inner; i++) acc[i] += xr[i];
    }
  }
}

typedef struct {
  const float *x;
  float *out;
  int mid, inner;
} summid_job;

static void summid_range(void *p, size_t o0, size_t o1) {
  const summid_job *j = (const summid_job *)p;
  const int mid = j->mid, inner = j->inner;
  double *acc = inner > 1 ? (double *)malloc((size_t)inner * sizeof(double)) : NULL;
  for (size_t o = o0; o < o1; o++) {
    const float *xo = j->x + o * mid * inner;
    if (inner == 1 || !acc) {
      for (int i = 0; i < inner; i++) {
        double s = 0;
        for (int m = 0; m < mid; m++) s += xo[(size_t)m * inner + i];
        j->out[o * inner + i] = (float)s;
      }
      continue;
    }
    memset(acc, 0, (size_t)inner * sizeof(double));
    for (int m = 0; m < mid; m++) {
      const float *xr = xo + (size_t)m * inner;
      for (int i = 0; i < inner; i++) acc[i] += xr[i];
    }
    for (int i = 0; i < inner; i++) j->out[o * inner + i] = (float)acc[i];
  }
  free(acc);
}

// sumMiddle(x, out, outer, mid, inner): x viewed as [outer, mid, inner], out[o, i] = Σ_m x[o, m, i]. Covers the sums
// of NHWC training: over N, H, W (outer 1), over H, W (global pooling), and over the last axis (inner 1).
// Accumulates in double.
static napi_value js_sum_middle(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  size_t lx, lo;
  int32_t outer, mid, inner;
  if (argc < 5 || !get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &out, &lo) ||
      napi_get_value_int32(env, argv[2], &outer) != napi_ok || napi_get_value_int32(env, argv[3], &mid) != napi_ok ||
      napi_get_value_int32(env, argv[4], &inner) != napi_ok) {
    if (argc < 5) napi_throw_type_error(env, NULL, "curio_cpu: sumMiddle needs 5 arguments");
    return NULL;
  }
  if (outer < 0 || mid < 0 || inner < 0) {
    napi_throw_range_error(env, NULL, "curio_cpu: sumMiddle dims out of range");
    return NULL;
  }
  if (!need(env, lx, (size_t)outer * mid * inner, "x") || !need(env, lo, (size_t)outer * inner, "out")) return NULL;
  if ((size_t)outer * inner == 0) return NULL;
  if (outer == 1 && inner > 1) {
    // one long reduction down the rows (batch norm's N·H·W): parts of the rows per thread, then their sum
    const size_t parts = (size_t)n_threads < (size_t)mid * inner / GRAIN ? (size_t)n_threads : (size_t)mid * inner / GRAIN;
    const size_t t = parts < 1 ? 1 : parts;
    double *partial = (double *)calloc(t * (size_t)inner, sizeof(double));
    if (!partial) {
      napi_throw_error(env, NULL, "curio_cpu: out of memory");
      return NULL;
    }
    colsum_job j = {x, partial, mid, inner, t};
    parallel_for(t, 1, colsum_range, &j);
    for (int i = 0; i < inner; i++) {
      double v = 0;
      for (size_t k = 0; k < t; k++) v += partial[k * inner + i];
      out[i] = (float)v;
    }
    free(partial);
    return NULL;
  }
  summid_job j = {x, out, mid, inner};
  parallel_for((size_t)outer, GRAIN / ((size_t)mid * inner + 1) + 1, summid_range, &j);
  return NULL;
}

// ---- batch norm (training: batch statistics over every axis but the last) ----------------------------------------

typedef struct {
  const float *x, *dy, *w, *b;
  float *y, *dx;
  const double *mean, *istd, *gsum, *gdot;  // per channel
  double *part_a, *part_b;                  // per part × channel
  const float *scale_shift;                 // forward: [c] scales, then [c] shifts
  size_t rows, parts;
  int c;
} bn_job;

// per part: Σ x into part_a (pass 1 of the forward)
static void bn_sum_range(void *p, size_t k0, size_t k1) {
  const bn_job *j = (const bn_job *)p;
  for (size_t k = k0; k < k1; k++) {
    double *acc = j->part_a + k * j->c;
    for (size_t r = j->rows * k / j->parts; r < j->rows * (k + 1) / j->parts; r++) {
      const float *xr = j->x + r * j->c;
      for (int i = 0; i < j->c; i++) acc[i] += xr[i];
    }
  }
}

// per part: Σ (x − mean)² into part_a (pass 2 of the forward)
static void bn_var_range(void *p, size_t k0, size_t k1) {
  const bn_job *j = (const bn_job *)p;
  for (size_t k = k0; k < k1; k++) {
    double *acc = j->part_a + k * j->c;
    for (size_t r = j->rows * k / j->parts; r < j->rows * (k + 1) / j->parts; r++) {
      const float *xr = j->x + r * j->c;
      for (int i = 0; i < j->c; i++) {
        const double d = xr[i] - j->mean[i];
        acc[i] += d * d;
      }
    }
  }
}

// rows: y = (x − mean)·istd·w + b, as scale·x + shift in float
static void bn_apply_range(void *p, size_t r0, size_t r1) {
  const bn_job *j = (const bn_job *)p;
  const int c = j->c;
  const float *scale = j->scale_shift, *shift = scale + c;
  for (size_t r = r0; r < r1; r++) {
    const float *xr = j->x + r * c;
    float *yr = j->y + r * c;
    for (int i = 0; i < c; i++) yr[i] = xr[i] * scale[i] + shift[i];
  }
}

// per part: Σ dy into part_a and Σ dy·x̂ into part_b
static void bn_grad_sums_range(void *p, size_t k0, size_t k1) {
  const bn_job *j = (const bn_job *)p;
  for (size_t k = k0; k < k1; k++) {
    double *sa = j->part_a + k * j->c, *sb = j->part_b + k * j->c;
    for (size_t r = j->rows * k / j->parts; r < j->rows * (k + 1) / j->parts; r++) {
      const float *xr = j->x + r * j->c, *gr = j->dy + r * j->c;
      for (int i = 0; i < j->c; i++) {
        sa[i] += gr[i];
        sb[i] += gr[i] * (xr[i] - j->mean[i]) * j->istd[i];
      }
    }
  }
}

// rows: dx = w·istd/R · (R·dy − Σdy − x̂·Σ dy·x̂)
static void bn_dx_range(void *p, size_t r0, size_t r1) {
  const bn_job *j = (const bn_job *)p;
  const int c = j->c;
  const double n = (double)j->rows;
  for (size_t r = r0; r < r1; r++) {
    const float *xr = j->x + r * c, *gr = j->dy + r * c;
    float *dr = j->dx + r * c;
    for (int i = 0; i < c; i++) {
      const double xhat = (xr[i] - j->mean[i]) * j->istd[i];
      dr[i] = (float)(j->w[i] * j->istd[i] / n * (n * gr[i] - j->gsum[i] - xhat * j->gdot[i]));
    }
  }
}

static size_t bn_parts(size_t rows, int c) {
  size_t t = (size_t)n_threads, by_size = rows * (size_t)c / GRAIN;
  if (t > by_size) t = by_size;
  return t < 1 ? 1 : t;
}

static void sum_parts(const double *parts, size_t nparts, int c, double *out) {
  for (int i = 0; i < c; i++) {
    double v = 0;
    for (size_t k = 0; k < nparts; k++) v += parts[k * c + i];
    out[i] = v;
  }
}

// bnForward(x, w, b, y, mean, variance, rows, c, eps): batch statistics over the rows (biased variance, as
// tf.moments), y = (x − mean)/√(variance + eps)·w + b. Two passes for the statistics, so the variance does not
// cancel catastrophically.
static napi_value js_bn_forward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *w, *b, *y, *mo, *vo;
  size_t lx, lw, lb, ly, lm, lv;
  int32_t rows, c;
  double eps;
  if (argc < 9 || !get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &w, &lw) || !get_f32(env, argv[2], &b, &lb) ||
      !get_f32(env, argv[3], &y, &ly) || !get_f32(env, argv[4], &mo, &lm) || !get_f32(env, argv[5], &vo, &lv) ||
      napi_get_value_int32(env, argv[6], &rows) != napi_ok || napi_get_value_int32(env, argv[7], &c) != napi_ok ||
      napi_get_value_double(env, argv[8], &eps) != napi_ok) {
    if (argc < 9) napi_throw_type_error(env, NULL, "curio_cpu: bnForward needs 9 arguments");
    return NULL;
  }
  if (rows < 1 || c < 1) {
    napi_throw_range_error(env, NULL, "curio_cpu: bnForward needs rows ≥ 1 and channels ≥ 1");
    return NULL;
  }
  const size_t total = (size_t)rows * c;
  if (!need(env, lx, total, "x") || !need(env, ly, total, "y") || !need(env, lw, c, "weight") || !need(env, lb, c, "bias") ||
      !need(env, lm, c, "mean") || !need(env, lv, c, "variance"))
    return NULL;
  const size_t parts = bn_parts((size_t)rows, c);
  double *buf = (double *)calloc(parts * c + 2 * (size_t)c, sizeof(double));
  float *sc = (float *)malloc(2 * (size_t)c * sizeof(float));
  if (!buf || !sc) {
    free(buf);
    free(sc);
    napi_throw_error(env, NULL, "curio_cpu: out of memory");
    return NULL;
  }
  double *mean = buf + parts * c, *var = mean + c;
  bn_job j = {.x = x, .y = y, .mean = mean, .part_a = buf, .scale_shift = sc, .rows = (size_t)rows, .parts = parts, .c = c};
  parallel_for(parts, 1, bn_sum_range, &j);
  sum_parts(buf, parts, c, mean);
  for (int i = 0; i < c; i++) mean[i] /= rows;
  memset(buf, 0, parts * c * sizeof(double));
  parallel_for(parts, 1, bn_var_range, &j);
  sum_parts(buf, parts, c, var);
  for (int i = 0; i < c; i++) {
    var[i] /= rows;
    const double istd = 1.0 / sqrt(var[i] + eps);
    sc[i] = (float)(istd * w[i]);
    sc[c + i] = (float)(b[i] - mean[i] * istd * w[i]);
    mo[i] = (float)mean[i];
    vo[i] = (float)var[i];
  }
  parallel_for((size_t)rows, GRAIN / (size_t)c + 1, bn_apply_range, &j);
  free(buf);
  free(sc);
  return NULL;
}

// bnBackward(dy, x, w, mean, variance, dx, dw, db, rows, c, eps): the gradients of bnForward's y through the batch
// statistics: db = Σ dy, dw = Σ dy·x̂, dx = w/σ/R·(R·dy − db − x̂·dw)
static napi_value js_bn_backward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *dy, *x, *w, *mi, *vi, *dx, *dw, *db;
  size_t l0, l1, l2, l3, l4, l5, l6, l7;
  int32_t rows, c;
  double eps;
  if (argc < 11 || !get_f32(env, argv[0], &dy, &l0) || !get_f32(env, argv[1], &x, &l1) || !get_f32(env, argv[2], &w, &l2) ||
      !get_f32(env, argv[3], &mi, &l3) || !get_f32(env, argv[4], &vi, &l4) || !get_f32(env, argv[5], &dx, &l5) ||
      !get_f32(env, argv[6], &dw, &l6) || !get_f32(env, argv[7], &db, &l7) ||
      napi_get_value_int32(env, argv[8], &rows) != napi_ok || napi_get_value_int32(env, argv[9], &c) != napi_ok ||
      napi_get_value_double(env, argv[10], &eps) != napi_ok) {
    if (argc < 11) napi_throw_type_error(env, NULL, "curio_cpu: bnBackward needs 11 arguments");
    return NULL;
  }
  if (rows < 1 || c < 1) {
    napi_throw_range_error(env, NULL, "curio_cpu: bnBackward needs rows ≥ 1 and channels ≥ 1");
    return NULL;
  }
  const size_t total = (size_t)rows * c;
  if (!need(env, l0, total, "dy") || !need(env, l1, total, "x") || !need(env, l5, total, "dx") || !need(env, l2, c, "weight") ||
      !need(env, l3, c, "mean") || !need(env, l4, c, "variance") || !need(env, l6, c, "dw") || !need(env, l7, c, "db"))
    return NULL;
  const size_t parts = bn_parts((size_t)rows, c);
  double *buf = (double *)calloc(2 * parts * c + 4 * (size_t)c, sizeof(double));
  if (!buf) {
    napi_throw_error(env, NULL, "curio_cpu: out of memory");
    return NULL;
  }
  double *pa = buf, *pb = buf + parts * c, *mean = pb + parts * c, *istd = mean + c, *gsum = istd + c, *gdot = gsum + c;
  for (int i = 0; i < c; i++) {
    mean[i] = mi[i];
    istd[i] = 1.0 / sqrt((double)vi[i] + eps);
  }
  bn_job j = {.x = x, .dy = dy, .w = w, .dx = dx, .mean = mean, .istd = istd, .gsum = gsum, .gdot = gdot, .part_a = pa,
              .part_b = pb, .rows = (size_t)rows, .parts = parts, .c = c};
  parallel_for(parts, 1, bn_grad_sums_range, &j);
  sum_parts(pa, parts, c, gsum);
  sum_parts(pb, parts, c, gdot);
  for (int i = 0; i < c; i++) {
    db[i] = (float)gsum[i];
    dw[i] = (float)gdot[i];
  }
  parallel_for((size_t)rows, GRAIN / (size_t)c + 1, bn_dx_range, &j);
  free(buf);
  return NULL;
}

// ---- augmentation kernels (forward only) -----------------------------------------------------------------------

// transpose(x, out, shape Int32Array[rank], perm Int32Array[rank]): out = x permuted, rank ≤ 8
static napi_value js_transpose(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  int32_t *shape, *perm;
  size_t lx, lo, rank, lp;
  if (argc < 4 || !get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &out, &lo) ||
      !get_i32(env, argv[2], &shape, &rank) || !get_i32(env, argv[3], &perm, &lp)) {
    if (argc < 4) napi_throw_type_error(env, NULL, "curio_cpu: transpose needs 4 arguments");
    return NULL;
  }
  if (rank < 1 || rank > 8 || lp != rank) {
    napi_throw_range_error(env, NULL, "curio_cpu: transpose supports ranks 1 to 8");
    return NULL;
  }
  size_t in_stride[8], total = 1;
  for (int k = (int)rank - 1; k >= 0; k--) {
    if (shape[k] < 0) {
      napi_throw_range_error(env, NULL, "curio_cpu: negative dimension");
      return NULL;
    }
    in_stride[k] = total;
    total *= (size_t)shape[k];
  }
  if (!need(env, lx, total, "x") || !need(env, lo, total, "out")) return NULL;
  if (total == 0) return NULL;
  size_t odim[8], ostr[8];  // output dims and the input stride of each output axis
  for (size_t k = 0; k < rank; k++) {
    if (perm[k] < 0 || (size_t)perm[k] >= rank) {
      napi_throw_range_error(env, NULL, "curio_cpu: bad permutation");
      return NULL;
    }
    odim[k] = (size_t)shape[perm[k]];
    ostr[k] = in_stride[perm[k]];
  }
  size_t idx[8] = {0};
  const size_t last = rank - 1, dl = odim[last], sl = ostr[last];
  size_t base = 0;
  for (size_t o = 0; o < total; o += dl) {
    const float *src = x + base;
    float *dst = out + o;
    if (sl == 1) memcpy(dst, src, dl * sizeof(float));
    else
      for (size_t j = 0; j < dl; j++) dst[j] = src[j * sl];
    // advance the odometer over the outer output axes
    for (int k = (int)last - 1; k >= 0; k--) {
      idx[k]++;
      base += ostr[k];
      if (idx[k] < odim[k]) break;
      base -= ostr[k] * odim[k];
      idx[k] = 0;
    }
  }
  return NULL;
}

// mirrorPad(x, out, shape Int32Array[rank], before Int32Array[rank], after Int32Array[rank], offset): reflect
// (offset 0) or symmetric (offset 1) padding, rank ≤ 8
static napi_value js_mirror_pad(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  int32_t *shape, *before, *after, offset;
  size_t lx, lo, rank, lb, la;
  if (argc < 6 || !get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &out, &lo) ||
      !get_i32(env, argv[2], &shape, &rank) || !get_i32(env, argv[3], &before, &lb) ||
      !get_i32(env, argv[4], &after, &la) || napi_get_value_int32(env, argv[5], &offset) != napi_ok) {
    if (argc < 6) napi_throw_type_error(env, NULL, "curio_cpu: mirrorPad needs 6 arguments");
    return NULL;
  }
  if (rank < 1 || rank > 8 || lb != rank || la != rank || (offset != 0 && offset != 1)) {
    napi_throw_range_error(env, NULL, "curio_cpu: mirrorPad arguments out of range");
    return NULL;
  }
  size_t in_total = 1, out_total = 1, odim[8], in_stride[8];
  for (int k = (int)rank - 1; k >= 0; k--) {
    const int lim = shape[k] - (offset == 0 ? 1 : 0);
    if (shape[k] < 1 || before[k] < 0 || after[k] < 0 || before[k] > lim || after[k] > lim) {
      napi_throw_range_error(env, NULL, "curio_cpu: mirror padding larger than the input allows");
      return NULL;
    }
    in_stride[k] = in_total;
    in_total *= (size_t)shape[k];
    odim[k] = (size_t)shape[k] + before[k] + after[k];
    out_total *= odim[k];
  }
  if (!need(env, lx, in_total, "x") || !need(env, lo, out_total, "out")) return NULL;
  // per axis: the input offset of each output coordinate
  size_t maps_len = 0;
  for (size_t k = 0; k < rank; k++) maps_len += odim[k];
  size_t *maps = (size_t *)malloc(maps_len * sizeof(size_t));
  if (!maps) {
    napi_throw_error(env, NULL, "curio_cpu: out of memory");
    return NULL;
  }
  size_t *map[8];
  size_t at = 0;
  for (size_t k = 0; k < rank; k++) {
    map[k] = maps + at;
    at += odim[k];
    const int n = shape[k];
    for (size_t o = 0; o < odim[k]; o++) {
      int i = (int)o - before[k];
      if (i < 0) i = -i - offset;
      else if (i >= n) i = 2 * (n - 1) - i + offset;
      map[k][o] = (size_t)i * in_stride[k];
    }
  }
  size_t idx[8] = {0};
  const size_t last = rank - 1, dl = odim[last];
  for (size_t o = 0; o < out_total; o += dl) {
    size_t base = 0;
    for (size_t k = 0; k < last; k++) base += map[k][idx[k]];
    const float *src = x + base;
    float *dst = out + o;
    for (size_t j = 0; j < dl; j++) dst[j] = src[map[last][j]];
    for (int k = (int)last - 1; k >= 0; k--) {
      if (++idx[k] < odim[k]) break;
      idx[k] = 0;
    }
  }
  free(maps);
  return NULL;
}

// depthwiseConv2d(x, filter, out, dims[n, h, w, c, kh, kw, mult, oh, ow, sh, sw, pt, pl, dh, dw]): NHWC input,
// filter [kh, kw, c, mult], out[n, oh, ow, c·mult + m]
static napi_value js_depthwise_conv2d(napi_env env, napi_callback_info info) {
  CONV_ARGS(4);
  float *x, *w, *out;
  size_t lx, lw, lo;
  conv_dims d;  // oc holds the channel multiplier here
  if (!get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &w, &lw) || !get_f32(env, argv[2], &out, &lo) ||
      !read_conv_dims(env, argv[3], &d))
    return NULL;
  const int mult = d.oc, oc = d.c * mult;
  if (!need(env, lx, (size_t)d.n * d.h * d.w * d.c, "x") || !need(env, lw, (size_t)d.kh * d.kw * oc, "filter") ||
      !need(env, lo, (size_t)d.n * d.oh * d.ow * oc, "out"))
    return NULL;
  memset(out, 0, (size_t)d.n * d.oh * d.ow * oc * sizeof(float));
  for (int n = 0; n < d.n; n++) {
    const float *xn = x + (size_t)n * d.h * d.w * d.c;
    for (int oh = 0; oh < d.oh; oh++)
      for (int ow = 0; ow < d.ow; ow++) {
        float *o = out + (((size_t)n * d.oh + oh) * d.ow + ow) * oc;
        for (int kh = 0; kh < d.kh; kh++) {
          const int ih = oh * d.sh - d.pt + kh * d.dh;
          if (ih < 0 || ih >= d.h) continue;
          for (int kw = 0; kw < d.kw; kw++) {
            const int iw = ow * d.sw - d.pl + kw * d.dw;
            if (iw < 0 || iw >= d.w) continue;
            const float *xi = xn + ((size_t)ih * d.w + iw) * d.c;
            const float *f = w + ((size_t)kh * d.kw + kw) * oc;
            if (mult == 1)
              for (int c = 0; c < d.c; c++) o[c] += xi[c] * f[c];
            else
              for (int c = 0; c < d.c; c++)
                for (int m = 0; m < mult; m++) o[c * mult + m] += xi[c] * f[c * mult + m];
          }
        }
      }
  }
  return NULL;
}

// cropAndResize(image, boxes, boxInd Int32Array, out, dims[batch, h, w, ch, numBoxes, cropH, cropW, nearest],
// extrapolation): tf.image.cropAndResize's arithmetic (TensorFlow's crop_and_resize_op), with the same
// float64 index math as tfjs's cpu kernel
static napi_value js_crop_and_resize(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *img, *boxes, *out;
  int32_t *bind, *p;
  size_t li, lb, lbi, lo, ld;
  double extrap = 0;
  if (argc < 6 || !get_f32(env, argv[0], &img, &li) || !get_f32(env, argv[1], &boxes, &lb) ||
      !get_i32(env, argv[2], &bind, &lbi) || !get_f32(env, argv[3], &out, &lo) || !get_i32(env, argv[4], &p, &ld) ||
      napi_get_value_double(env, argv[5], &extrap) != napi_ok) {
    if (argc < 6) napi_throw_type_error(env, NULL, "curio_cpu: cropAndResize needs 6 arguments");
    return NULL;
  }
  if (ld < 8) {
    napi_throw_range_error(env, NULL, "curio_cpu: cropAndResize dims need 8 entries");
    return NULL;
  }
  const int batch = p[0], H = p[1], W = p[2], C = p[3], nb = p[4], ch = p[5], cw = p[6], nearest = p[7];
  if (batch < 0 || H < 1 || W < 1 || C < 1 || nb < 0 || ch < 1 || cw < 1) {
    napi_throw_range_error(env, NULL, "curio_cpu: cropAndResize dims out of range");
    return NULL;
  }
  const size_t osz = (size_t)nb * ch * cw * C;
  if (!need(env, li, (size_t)batch * H * W * C, "image") || !need(env, lb, (size_t)nb * 4, "boxes") ||
      !need(env, lbi, (size_t)nb, "boxInd") || !need(env, lo, osz, "out"))
    return NULL;
  memset(out, 0, osz * sizeof(float));
  const float ev = (float)extrap;
  for (int b = 0; b < nb; b++) {
    const double y1 = boxes[b * 4], x1 = boxes[b * 4 + 1], y2 = boxes[b * 4 + 2], x2 = boxes[b * 4 + 3];
    const int bi = bind[b];
    if (bi < 0 || bi >= batch) continue;
    const float *im = img + (size_t)bi * H * W * C;
    const double hs = ch > 1 ? (y2 - y1) * (H - 1) / (ch - 1) : 0;
    const double ws = cw > 1 ? (x2 - x1) * (W - 1) / (cw - 1) : 0;
    for (int y = 0; y < ch; y++) {
      float *orow = out + (((size_t)b * ch + y) * cw) * C;
      const double yi = ch > 1 ? y1 * (H - 1) + y * hs : 0.5 * (y1 + y2) * (H - 1);
      if (yi < 0 || yi > H - 1) {
        for (size_t j = 0; j < (size_t)cw * C; j++) orow[j] = ev;
        continue;
      }
      const int top = (int)floor(yi), bottom = (int)ceil(yi);
      const double yl = yi - top;
      for (int x = 0; x < cw; x++) {
        float *o = orow + (size_t)x * C;
        const double xi = cw > 1 ? x1 * (W - 1) + x * ws : 0.5 * (x1 + x2) * (W - 1);
        if (xi < 0 || xi > W - 1) {
          for (int c = 0; c < C; c++) o[c] = ev;
          continue;
        }
        if (nearest) {
          const int cx = (int)floor(xi + 0.5), cy = (int)floor(yi + 0.5);
          const float *s = im + ((size_t)cy * W + cx) * C;
          for (int c = 0; c < C; c++) o[c] = s[c];
          continue;
        }
        const int left = (int)floor(xi), right = (int)ceil(xi);
        const double xl = xi - left;
        const float *tl = im + ((size_t)top * W + left) * C, *tr = im + ((size_t)top * W + right) * C;
        const float *bl = im + ((size_t)bottom * W + left) * C, *br = im + ((size_t)bottom * W + right) * C;
        for (int c = 0; c < C; c++) {
          const double t = tl[c] + (tr[c] - tl[c]) * xl;
          const double bo = bl[c] + (br[c] - bl[c]) * xl;
          o[c] = (float)(t + (bo - t) * yl);
        }
      }
    }
  }
  return NULL;
}

// ---- module -----------------------------------------------------------------------------------------------------

static napi_value init_module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropInput", NULL, js_conv2d_backprop_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropFilter", NULL, js_conv2d_backprop_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"matmul", NULL, js_matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binaryStrided", NULL, js_binary_strided, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, js_unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnForward", NULL, js_bn_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnBackward", NULL, js_bn_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transpose", NULL, js_transpose, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mirrorPad", NULL, js_mirror_pad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"depthwiseConv2d", NULL, js_depthwise_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"cropAndResize", NULL, js_crop_and_resize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumMiddle", NULL, js_sum_middle, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(curio_cpu, init_module)
