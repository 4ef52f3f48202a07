/* Fused optimizer steps: the optional compiled twin of mlplab.optim's readable transforms.
 *
 * NumPy runs an optimizer step one array operation at a time, each a pass over every parameter
 * (Adam with its learning rate and w += u: about 20). Here an optimizer's chain of update rules
 * runs block by block: a block of the gradient is copied into a small buffer u that stays in
 * L1, every rule of the chain updates u (and its own state) in place, then w += u (or out = u).
 * Memory is read and written once per step. mlplab/optim/fast.py is the only caller.
 *
 * Each rule does the float operations of its readable transform (mlplab/optim/transforms.py),
 * in the same order and precision, and the build turns off FMA contraction, so the two paths
 * give the same bits; the tests compare them. Rules, their state arrays and their scalars
 * (c = 1 - decay, passed so that it is rounded as Python rounds it; F(x) = 0 where |x| < thr,
 * else x: the flush of would-be subnormals, thr = 0 on updates that do not flush):
 *
 *   SCALE     -    s                          u = s * u
 *   MOMENTUM  v    mu thr                     v = mu v + u;  u = v;  v = F(v)
 *   NESTEROV  v    mu thr                     v = mu v + u;  u = u + mu v;  v = F(v)
 *   ADAGRAD   G    eps                        G = G + u u;  u = u / (sqrt(G) + eps)
 *   RMS       E    rho c eps thr              E = rho E + c u u;  u = u / (sqrt(E) + eps);
 *                                             E = F(E)
 *   ADADELTA  E D  rho c eps thr              E = rho E + c u u;
 *                                             d = sqrt(D + eps) / sqrt(E + eps) u;
 *                                             D = rho D + c d d;  u = d;  E, D = F(E), F(D)
 *   ADAM      m v  b1 c1 b2 c2 a e thr       m = b1 m + c1 u;  v = b2 v + c2 u u;
 *                                             u = a m / (sqrt(v) + e);  m, v = F(m), F(v)
 *                                             (a, e: the bias-corrected rate and epsilon)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

enum { SCALE, MOMENTUM, NESTEROV, ADAGRAD, RMS, ADADELTA, ADAM, N_RULES };
static const int N_STATE[N_RULES] = {0, 1, 1, 1, 1, 2, 2};
static const int N_SCALARS[N_RULES] = {1, 2, 2, 1, 4, 4, 7};

#define BLOCK 512
#define MAX_ARRAYS 16
#define MAX_SCALARS 32

/* Wider vector units where the CPU has them (chosen at load time); the arithmetic is the same
 * IEEE operations either way, so results do not depend on the CPU. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* One function per element type; T is float or double, SQRT and ABS its functions. */
#define DEFINE_SWEEP(NAME, T, SQRT, ABS)                                                       \
VECTOR_CLONES static void NAME(Py_ssize_t n, const unsigned char *prog, Py_ssize_t n_rules,    \
                               const double *scalars_in, int apply, const T *g, T *out,        \
                               T **state)                                                      \
{                                                                                              \
    T s[MAX_SCALARS];                                                                          \
    for (int k = 0; k < MAX_SCALARS; k++) s[k] = (T)scalars_in[k];                             \
    T u[BLOCK];                                                                                \
    for (Py_ssize_t start = 0; start < n; start += BLOCK) {                                    \
        const Py_ssize_t len = n - start < BLOCK ? n - start : BLOCK;                          \
        memcpy(u, g + start, (size_t)len * sizeof(T));                                         \
        int si = 0, ai = 0;                                                                    \
        for (Py_ssize_t r = 0; r < n_rules; r++) {                                             \
            switch (prog[r]) {                                                                 \
            case SCALE: {                                                                      \
                const T c = s[si];                                                             \
                for (Py_ssize_t i = 0; i < len; i++) u[i] = c * u[i];                          \
                break; }                                                                       \
            case MOMENTUM: {                                                                   \
                T *x = state[ai] + start;                                                      \
                const T mu = s[si], thr = s[si + 1];                                           \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T v = mu * x[i] + u[i]; u[i] = v;                                          \
                    x[i] = ABS(v) < thr ? (T)0 : v; }                                          \
                break; }                                                                       \
            case NESTEROV: {                                                                   \
                T *x = state[ai] + start;                                                      \
                const T mu = s[si], thr = s[si + 1];                                           \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T v = mu * x[i] + u[i]; u[i] = u[i] + mu * v;                              \
                    x[i] = ABS(v) < thr ? (T)0 : v; }                                          \
                break; }                                                                       \
            case ADAGRAD: {                                                                    \
                T *x = state[ai] + start;                                                      \
                const T eps = s[si];                                                           \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T G = x[i] + u[i] * u[i]; x[i] = G; u[i] = u[i] / (SQRT(G) + eps); }       \
                break; }                                                                       \
            case RMS: {                                                                        \
                T *x = state[ai] + start;                                                      \
                const T rho = s[si], c = s[si + 1], eps = s[si + 2], thr = s[si + 3];          \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T E = rho * x[i] + c * u[i] * u[i];                                        \
                    u[i] = u[i] / (SQRT(E) + eps);                                             \
                    x[i] = ABS(E) < thr ? (T)0 : E; }                                          \
                break; }                                                                       \
            case ADADELTA: {                                                                   \
                T *x = state[ai] + start, *y = state[ai + 1] + start;                          \
                const T rho = s[si], c = s[si + 1], eps = s[si + 2], thr = s[si + 3];          \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T E = rho * x[i] + c * u[i] * u[i];                                        \
                    T d = SQRT(y[i] + eps) / SQRT(E + eps) * u[i];                             \
                    T D = rho * y[i] + c * d * d; u[i] = d;                                    \
                    x[i] = ABS(E) < thr ? (T)0 : E;                                            \
                    y[i] = ABS(D) < thr ? (T)0 : D; }                                          \
                break; }                                                                       \
            case ADAM: {                                                                       \
                T *x = state[ai] + start, *y = state[ai + 1] + start;                          \
                const T b1 = s[si], c1 = s[si + 1], b2 = s[si + 2], c2 = s[si + 3];            \
                const T a = s[si + 4], e = s[si + 5], thr = s[si + 6];                         \
                for (Py_ssize_t i = 0; i < len; i++) {                                         \
                    T m = b1 * x[i] + c1 * u[i];                                               \
                    T v = b2 * y[i] + c2 * u[i] * u[i];                                        \
                    u[i] = a * m / (SQRT(v) + e);                                              \
                    x[i] = ABS(m) < thr ? (T)0 : m;                                            \
                    y[i] = ABS(v) < thr ? (T)0 : v; }                                          \
                break; }                                                                       \
            }                                                                                  \
            si += N_SCALARS[prog[r]];                                                          \
            ai += N_STATE[prog[r]];                                                            \
        }                                                                                      \
        T *o = out + start;                                                                    \
        if (apply) for (Py_ssize_t i = 0; i < len; i++) o[i] = o[i] + u[i];                    \
        else memcpy(o, u, (size_t)len * sizeof(T));                                            \
    }                                                                                          \
}

DEFINE_SWEEP(sweep_float, float, sqrtf, fabsf)
DEFINE_SWEEP(sweep_double, double, sqrt, fabs)

/* sweep(program: bytes, scalars: tuple[float], apply: bool, g, out, *state) -> None
 * All arrays C-contiguous, of one float type ('f' or 'd') and one length; g is only read. */
static PyObject *sweep(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 5) {
        PyErr_SetString(PyExc_TypeError, "sweep(program, scalars, apply, g, out, *state)");
        return NULL;
    }
    char *prog;
    Py_ssize_t n_rules;
    if (PyBytes_AsStringAndSize(args[0], &prog, &n_rules) < 0) return NULL;
    int need_state = 0, need_scalars = 0;
    for (Py_ssize_t r = 0; r < n_rules; r++) {
        unsigned char rule = (unsigned char)prog[r];
        if (rule >= N_RULES) {
            PyErr_Format(PyExc_ValueError, "sweep: unknown rule %d", (int)rule);
            return NULL;
        }
        need_state += N_STATE[rule];
        need_scalars += N_SCALARS[rule];
    }
    if (!PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != need_scalars
            || need_scalars > MAX_SCALARS || nargs - 5 != need_state || need_state > MAX_ARRAYS) {
        PyErr_SetString(PyExc_ValueError,
                        "sweep: the program's scalars or state arrays do not match");
        return NULL;
    }
    double scalars[MAX_SCALARS] = {0};
    for (int k = 0; k < need_scalars; k++) {
        scalars[k] = PyFloat_AsDouble(PyTuple_GET_ITEM(args[1], k));
        if (scalars[k] == -1.0 && PyErr_Occurred()) return NULL;
    }
    int apply = PyObject_IsTrue(args[2]);
    if (apply < 0) return NULL;

    Py_ssize_t n_arrays = nargs - 3;
    Py_buffer views[MAX_ARRAYS + 2];
    Py_ssize_t got = 0;
    PyObject *result = NULL;
    char kind = 0;
    Py_ssize_t n = 0;
    for (; got < n_arrays; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got == 0 ? 0 : PyBUF_WRITABLE);
        if (PyObject_GetBuffer(args[3 + got], &views[got], flags) < 0) goto done;
        const char *fmt = views[got].format ? views[got].format : "B";
        if (fmt[0] == '=' || fmt[0] == '<' || fmt[0] == '@') fmt++;
        char k = fmt[0];
        Py_ssize_t len = views[got].len / (views[got].itemsize ? views[got].itemsize : 1);
        if ((k != 'f' && k != 'd') || fmt[1] != '\0' || (got > 0 && (k != kind || len != n))) {
            got++;
            PyErr_SetString(PyExc_ValueError,
                            "sweep: arrays must be float32 or float64, all alike, of one length");
            goto done;
        }
        kind = k;
        n = len;
    }
    void *state[MAX_ARRAYS] = {0};
    for (Py_ssize_t k = 2; k < n_arrays; k++) state[k - 2] = views[k].buf;
    Py_BEGIN_ALLOW_THREADS
    if (kind == 'f')
        sweep_float(n, (const unsigned char *)prog, n_rules, scalars, apply,
                    (const float *)views[0].buf, (float *)views[1].buf, (float **)state);
    else
        sweep_double(n, (const unsigned char *)prog, n_rules, scalars, apply,
                     (const double *)views[0].buf, (double *)views[1].buf, (double **)state);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    for (Py_ssize_t k = 0; k < got; k++) PyBuffer_Release(&views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"sweep", (PyCFunction)(void (*)(void))sweep, METH_FASTCALL,
     "sweep(program, scalars, apply, g, out, *state): one fused optimizer step over flat arrays."},
    {NULL, NULL, 0, NULL},
};

static const char *RULE_NAMES[N_RULES] = {"scale", "momentum", "nesterov", "adagrad", "rms",
                                          "adadelta", "adam"};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sweep",
                                    "Fused optimizer sweeps (see _sweep.c).", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sweep(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *rules = PyDict_New();
    for (int r = 0; r < N_RULES; r++) {
        PyObject *spec = Py_BuildValue("(iii)", r, N_STATE[r], N_SCALARS[r]);
        if (spec == NULL || PyDict_SetItemString(rules, RULE_NAMES[r], spec) < 0) {
            Py_XDECREF(spec);
            Py_DECREF(rules);
            Py_DECREF(m);
            return NULL;
        }
        Py_DECREF(spec);
    }
    /* name -> (id, state arrays, scalars) */
    if (PyModule_AddObject(m, "RULES", rules) < 0) {
        Py_DECREF(rules);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
