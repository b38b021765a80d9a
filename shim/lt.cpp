// lt.cpp — the C API over libtorch declared in lt.h; the only C++ file of lamac.
//
// Mechanical by design: each function forwards to one ATen/autograd call. LT_TRY turns
// every C++ exception into a one-line thread-local message and a NULL / -1 result.
// A handle is a heap box around an at::Tensor plus its position in the scope that owns it.
#include "shim/lt.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/Event.h>
#include <c10/core/GradMode.h>
#include <c10/core/Stream.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/cuda.h>
#include <torch/version.h>

// c10d (distributed): LT_WITH_GLOO / LT_WITH_NCCL are set by CMake when the Gloo headers (and
// a CUDA libtorch with NCCL) were found. ProcessGroupGloo derives from c10d::ProcessGroup in
// libtorch 1.x and from c10d::Backend in 2.x; both have the collectives used here.
#if defined(LT_WITH_GLOO) || defined(LT_WITH_NCCL)
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef LT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#define LT_HAVE_C10D 1
#if TORCH_VERSION_MAJOR >= 2
using lt_c10d_group = c10d::Backend;
#else
using lt_c10d_group = c10d::ProcessGroup;
#endif
#include <chrono>
#endif

// A CUDA libtorch (CMake sets LT_WITH_CUDA): the caching allocator's statistics.
#ifdef LT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <dlfcn.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

struct lt_tensor {
    at::Tensor t;
    long scope; // index of the owning scope on this thread's stack, -1 = caller-owned
    size_t slot; // position inside that scope's vector
    uint64_t owner; // id of the thread whose scope owns it (0 = caller-owned)
};

namespace {

thread_local std::string g_err;
std::atomic<long> g_live{0};
thread_local std::vector<std::vector<lt_tensor *>> g_scopes;
thread_local std::vector<bool> g_grad_stack;
std::atomic<uint64_t> g_next_tid{1};

// A small id per thread (never reused within the process), to recognise the thread whose
// scope owns a handle.
uint64_t this_tid() {
    thread_local uint64_t tid = g_next_tid++;
    return tid;
}

void set_err(const char *m) {
    std::string s(m ? m : "unknown error");
    size_t nl = s.find('\n'); // one line: drop C++ backtraces and notes
    if (nl != std::string::npos) s.resize(nl);
    g_err = s;
}

lt_tensor *wrap(at::Tensor t) {
    lt_tensor *h = new lt_tensor{std::move(t), -1, 0, 0};
    g_live++;
    if (!g_scopes.empty()) {
        h->scope = (long)g_scopes.size() - 1;
        h->slot = g_scopes.back().size();
        h->owner = this_tid();
        g_scopes.back().push_back(h);
    }
    return h;
}

void destroy(lt_tensor *h) {
    delete h;
    g_live--;
}

at::ScalarType to_st(lt_dtype d) {
    switch (d) {
    case LT_F32: return at::kFloat;
    case LT_F64: return at::kDouble;
    case LT_F16: return at::kHalf;
    case LT_BF16: return at::kBFloat16;
    case LT_I64: return at::kLong;
    case LT_I32: return at::kInt;
    case LT_U8: return at::kByte;
    case LT_BOOL: return at::kBool;
    case LT_C64: return at::kComplexFloat;
    case LT_DTYPE_INVALID: throw std::runtime_error("LT_DTYPE_INVALID (the result of a failed lt_type)");
    }
    throw std::runtime_error("unknown lt_dtype " + std::to_string((int)d));
}

lt_dtype from_st(at::ScalarType s) {
    switch (s) {
    case at::kFloat: return LT_F32;
    case at::kDouble: return LT_F64;
    case at::kHalf: return LT_F16;
    case at::kBFloat16: return LT_BF16;
    case at::kLong: return LT_I64;
    case at::kInt: return LT_I32;
    case at::kByte: return LT_U8;
    case at::kBool: return LT_BOOL;
    case at::kComplexFloat: return LT_C64;
    default: throw std::runtime_error(std::string("unsupported dtype ") + c10::toString(s));
    }
}

at::Device to_dev(lt_device d) {
    if (d == LT_CPU) return at::Device(at::kCPU);
    if (d >= LT_CUDA) return at::Device(at::kCUDA, (c10::DeviceIndex)(d - LT_CUDA));
    throw std::runtime_error("invalid lt_device " + std::to_string(d));
}

at::TensorOptions opts(lt_dtype dt, lt_device dev) {
    return at::TensorOptions().dtype(to_st(dt)).device(to_dev(dev));
}

at::IntArrayRef ar(const int64_t *p, int n) {
    if (n < 0 || (n > 0 && !p)) throw std::runtime_error("invalid int array argument");
    return at::IntArrayRef(p, (size_t)n);
}

// An optional tensor argument: NULL means absent.
c10::optional<at::Tensor> opt(lt_tensor *h) {
    if (!h) return c10::nullopt;
    return h->t;
}

// A scalar of the tensor's kind: in-place integer updates (num_batches_tracked += 1)
// would refuse a floating-point scalar.
at::Scalar scalar_for(const at::Tensor &t, double v) {
    if (at::isIntegralType(t.scalar_type(), true)) return at::Scalar((int64_t)v);
    return at::Scalar(v);
}

bool null_in(std::initializer_list<const lt_tensor *> hs) {
    for (const lt_tensor *h : hs)
        if (!h) {
            if (g_err.empty()) g_err = "NULL tensor argument";
            return true;
        }
    return false;
}

} // namespace

// Runs body; converts any exception into the thread's message and returns `fail`.
#define LT_TRY(fail, ...)                                                                      \
    try {                                                                                       \
        __VA_ARGS__                                                                             \
    } catch (const c10::Error &e) {                                                             \
        set_err(e.what_without_backtrace());                                                    \
    } catch (const std::exception &e) {                                                         \
        set_err(e.what());                                                                      \
    } catch (...) {                                                                             \
        set_err("unknown C++ exception");                                                       \
    }                                                                                           \
    return fail;

// A tensor op: NULL when any listed input is NULL, else wrap(expr).
#define LT_OP(inputs, ...)                                                                     \
    if (null_in(inputs)) return nullptr;                                                        \
    LT_TRY(nullptr, return wrap(__VA_ARGS__);)

#define IN(...) {__VA_ARGS__}

extern "C" {

// ---- errors, handles, scopes ------------------------------------------------------------------
const char *lt_error(void) { return g_err.c_str(); }
void lt_error_clear(void) { g_err.clear(); }
void lt_set_error(const char *msg) { set_err(msg); }
long lt_live_count(void) { return g_live.load(); }
void lt_scope_push(void) { g_scopes.emplace_back(); }
int lt_scope_depth(void) { return (int)g_scopes.size(); }

void lt_scope_pop(void) {
    if (g_scopes.empty()) return;
    std::vector<lt_tensor *> owned = std::move(g_scopes.back());
    g_scopes.pop_back();
    for (lt_tensor *h : owned)
        if (h) destroy(h);
}

size_t lt_scope_slots(void) { return g_scopes.empty() ? 0 : g_scopes.back().size(); }

// Takes h out of its scope. The freed slot is filled with the scope's last handle (whose
// slot index moves), so a long-lived scope with many lt_free/lt_keep calls stays as small
// as the number of handles it still owns. Only the owning thread may touch its scopes:
// from another thread this fails (message set) and changes nothing.
static bool unlink_scope(lt_tensor *h, const char *what) {
    if (h->scope < 0) return true;
    if (h->owner != this_tid()) {
        set_err((std::string(what) +
                 ": the handle belongs to a scope of another thread; free it there, or lt_keep "
                 "it there first")
                    .c_str());
        return false;
    }
    if ((size_t)h->scope < g_scopes.size()) {
        auto &v = g_scopes[(size_t)h->scope];
        if (h->slot < v.size() && v[h->slot] == h) {
            lt_tensor *last = v.back();
            v[h->slot] = last;
            last->slot = h->slot;
            v.pop_back();
        }
    }
    h->scope = -1;
    h->owner = 0;
    return true;
}

lt_tensor *lt_keep(lt_tensor *t) {
    if (t && !unlink_scope(t, "lt_keep")) return nullptr;
    return t;
}

void lt_free(lt_tensor *t) {
    if (!t) return;
    if (unlink_scope(t, "lt_free")) destroy(t);
}

// ---- creation and conversion -----------------------------------------------------------------
lt_tensor *lt_empty(const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::empty(ar(s, n), opts(dt, dev)));)
}
lt_tensor *lt_zeros(const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::zeros(ar(s, n), opts(dt, dev)));)
}
lt_tensor *lt_ones(const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::ones(ar(s, n), opts(dt, dev)));)
}
lt_tensor *lt_full(const int64_t *s, int n, double v, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::full(ar(s, n), v, opts(dt, dev)));)
}
lt_tensor *lt_rand(const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::rand(ar(s, n), opts(dt, dev)));)
}
lt_tensor *lt_randn(const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::randn(ar(s, n), opts(dt, dev)));)
}
lt_tensor *lt_uniform_(lt_tensor *t, double lo, double hi) {
    if (null_in(IN(t))) return nullptr;
    LT_TRY(nullptr, {
        at::NoGradGuard g;
        t->t.uniform_(lo, hi);
        return t;
    })
}
lt_tensor *lt_arange(double a, double b, double step, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::arange(a, b, step, opts(dt, dev)));)
}
lt_tensor *lt_scalar(double v, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, return wrap(at::scalar_tensor(v, opts(dt, dev)));)
}

lt_tensor *lt_from_buffer(const void *data, const int64_t *s, int n, lt_dtype dt) {
    LT_TRY(nullptr, {
        at::Tensor t = at::empty(ar(s, n), opts(dt, LT_CPU));
        size_t bytes = (size_t)t.numel() * t.element_size();
        if (bytes && !data) throw std::runtime_error("lt_from_buffer: NULL data");
        if (bytes) std::memcpy(t.data_ptr(), data, bytes);
        return wrap(t);
    })
}

static std::atomic<int64_t> g_host_reads{0};
int64_t lt_host_reads(void) { return g_host_reads.load(); }

int lt_to_buffer(lt_tensor *h, void *out, size_t bytes) {
    if (null_in(IN(h))) return -1;
    g_host_reads++;
    LT_TRY(-1, {
        at::Tensor t = h->t.detach().to(at::kCPU).contiguous();
        size_t have = (size_t)t.numel() * t.element_size();
        if (bytes && !out) throw std::runtime_error("lt_to_buffer: NULL buffer");
        if (have != bytes)
            throw std::runtime_error("lt_to_buffer: tensor holds " + std::to_string(have) +
                                     " bytes, buffer " + std::to_string(bytes));
        if (bytes) std::memcpy(out, t.data_ptr(), bytes);
        return 0;
    })
}

void *lt_data(lt_tensor *h) {
    if (null_in(IN(h))) return nullptr;
    LT_TRY(nullptr, {
        if (!h->t.device().is_cpu() || !h->t.is_contiguous())
            throw std::runtime_error("lt_data: tensor is not a contiguous CPU tensor");
        return h->t.data_ptr();
    })
}

double lt_item(lt_tensor *h) {
    if (null_in(IN(h))) return NAN;
    g_host_reads++;
    LT_TRY(NAN, return h->t.item().toDouble();)
}

lt_tensor *lt_to_dtype(lt_tensor *t, lt_dtype dt) { LT_OP(IN(t), t->t.to(to_st(dt))) }
/* A blocking copy between the host and a GPU waits for the GPU's queue (memcpy_and_sync). */
static at::Tensor to_device_counted(const at::Tensor &x, lt_device d) {
    at::Device dev = to_dev(d);
    if (x.device() != dev && (!x.device().is_cpu() || !dev.is_cpu())) g_host_reads++;
    return x.to(dev);
}
lt_tensor *lt_to_device(lt_tensor *t, lt_device d) { LT_OP(IN(t), to_device_counted(t->t, d)) }
lt_tensor *lt_from_buffer_pinned(const void *data, const int64_t *s, int n, lt_dtype dt, lt_device dev) {
    LT_TRY(nullptr, {
        at::TensorOptions o = opts(dt, LT_CPU);
        if (to_dev(dev).is_cuda()) o = o.pinned_memory(true);
        at::Tensor t = at::empty(ar(s, n), o);
        size_t bytes = (size_t)t.numel() * t.element_size();
        if (bytes && !data) throw std::runtime_error("lt_from_buffer_pinned: NULL data");
        if (bytes) std::memcpy(t.data_ptr(), data, bytes);
        return wrap(t);
    })
}

// ---- copy streams ----------------------------------------------------------------------------
// c10's device-generic stream and event API (getDeviceGuardImpl: the same calls compile against
// a CPU-only libtorch and reach CUDA's implementation when libtorch has it).
struct lt_stream {
    at::Device dev{at::kCPU};
    c10::optional<c10::Stream> stream; // none for a device without streams (CPU)
    std::unique_ptr<c10::Event> done;  // recorded after each copy queued on stream
};

lt_stream *lt_stream_create(lt_device d) {
    LT_TRY(nullptr, {
        auto s = std::make_unique<lt_stream>();
        s->dev = to_dev(d);
        if (s->dev.is_cuda()) {
            const c10::impl::DeviceGuardImplInterface *impl = c10::impl::getDeviceGuardImpl(s->dev.type());
            s->stream = impl->getStreamFromGlobalPool(s->dev, /*isHighPriority=*/false);
            s->done = std::make_unique<c10::Event>(s->dev.type());
        }
        return s.release();
    })
}

void lt_stream_free(lt_stream *s) { delete s; }

lt_tensor *lt_to_device_on(lt_tensor *t, lt_stream *s) {
    if (null_in(IN(t))) return nullptr;
    if (!s) {
        set_err("lt_to_device_on: NULL stream");
        return nullptr;
    }
    LT_TRY(nullptr, {
        if (!s->stream) return wrap(t->t.to(s->dev));
        c10::StreamGuard g(*s->stream); // the copy (and its destination's allocation) on s
        at::Tensor out = t->t.to(at::TensorOptions().device(s->dev), /*non_blocking=*/true);
        s->done->record(*s->stream);
        return wrap(out);
    })
}

int lt_stream_wait(lt_stream *s, lt_tensor *const *ts, int n) {
    if (!s) {
        set_err("lt_stream_wait: NULL stream");
        return -1;
    }
    LT_TRY(-1, {
        if (!s->stream) return 0;
        const c10::impl::DeviceGuardImplInterface *impl = c10::impl::getDeviceGuardImpl(s->dev.type());
        c10::Stream compute = impl->getStream(s->dev);
        s->done->block(compute); // compute waits for the copies, on the device
        for (int i = 0; i < n; i++)
            if (ts && ts[i] && ts[i]->t.defined() && ts[i]->t.device() == s->dev)
                impl->recordDataPtrOnStream(ts[i]->t.storage().data_ptr(), compute);
        return 0;
    })
}

lt_tensor *lt_clone(lt_tensor *t) { LT_OP(IN(t), t->t.clone()) }
lt_tensor *lt_detach(lt_tensor *t) { LT_OP(IN(t), t->t.detach()) }
lt_tensor *lt_contiguous(lt_tensor *t) { LT_OP(IN(t), t->t.contiguous()) }
lt_tensor *lt_alias(lt_tensor *t) { LT_OP(IN(t), t->t) }
lt_tensor *lt_to_channels_last(lt_tensor *t) {
    if (null_in(IN(t))) return nullptr;
    LT_TRY(nullptr, {
        if (t->t.dim() != 4)
            throw std::runtime_error("lt_to_channels_last: expected a 4-D tensor, got " + std::to_string(t->t.dim()) + "-D");
        return wrap(t->t.contiguous(at::MemoryFormat::ChannelsLast));
    })
}
int lt_set_channels_last_(lt_tensor *t) {
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, {
        if (t->t.dim() != 4 || t->t.is_contiguous(at::MemoryFormat::ChannelsLast)) return 0;
        at::NoGradGuard no_grad;
        t->t.set_data(t->t.detach().contiguous(at::MemoryFormat::ChannelsLast));
        return 0;
    })
}
int lt_is_channels_last(lt_tensor *t) {
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, return t->t.dim() == 4 && t->t.is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;)
}

// ---- information ---------------------------------------------------------------------------------
int lt_dim(lt_tensor *t) { return null_in(IN(t)) ? -1 : (int)t->t.dim(); }
int64_t lt_size(lt_tensor *t, int d) {
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, return t->t.size(d);)
}
int lt_shape(lt_tensor *t, int64_t *out, int cap) {
    if (null_in(IN(t))) return -1;
    int d = (int)t->t.dim();
    for (int i = 0; i < d && i < cap; i++) out[i] = t->t.size(i);
    return d;
}
int64_t lt_numel(lt_tensor *t) { return null_in(IN(t)) ? -1 : t->t.numel(); }
lt_dtype lt_type(lt_tensor *t) {
    if (null_in(IN(t))) return LT_DTYPE_INVALID;
    LT_TRY(LT_DTYPE_INVALID, return from_st(t->t.scalar_type());)
}
lt_device lt_device_of(lt_tensor *t) {
    if (null_in(IN(t))) return LT_DEVICE_INVALID;
    if (t->t.device().is_cpu()) return LT_CPU;
    if (t->t.device().is_cuda()) return LT_CUDA + t->t.device().index();
    set_err(("lt_device_of: unsupported device " + t->t.device().str()).c_str());
    return LT_DEVICE_INVALID;
}
size_t lt_dtype_size(lt_dtype dt) {
    LT_TRY(0, return c10::elementSize(to_st(dt));)
}
const char *lt_dtype_name(lt_dtype dt) {
    static const char *names[] = {"F32", "F64", "F16", "BF16", "I64", "I32", "U8", "BOOL", "C64"};
    return (dt >= LT_F32 && dt <= LT_C64) ? names[dt] : "?";
}
int lt_same_shape(lt_tensor *a, lt_tensor *b) { return !null_in(IN(a, b)) && a->t.sizes() == b->t.sizes(); }

char *lt_describe(lt_tensor *t, char *buf, size_t cap) {
    if (!cap) return buf;
    if (!t) {
        snprintf(buf, cap, "(null)");
        return buf;
    }
    std::string s = "(";
    for (int64_t i = 0; i < t->t.dim(); i++) s += (i ? ", " : "") + std::to_string(t->t.size(i));
    s += ") ";
    try {
        s += lt_dtype_name(from_st(t->t.scalar_type()));
    } catch (...) {
        s += c10::toString(t->t.scalar_type());
    }
    s += " " + t->t.device().str();
    snprintf(buf, cap, "%s", s.c_str());
    return buf;
}

// ---- elementwise -----------------------------------------------------------------------------
lt_tensor *lt_add(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t + b->t) }
lt_tensor *lt_sub(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t - b->t) }
lt_tensor *lt_mul(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t * b->t) }
lt_tensor *lt_div(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t / b->t) }
lt_tensor *lt_add_scalar(lt_tensor *a, double s) { LT_OP(IN(a), a->t + s) }
lt_tensor *lt_mul_scalar(lt_tensor *a, double s) { LT_OP(IN(a), a->t * s) }
lt_tensor *lt_rsub_scalar(lt_tensor *a, double s) { LT_OP(IN(a), at::rsub(a->t, s)) }
lt_tensor *lt_neg(lt_tensor *a) { LT_OP(IN(a), -a->t) }
lt_tensor *lt_abs(lt_tensor *a) { LT_OP(IN(a), a->t.abs()) }
lt_tensor *lt_exp(lt_tensor *a) { LT_OP(IN(a), a->t.exp()) }
lt_tensor *lt_log(lt_tensor *a) { LT_OP(IN(a), a->t.log()) }
lt_tensor *lt_sqrt(lt_tensor *a) { LT_OP(IN(a), a->t.sqrt()) }
lt_tensor *lt_pow_scalar(lt_tensor *a, double p) { LT_OP(IN(a), a->t.pow(p)) }
lt_tensor *lt_clamp(lt_tensor *a, double lo, double hi) { LT_OP(IN(a), a->t.clamp(lo, hi)) }
lt_tensor *lt_floor(lt_tensor *a) { LT_OP(IN(a), a->t.floor()) }
lt_tensor *lt_round(lt_tensor *a) { LT_OP(IN(a), a->t.round()) }
lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), at::matmul(a->t, b->t)) }
int lt_linalg_eigh(lt_tensor *a, lt_tensor **evals, lt_tensor **evecs) {
    *evals = nullptr;
    *evecs = nullptr;
    if (null_in(IN(a))) return -1;
    LT_TRY(-1, {
        std::tuple<at::Tensor, at::Tensor> r = at::linalg_eigh(a->t, "L");
        *evals = wrap(std::get<0>(r));
        *evecs = wrap(std::get<1>(r));
        return 0;
    })
}

// ---- in place --------------------------------------------------------------------------------
#define LT_INPLACE(inputs, ...)                                                                \
    if (null_in(inputs)) return nullptr;                                                        \
    LT_TRY(nullptr, __VA_ARGS__; return t;)

lt_tensor *lt_copy_(lt_tensor *t, lt_tensor *s) { LT_INPLACE(IN(t, s), t->t.copy_(s->t)) }
lt_tensor *lt_zero_(lt_tensor *t) { LT_INPLACE(IN(t), t->t.zero_()) }
lt_tensor *lt_fill_(lt_tensor *t, double v) { LT_INPLACE(IN(t), t->t.fill_(scalar_for(t->t, v))) }
lt_tensor *lt_add_(lt_tensor *t, lt_tensor *o, double alpha) {
    LT_INPLACE(IN(t, o), t->t.add_(o->t, alpha))
}
lt_tensor *lt_add_scalar_(lt_tensor *t, double s) { LT_INPLACE(IN(t), t->t.add_(scalar_for(t->t, s))) }
lt_tensor *lt_mul_scalar_(lt_tensor *t, double s) { LT_INPLACE(IN(t), t->t.mul_(scalar_for(t->t, s))) }
lt_tensor *lt_mul_(lt_tensor *t, lt_tensor *o) { LT_INPLACE(IN(t, o), t->t.mul_(o->t)) }
lt_tensor *lt_addcmul_(lt_tensor *t, lt_tensor *a, lt_tensor *b, double v) {
    LT_INPLACE(IN(t, a, b), t->t.addcmul_(a->t, b->t, v))
}
lt_tensor *lt_addcdiv_(lt_tensor *t, lt_tensor *a, lt_tensor *b, double v) {
    LT_INPLACE(IN(t, a, b), t->t.addcdiv_(a->t, b->t, v))
}

// ---- nn primitives ---------------------------------------------------------------------------
lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, int stride, int padding,
                     int dilation, int groups) {
    LT_OP(IN(x, w), at::conv2d(x->t, w->t, opt(b), {stride, stride}, {padding, padding},
                               {dilation, dilation}, groups))
}
lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *w, lt_tensor *b, int stride,
                               int padding, int output_padding, int groups, int dilation) {
    LT_OP(IN(x, w), at::conv_transpose2d(x->t, w->t, opt(b), {stride, stride}, {padding, padding},
                                         {output_padding, output_padding}, groups,
                                         {dilation, dilation}))
}
lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *w, lt_tensor *b, lt_tensor *rm, lt_tensor *rv,
                         int training, double momentum, double eps) {
    LT_OP(IN(x), at::batch_norm(x->t, opt(w), opt(b), opt(rm), opt(rv), training != 0, momentum,
                                eps, at::globalContext().userEnabledCuDNN()))
}
lt_tensor *lt_relu(lt_tensor *x) { LT_OP(IN(x), at::relu(x->t)) }
lt_tensor *lt_relu_(lt_tensor *t) { LT_INPLACE(IN(t), t->t.relu_()) }
lt_tensor *lt_leaky_relu(lt_tensor *x, double s) { LT_OP(IN(x), at::leaky_relu(x->t, s)) }
lt_tensor *lt_sigmoid(lt_tensor *x) { LT_OP(IN(x), at::sigmoid(x->t)) }
lt_tensor *lt_tanh(lt_tensor *x) { LT_OP(IN(x), at::tanh(x->t)) }
lt_tensor *lt_softplus(lt_tensor *x) { LT_OP(IN(x), at::softplus(x->t, 1, 20)) }

lt_tensor *lt_pad(lt_tensor *x, const int64_t *pad, int n, lt_pad_mode mode, double value) {
    if (null_in(IN(x))) return nullptr;
    LT_TRY(nullptr, {
        at::IntArrayRef p = ar(pad, n);
        switch (mode) {
        case LT_PAD_CONSTANT: return wrap(at::constant_pad_nd(x->t, p, value));
        case LT_PAD_REFLECT:
            if (n != 4) throw std::runtime_error("reflection pad needs 4 values (l, r, t, b)");
            return wrap(at::reflection_pad2d(x->t, p));
        case LT_PAD_REPLICATE:
            if (n != 4) throw std::runtime_error("replication pad needs 4 values (l, r, t, b)");
            return wrap(at::replication_pad2d(x->t, p));
        }
        throw std::runtime_error("unknown pad mode");
    })
}
lt_tensor *lt_avg_pool2d(lt_tensor *x, int k, int s, int p, int ceil_mode, int cip) {
    LT_OP(IN(x), at::avg_pool2d(x->t, {k, k}, {s, s}, {p, p}, ceil_mode != 0, cip != 0))
}
lt_tensor *lt_max_pool2d(lt_tensor *x, int k, int s, int p, int d, int ceil_mode) {
    LT_OP(IN(x), at::max_pool2d(x->t, {k, k}, {s, s}, {p, p}, {d, d}, ceil_mode != 0))
}
lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t oh, int64_t ow) {
    LT_OP(IN(x), at::adaptive_avg_pool2d(x->t, {oh, ow}))
}
lt_tensor *lt_adaptive_max_pool2d(lt_tensor *x, int64_t oh, int64_t ow) {
    LT_OP(IN(x), std::get<0>(at::adaptive_max_pool2d(x->t, {oh, ow})))
}
lt_tensor *lt_interpolate(lt_tensor *x, int64_t oh, int64_t ow, lt_interp_mode mode) {
    if (null_in(IN(x))) return nullptr;
    LT_TRY(nullptr, {
        const int64_t size[2] = {oh, ow};
        const at::IntArrayRef out_size(size, 2); // not a braced list: no .vec overload to pick
        if (mode == LT_NEAREST) return wrap(at::upsample_nearest2d(x->t, out_size));
        return wrap(at::upsample_bilinear2d(x->t, out_size, false));
    })
}
lt_tensor *lt_mse_loss(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), at::mse_loss(a->t, b->t)) }
lt_tensor *lt_l1_loss(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), at::l1_loss(a->t, b->t)) }

// ---- shape ---------------------------------------------------------------------------------------
static std::vector<at::Tensor> gather(lt_tensor *const *ts, int n) {
    if (n <= 0 || !ts) throw std::runtime_error("empty tensor list");
    std::vector<at::Tensor> v;
    for (int i = 0; i < n; i++) {
        if (!ts[i]) throw std::runtime_error("NULL tensor in list");
        v.push_back(ts[i]->t);
    }
    return v;
}
static bool null_list(lt_tensor *const *ts, int n) {
    for (int i = 0; ts && i < n; i++)
        if (!ts[i]) return null_in(IN(ts[i]));
    return false;
}
lt_tensor *lt_cat(lt_tensor *const *ts, int n, int dim) {
    if (null_list(ts, n)) return nullptr;
    LT_TRY(nullptr, return wrap(at::cat(gather(ts, n), dim));)
}
lt_tensor *lt_stack(lt_tensor *const *ts, int n, int dim) {
    if (null_list(ts, n)) return nullptr;
    LT_TRY(nullptr, return wrap(at::stack(gather(ts, n), dim));)
}
int lt_split(lt_tensor *x, const int64_t *sizes, int n, int dim, lt_tensor **out) {
    for (int i = 0; i < n; i++) out[i] = nullptr;
    if (null_in(IN(x))) return -1;
    LT_TRY(-1, {
        std::vector<at::Tensor> parts = at::split_with_sizes(x->t, ar(sizes, n), dim);
        for (int i = 0; i < n; i++) out[i] = wrap(parts[(size_t)i]);
        return 0;
    })
}
lt_tensor *lt_narrow(lt_tensor *x, int dim, int64_t start, int64_t len) {
    LT_OP(IN(x), x->t.narrow(dim, start, len))
}
lt_tensor *lt_select(lt_tensor *x, int dim, int64_t i) { LT_OP(IN(x), x->t.select(dim, i)) }
lt_tensor *lt_reshape(lt_tensor *x, const int64_t *s, int n) { LT_OP(IN(x), x->t.reshape(ar(s, n))) }
lt_tensor *lt_permute(lt_tensor *x, const int64_t *d, int n) { LT_OP(IN(x), x->t.permute(ar(d, n))) }
lt_tensor *lt_transpose(lt_tensor *x, int d0, int d1) { LT_OP(IN(x), x->t.transpose(d0, d1)) }
lt_tensor *lt_repeat(lt_tensor *x, const int64_t *r, int n) { LT_OP(IN(x), x->t.repeat(ar(r, n))) }
lt_tensor *lt_expand(lt_tensor *x, const int64_t *s, int n) { LT_OP(IN(x), x->t.expand(ar(s, n))) }
lt_tensor *lt_unsqueeze(lt_tensor *x, int dim) { LT_OP(IN(x), x->t.unsqueeze(dim)) }
lt_tensor *lt_squeeze(lt_tensor *x, int dim) { LT_OP(IN(x), x->t.squeeze(dim)) }
lt_tensor *lt_flatten(lt_tensor *x, int s, int e) { LT_OP(IN(x), x->t.flatten(s, e)) }
lt_tensor *lt_flip(lt_tensor *x, const int64_t *d, int n) { LT_OP(IN(x), x->t.flip(ar(d, n))) }

// ---- FFT -----------------------------------------------------------------------------------------
static const char *norm_name(lt_fft_norm n) {
    switch (n) {
    case LT_FFT_BACKWARD: return "backward";
    case LT_FFT_ORTHO: return "ortho";
    case LT_FFT_FORWARD: return "forward";
    }
    throw std::runtime_error("unknown fft norm");
}
lt_tensor *lt_rfftn(lt_tensor *x, const int64_t *dims, int n, lt_fft_norm norm) {
    if (null_in(IN(x))) return nullptr;
    LT_TRY(nullptr, {
        at::Tensor in = x->t;
        if (in.scalar_type() == at::kHalf || in.scalar_type() == at::kBFloat16) in = in.to(at::kFloat);
        return wrap(at::fft_rfftn(in, c10::nullopt, ar(dims, n), std::string(norm_name(norm))));
    })
}
lt_tensor *lt_irfftn(lt_tensor *x, const int64_t *s, const int64_t *dims, int n, lt_fft_norm norm) {
    LT_OP(IN(x), at::fft_irfftn(x->t, ar(s, n), ar(dims, n), std::string(norm_name(norm))))
}
lt_tensor *lt_complex(lt_tensor *re, lt_tensor *im) { LT_OP(IN(re, im), at::complex(re->t, im->t)) }
lt_tensor *lt_real(lt_tensor *z) { LT_OP(IN(z), at::real(z->t)) }
lt_tensor *lt_imag(lt_tensor *z) { LT_OP(IN(z), at::imag(z->t)) }
lt_tensor *lt_view_as_real(lt_tensor *z) { LT_OP(IN(z), at::view_as_real(z->t)) }
lt_tensor *lt_view_as_complex(lt_tensor *x) { LT_OP(IN(x), at::view_as_complex(x->t)) }

// ---- TorchScript modules -------------------------------------------------------------------------
struct lt_jit {
    torch::jit::Module m;
};

// A TorchScript compile error spans lines (message, source excerpt, "<--- HERE"): one line of
// it, the message and the offending source line, as set_err would otherwise keep only the first.
static std::string jit_error_line(const std::string &what) {
    std::istringstream in(what);
    std::string line, first, where, code, prev;
    while (std::getline(in, line)) {
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string::npos) continue;
        std::string t = line.substr(b);
        if (first.empty()) first = t;
        size_t at = t.find("\", line ");
        if (t.rfind("File \"", 0) == 0 && at != std::string::npos) where = t.substr(at + 3);
        if (t.find("<--- HERE") != std::string::npos && code.empty()) code = prev;
        prev = t;
    }
    if (!where.empty()) first += " (" + where + ": " + code + ")";
    return first;
}

// An error raised inside a TorchScript method: a traceback of the script, then the error
// itself on the last line ("RuntimeError: ..."), which is the line kept.
static void set_jit_run_err(const char *what) {
    std::istringstream in(what ? what : "");
    std::string line, last;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t") != std::string::npos) last = line;
    g_err = last.empty() ? "TorchScript method failed" : "TorchScript: " + last.substr(last.find_first_not_of(" \t"));
}

lt_jit *lt_jit_new(const char *class_name) {
    if (!class_name) {
        set_err("lt_jit_new: NULL class name");
        return nullptr;
    }
    LT_TRY(nullptr, {
        std::unique_ptr<lt_jit> h(new lt_jit{torch::jit::Module(c10::QualifiedName(class_name))});
        h->m.register_attribute("training", c10::BoolType::get(), false);
        return h.release();
    })
}

int lt_jit_register(lt_jit *m, const char *name, lt_tensor *t, int is_buffer) {
    if (!m || !name) {
        set_err("lt_jit_register: NULL module or name");
        return -1;
    }
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, {
        at::Tensor v = t->t.detach().clone(at::MemoryFormat::Contiguous);
        if (!is_buffer) v.set_requires_grad(true);
        m->m.register_parameter(name, v, is_buffer != 0);
        return 0;
    })
}

int lt_jit_define(lt_jit *m, const char *src) {
    if (!m || !src) {
        set_err("lt_jit_define: NULL module or source");
        return -1;
    }
    try {
        m->m.define(src);
        return 0;
    } catch (const c10::Error &e) {
        g_err = jit_error_line(e.what_without_backtrace());
    } catch (const std::exception &e) {
        g_err = jit_error_line(e.what());
    } catch (...) {
        set_err("unknown C++ exception");
    }
    return -1;
}

int lt_jit_save(lt_jit *m, const char *path) {
    if (!m || !path) {
        set_err("lt_jit_save: NULL module or path");
        return -1;
    }
    LT_TRY(-1, {
        m->m.save(std::string(path));
        return 0;
    })
}

int lt_jit_save_buffer(lt_jit *m, void **data, size_t *size) {
    if (!m || !data || !size) {
        set_err("lt_jit_save_buffer: NULL argument");
        return -1;
    }
    *data = nullptr;
    *size = 0;
    LT_TRY(-1, {
        std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
        m->m.save(io);
        const std::streamoff n = io.tellp(); // read straight out of the stream: no third copy
        if (n < 0) throw std::runtime_error("lt_jit_save_buffer: serialising failed");
        void *p = std::malloc(n ? (size_t)n : 1);
        if (!p) throw std::runtime_error("lt_jit_save_buffer: out of memory");
        io.seekg(0);
        if (!io.read(static_cast<char *>(p), n)) {
            std::free(p);
            throw std::runtime_error("lt_jit_save_buffer: reading the serialised module back failed");
        }
        *data = p;
        *size = (size_t)n;
        return 0;
    })
}

lt_jit *lt_jit_load(const char *path, lt_device dev) {
    if (!path) {
        set_err("lt_jit_load: NULL path");
        return nullptr;
    }
    LT_TRY(nullptr, {
        std::unique_ptr<lt_jit> h(new lt_jit{torch::jit::load(std::string(path), to_dev(dev))});
        h->m.eval();
        return h.release();
    })
}

lt_tensor *lt_jit_forward(lt_jit *m, lt_tensor *const *in, int n) {
    if (!m) {
        set_err("lt_jit_forward: NULL module");
        return nullptr;
    }
    if (null_list(in, n)) return nullptr;
    LT_TRY(nullptr, {
        std::vector<c10::IValue> args;
        for (int i = 0; i < n; i++) args.emplace_back(in[i]->t);
        c10::IValue r;
        try {
            r = m->m.forward(std::move(args));
        } catch (const c10::Error &e) {
            set_jit_run_err(e.what_without_backtrace());
            return nullptr;
        } catch (const std::exception &e) {
            set_jit_run_err(e.what());
            return nullptr;
        }
        if (!r.isTensor()) throw std::runtime_error("lt_jit_forward: forward returned " + r.tagKind() + ", not a tensor");
        return wrap(r.toTensor());
    })
}

void lt_jit_free(lt_jit *m) { delete m; }

// ---- reductions ----------------------------------------------------------------------------------
lt_tensor *lt_sum(lt_tensor *x) { LT_OP(IN(x), x->t.sum()) }
lt_tensor *lt_mean(lt_tensor *x) { LT_OP(IN(x), x->t.mean()) }
lt_tensor *lt_max(lt_tensor *x) { LT_OP(IN(x), x->t.max()) }
lt_tensor *lt_min(lt_tensor *x) { LT_OP(IN(x), x->t.min()) }
lt_tensor *lt_sum_dims(lt_tensor *x, const int64_t *d, int n, int keep) {
    LT_OP(IN(x), x->t.sum(ar(d, n), keep != 0))
}
lt_tensor *lt_mean_dims(lt_tensor *x, const int64_t *d, int n, int keep) {
    LT_OP(IN(x), x->t.mean(ar(d, n), keep != 0))
}
lt_tensor *lt_norm(lt_tensor *x, double p) { LT_OP(IN(x), x->t.norm(p)) }
int lt_all_finite(lt_tensor *x) {
    if (null_in(IN(x))) return -1;
    g_host_reads++;
    LT_TRY(-1, return at::isfinite(x->t).all().item<bool>() ? 1 : 0;)
}

lt_tensor *lt_isfinite(lt_tensor *x) { LT_OP(IN(x), at::isfinite(x->t)) }

// ---- comparison ---------------------------------------------------------------------------------
lt_tensor *lt_gt_scalar(lt_tensor *x, double s) { LT_OP(IN(x), x->t.gt(s)) }
lt_tensor *lt_lt_scalar(lt_tensor *x, double s) { LT_OP(IN(x), x->t.lt(s)) }
lt_tensor *lt_gt(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t.gt(b->t)) }
lt_tensor *lt_eq(lt_tensor *a, lt_tensor *b) { LT_OP(IN(a, b), a->t.eq(b->t)) }
lt_tensor *lt_where(lt_tensor *c, lt_tensor *a, lt_tensor *b) {
    LT_OP(IN(c, a, b), at::where(c->t, a->t, b->t))
}

// ---- autograd ------------------------------------------------------------------------------------
int lt_set_requires_grad(lt_tensor *t, int on) {
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, t->t.requires_grad_(on != 0); return 0;)
}
int lt_requires_grad(lt_tensor *t) { return null_in(IN(t)) ? -1 : (int)t->t.requires_grad(); }
int lt_backward(lt_tensor *loss) {
    if (null_in(IN(loss))) return -1;
    LT_TRY(-1, loss->t.backward(); return 0;)
}
/* lt_grad and lt_vjp: torch::autograd::grad of outs by ins with output gradients gos (empty:
 * ones for scalar outputs), unused inputs refused unless LT_GRAD_ALLOW_UNUSED (`unused` ends the
 * message), their gradients zeros otherwise. Throws; the callers catch. */
static void grad_of(const char *fn, const std::vector<at::Tensor> &outs, const std::vector<at::Tensor> &ins,
                    const std::vector<at::Tensor> &gos, int flags, const char *unused, lt_tensor **grads) {
    if (flags & ~(LT_GRAD_CREATE_GRAPH | LT_GRAD_ALLOW_UNUSED))
        throw std::runtime_error(std::string(fn) + ": unknown flags " + std::to_string(flags));
    bool create_graph = (flags & LT_GRAD_CREATE_GRAPH) != 0;
    std::vector<at::Tensor> g = torch::autograd::grad(outs, ins, gos, create_graph, create_graph, true);
    if (!(flags & LT_GRAD_ALLOW_UNUSED))
        for (size_t i = 0; i < ins.size(); i++)
            if (!g[i].defined())
                throw std::runtime_error(std::string(fn) + ": input " + std::to_string(i) +
                                         " is not used to compute the outputs " + unused);
    for (size_t i = 0; i < ins.size(); i++) grads[i] = wrap(g[i].defined() ? g[i] : at::zeros_like(ins[i]));
}

int lt_grad(lt_tensor *const *outputs, int n_out, lt_tensor *const *inputs, int n_in,
            int flags, lt_tensor **grads) {
    for (int i = 0; i < n_in; i++) grads[i] = nullptr;
    if (null_list(outputs, n_out) || null_list(inputs, n_in)) return -1;
    LT_TRY(-1, {
        grad_of("lt_grad", gather(outputs, n_out), gather(inputs, n_in), {}, flags,
                "(its gradient would be zero; pass LT_GRAD_ALLOW_UNUSED if that is intended)", grads);
        return 0;
    })
}
int lt_has_grad(lt_tensor *t) { return t && t->t.grad().defined(); }
lt_tensor *lt_grad_of(lt_tensor *t) {
    if (null_in(IN(t))) return nullptr;
    LT_TRY(nullptr, {
        if (!t->t.grad().defined()) throw std::runtime_error("tensor has no gradient");
        return wrap(t->t.grad());
    })
}
int lt_zero_grad(lt_tensor *t) {
    if (null_in(IN(t))) return -1;
    LT_TRY(-1, t->t.mutable_grad().reset(); return 0;)
}
int lt_vjp(lt_tensor *const *outputs, lt_tensor *const *grad_outputs, int n_out,
           lt_tensor *const *inputs, int n_in, int flags, lt_tensor **grads) {
    for (int i = 0; i < n_in; i++) grads[i] = nullptr;
    if (null_list(outputs, n_out) || null_list(grad_outputs, n_out) || null_list(inputs, n_in)) return -1;
    LT_TRY(-1, {
        grad_of("lt_vjp", gather(outputs, n_out), gather(inputs, n_in), gather(grad_outputs, n_out), flags,
                "(pass LT_GRAD_ALLOW_UNUSED if that is intended)", grads);
        return 0;
    })
}
} // extern "C"

struct lt_grad_ready {
    std::vector<std::shared_ptr<torch::autograd::Node>> accs; // kept alive: the hooks live on them
    std::shared_ptr<std::atomic<bool>> alive;
};

namespace {
struct ReadyHook : public torch::autograd::FunctionPostHook {
    std::shared_ptr<std::atomic<bool>> alive;
    void (*fn)(void *, int);
    void *ctx;
    int i;
    torch::autograd::variable_list operator()(const torch::autograd::variable_list &outputs,
                                              const torch::autograd::variable_list &) override {
        if (alive->load()) {
            try {
                fn(ctx, i);
            } catch (...) {
            }
        }
        return outputs;
    }
};
} // namespace

extern "C" {

int lt_grad_ready_create(lt_grad_ready **out, lt_tensor *const *ts, int n, void (*fn)(void *ctx, int i),
                         void *ctx) {
    *out = nullptr;
    if (null_list(ts, n)) return -1;
    LT_TRY(-1, {
        if (!fn) throw std::runtime_error("lt_grad_ready_create: NULL callback");
        std::unique_ptr<lt_grad_ready> h(new lt_grad_ready());
        h->alive = std::make_shared<std::atomic<bool>>(true);
        for (int i = 0; i < n; i++) {
            const at::Tensor &t = ts[i]->t;
            if (!t.is_leaf() || !t.requires_grad())
                throw std::runtime_error("lt_grad_ready_create: tensor " + std::to_string(i) +
                                         " is not a leaf that requires grad");
            std::shared_ptr<torch::autograd::Node> acc = torch::autograd::impl::grad_accumulator(t);
            if (!acc) throw std::runtime_error("lt_grad_ready_create: no gradient accumulator");
            std::unique_ptr<ReadyHook> hook(new ReadyHook());
            hook->alive = h->alive;
            hook->fn = fn;
            hook->ctx = ctx;
            hook->i = i;
            acc->add_post_hook(std::move(hook));
            h->accs.push_back(acc);
        }
        *out = h.release();
        return 0;
    })
}
void lt_grad_ready_free(lt_grad_ready *h) {
    if (!h) return;
    h->alive->store(false);
    try {
        delete h;
    } catch (...) {
    }
}
void lt_no_grad_push(void) {
    g_grad_stack.push_back(c10::GradMode::is_enabled());
    c10::GradMode::set_enabled(false);
}
void lt_no_grad_pop(void) {
    if (g_grad_stack.empty()) return;
    c10::GradMode::set_enabled(g_grad_stack.back());
    g_grad_stack.pop_back();
}
int lt_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

// ---- autocast (mixed precision) ----------------------------------------------------------------
namespace {
struct autocast_state {
    bool cpu_on, gpu_on;
    at::ScalarType cpu_dt, gpu_dt;
};
thread_local std::vector<autocast_state> g_autocast_stack;

// libtorch 2.4 replaced the per-device functions (kept, deprecated) by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool ac_on(bool cpu) { return at::autocast::is_autocast_enabled(cpu ? at::kCPU : at::kCUDA); }
void ac_set_on(bool cpu, bool on) { at::autocast::set_autocast_enabled(cpu ? at::kCPU : at::kCUDA, on); }
at::ScalarType ac_dtype(bool cpu) { return at::autocast::get_autocast_dtype(cpu ? at::kCPU : at::kCUDA); }
void ac_set_dtype(bool cpu, at::ScalarType t) { at::autocast::set_autocast_dtype(cpu ? at::kCPU : at::kCUDA, t); }
#else
bool ac_on(bool cpu) { return cpu ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled(); }
void ac_set_on(bool cpu, bool on) { cpu ? at::autocast::set_cpu_enabled(on) : at::autocast::set_enabled(on); }
at::ScalarType ac_dtype(bool cpu) {
    return cpu ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void ac_set_dtype(bool cpu, at::ScalarType t) {
    cpu ? at::autocast::set_autocast_cpu_dtype(t) : at::autocast::set_autocast_gpu_dtype(t);
}
#endif

void autocast_save() {
    g_autocast_stack.push_back({ac_on(true), ac_on(false), ac_dtype(true), ac_dtype(false)});
}
} // namespace

int lt_autocast_enter(lt_device dev, lt_dtype dt) {
    LT_TRY(-1, {
        at::ScalarType st = to_st(dt);
        bool cpu = to_dev(dev).is_cpu();
        if (st != at::kBFloat16 && st != at::kHalf)
            throw std::runtime_error(std::string("autocast: dtype ") + c10::toString(st) +
                                     " (expected BF16, or F16 on CUDA)");
        if (cpu && st != at::kBFloat16) throw std::runtime_error("autocast: CPU autocast supports BF16 only");
        autocast_save();
        ac_set_on(cpu, true);
        ac_set_dtype(cpu, st);
        at::autocast::increment_nesting();
        return 0;
    })
}
int lt_autocast_enter_off(void) {
    LT_TRY(-1, {
        autocast_save();
        ac_set_on(true, false);
        ac_set_on(false, false);
        at::autocast::increment_nesting();
        return 0;
    })
}
void lt_autocast_exit(void) {
    if (g_autocast_stack.empty()) return;
    autocast_state s = g_autocast_stack.back();
    g_autocast_stack.pop_back();
    try {
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        ac_set_on(true, s.cpu_on);
        ac_set_on(false, s.gpu_on);
        ac_set_dtype(true, s.cpu_dt);
        ac_set_dtype(false, s.gpu_dt);
    } catch (const std::exception &e) {
        set_err(e.what());
    }
}
int lt_autocast_enabled(lt_device dev) { LT_TRY(-1, return ac_on(to_dev(dev).is_cpu()) ? 1 : 0;) }
int lt_autocast_depth(void) { return (int)g_autocast_stack.size(); }

// ---- generator, threads, devices -------------------------------------------------------------------
void lt_manual_seed(uint64_t seed) {
    // at::manual_seed seeds the CPU and every CUDA generator (with their locks); it exists
    // in 1.13 and 2.x, where the CUDA hooks' generator accessor changed.
    try {
        at::manual_seed(seed);
    } catch (const std::exception &e) {
        set_err(e.what());
    }
}
long lt_rng_state(void *buf, size_t cap) {
    LT_TRY(-1, {
        at::Generator g = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(g.mutex());
        at::Tensor st = at::Tensor(g.get_state());
        size_t n = (size_t)st.numel() * st.element_size();
        if (buf && cap >= n) std::memcpy(buf, st.data_ptr(), n);
        return (long)n;
    })
}
int lt_rng_set_state(const void *buf, size_t size) {
    LT_TRY(-1, {
        if (!buf || !size) throw std::runtime_error("lt_rng_set_state: empty state");
        at::Tensor st = at::empty({(int64_t)size}, at::kByte);
        std::memcpy(st.data_ptr(), buf, size);
        at::Generator g = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(g.mutex());
        g.set_state(st);
        return 0;
    })
}
void lt_set_num_threads(int n) {
    if (n <= 0) return;
    at::set_num_threads(n);
    /* The BLAS libtorch calls (1x1 convolutions at one thread, matmuls) may keep its own thread
     * pool: OpenBLAS's pthread build starts one thread per core and libtorch 1.13 does not tell
     * it the count (it does for MKL). Look the setter up at run time, so any BLAS works. */
    using blas_set_fn = void (*)(int);
    static blas_set_fn openblas_set = (blas_set_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (openblas_set) openblas_set(n);
}
int lt_get_num_threads(void) { return at::get_num_threads(); }
static std::unique_ptr<torch::autograd::profiler::RecordProfile> g_profile;
int lt_profile_begin(const char *path) {
    LT_TRY(-1, {
        if (g_profile) throw std::runtime_error("lt_profile_begin: a profile is already running");
        g_profile.reset(new torch::autograd::profiler::RecordProfile(std::string(path)));
        return 0;
    })
}
int lt_profile_end(void) {
    LT_TRY(-1, {
        g_profile.reset(); // writes the trace
        return 0;
    })
}
int lt_cuda_device_count(void) {
    try {
        return at::detail::getCUDAHooks().getNumGPUs();
    } catch (...) {
        return 0;
    }
}
int lt_synchronize(lt_device d) {
    if (d < LT_CUDA) return 0;
    g_host_reads++;
    LT_TRY(-1, {
        torch::cuda::synchronize((int64_t)(d - LT_CUDA));
        return 0;
    })
}
int lt_set_tf32(int cudnn_conv, int cublas_matmul) {
    // Both setters exist in 1.13 and 2.x (2.9+ also maps them onto its per-backend float32
    // precision settings).
    LT_TRY(-1, {
        at::globalContext().setAllowTF32CuDNN(cudnn_conv != 0);
        at::globalContext().setAllowTF32CuBLAS(cublas_matmul != 0);
        return 0;
    })
}
int lt_get_tf32(int *cudnn_conv, int *cublas_matmul) {
    LT_TRY(-1, {
        *cudnn_conv = at::globalContext().allowTF32CuDNN() ? 1 : 0;
        *cublas_matmul = at::globalContext().allowTF32CuBLAS() ? 1 : 0;
        return 0;
    })
}
int64_t lt_cuda_peak_allocated(lt_device d) {
#ifdef LT_WITH_CUDA
    if (d < LT_CUDA) return -1;
    try {
        // allocated_bytes[0]: StatType::AGGREGATE, 0 in 1.13 and 2.x (the enum changed
        // namespace in 2.x, the index did not)
        auto st = c10::cuda::CUDACachingAllocator::getDeviceStats((c10::DeviceIndex)(d - LT_CUDA));
        return (int64_t)st.allocated_bytes[0].peak;
    } catch (...) {
        return -1;
    }
#else
    (void)d;
    return -1;
#endif
}
int lt_cuda_reset_peak(lt_device d) {
#ifdef LT_WITH_CUDA
    if (d < LT_CUDA) return -1;
    try {
        c10::cuda::CUDACachingAllocator::resetPeakStats((c10::DeviceIndex)(d - LT_CUDA));
        return 0;
    } catch (...) {
        return -1;
    }
#else
    (void)d;
    return -1;
#endif
}
const char *lt_backend_info(void) {
    static std::string info;
    try {
        info = std::string("libtorch ") + TORCH_VERSION + ", " + std::to_string(lt_cuda_device_count()) +
               " CUDA device(s), " + std::to_string(at::get_num_threads()) + " intra-op threads";
    } catch (...) {
        info = "libtorch (info unavailable)";
    }
    return info.c_str();
}

// ---- distributed: c10d process groups ----------------------------------------------------------
struct lt_pgroup {
#ifdef LT_HAVE_C10D
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<lt_c10d_group> pg;
    std::chrono::milliseconds timeout{0};
#endif
    int rank = -1, size = -1;
};

const char *lt_pgroup_backends(void) {
#if defined(LT_WITH_GLOO) && defined(LT_WITH_NCCL)
    return "gloo nccl";
#elif defined(LT_WITH_GLOO)
    return "gloo";
#elif defined(LT_WITH_NCCL)
    return "nccl";
#else
    return "";
#endif
}

int lt_pgroup_create(lt_pgroup **out, const lt_pgroup_opts *o) {
    if (!out || !o) {
        set_err("lt_pgroup_create: NULL argument");
        return -1;
    }
    *out = nullptr;
    LT_TRY(-1, {
        std::string be = o->backend ? o->backend : "gloo";
        if (o->world_size < 1 || o->rank < 0 || o->rank >= o->world_size)
            throw std::runtime_error("process group: rank " + std::to_string(o->rank) + " of world size " +
                                     std::to_string(o->world_size) + " is out of range");
        if (!(o->timeout_s > 0)) throw std::runtime_error("process group: the timeout must be > 0 seconds");
#ifndef LT_HAVE_C10D
        throw std::runtime_error("process group: this lamac was built without a c10d backend (the Gloo "
                                 "headers, Debian package libgloo-dev, were not found at configure time)");
#else
        auto timeout = std::chrono::milliseconds((int64_t)(o->timeout_s * 1000.0));
        std::unique_ptr<lt_pgroup> g(new lt_pgroup());
        g->rank = o->rank;
        g->size = o->world_size;
        g->timeout = timeout;
        if (o->file_store && *o->file_store) {
            g->store = c10::make_intrusive<c10d::FileStore>(o->file_store, o->world_size);
            g->store->setTimeout(timeout);
        } else {
            if (!o->master_addr || !*o->master_addr || o->master_port <= 0 || o->master_port > 65535)
                throw std::runtime_error("process group: a master address and a port in 1..65535 are needed");
            c10d::TCPStoreOptions so;
            so.port = (std::uint16_t)o->master_port;
            so.isServer = o->rank == 0;
            so.numWorkers = (std::size_t)o->world_size;
            so.waitWorkers = true;
            so.timeout = timeout;
            g->store = c10::make_intrusive<c10d::TCPStore>(std::string(o->master_addr), so);
        }
        if (be == "gloo") {
#ifdef LT_WITH_GLOO
            auto po = c10d::ProcessGroupGloo::Options::create(timeout);
            if (o->gloo_iface && *o->gloo_iface)
                po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(o->gloo_iface));
            else if (o->gloo_host && *o->gloo_host)
                po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o->gloo_host));
            else
                po->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            if (o->gloo_threads > 0) po->threads = o->gloo_threads;
            g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, o->rank, o->world_size, po);
#else
            throw std::runtime_error("process group: backend gloo was not built (Gloo headers missing)");
#endif
        } else if (be == "nccl") {
#ifdef LT_WITH_NCCL
            auto po = c10d::ProcessGroupNCCL::Options::create();
            po->timeout = timeout;
            g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, o->rank, o->world_size, po);
#else
            throw std::runtime_error("process group: backend nccl needs a CUDA libtorch with NCCL");
#endif
        } else {
            throw std::runtime_error("process group: unknown backend '" + be + "' (gloo or nccl)");
        }
        *out = g.release();
        return 0;
#endif
    })
}

void lt_pgroup_free(lt_pgroup *g) {
    try {
        delete g;
    } catch (...) {
    }
}
int lt_pgroup_rank(const lt_pgroup *g) { return g ? g->rank : -1; }
int lt_pgroup_size(const lt_pgroup *g) { return g ? g->size : -1; }

#ifdef LT_HAVE_C10D
namespace {
std::vector<at::Tensor> pg_tensors(const char *what, lt_tensor *const *ts, int n) {
    if (n < 1 || !ts) throw std::runtime_error(std::string(what) + ": no tensors");
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int i = 0; i < n; i++) {
        if (!ts[i]) throw std::runtime_error(std::string(what) + ": NULL tensor " + std::to_string(i));
        if (!ts[i]->t.is_contiguous())
            throw std::runtime_error(std::string(what) + ": tensor " + std::to_string(i) + " is not contiguous");
        v.push_back(ts[i]->t);
    }
    return v;
}
// Waits for every issued work item (the backend's own timeout fires first; the margin only
// guards against a backend that would not honour it), rethrowing the first failure.
void pg_wait(const lt_pgroup *g, std::vector<c10::intrusive_ptr<c10d::Work>> &works) {
    std::exception_ptr first;
    for (auto &w : works) {
        try {
            w->wait(g->timeout + std::chrono::milliseconds(5000));
        } catch (...) {
            if (!first) first = std::current_exception();
        }
    }
    if (first) std::rethrow_exception(first);
}
// One synchronous SUM all-reduce of t (contiguous) in place.
void pg_allreduce_sum(const lt_pgroup *g, at::Tensor &t) {
    c10d::AllreduceOptions ao;
    ao.timeout = g->timeout;
    std::vector<at::Tensor> one{t};
    std::vector<c10::intrusive_ptr<c10d::Work>> works{g->pg->allreduce(one, ao)};
    pg_wait(g, works);
}

// y = sum over ranks of x; dy/dx applied to a gradient = the same sum over ranks of it.
struct AllReduceSumFn : public torch::autograd::Function<AllReduceSumFn> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, int64_t gp) {
        ctx->saved_data["g"] = gp;
        at::Tensor y = x.detach().clone(at::MemoryFormat::Contiguous);
        pg_allreduce_sum(reinterpret_cast<const lt_pgroup *>((intptr_t)gp), y);
        return y;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list go) {
        int64_t gp = ctx->saved_data["g"].toInt();
        return {AllReduceSumFn::apply(go[0], gp), at::Tensor()};
    }
};
} // namespace
#endif

int lt_pgroup_allreduce(lt_pgroup *g, lt_tensor *const *ts, int n, lt_reduce_op op) {
    if (!g) {
        set_err("lt_pgroup_allreduce: NULL group");
        return -1;
    }
    LT_TRY(-1, {
#ifndef LT_HAVE_C10D
        (void)ts, (void)n, (void)op;
        throw std::runtime_error("all-reduce: no c10d backend in this build");
#else
        std::vector<at::Tensor> v = pg_tensors("all-reduce", ts, n);
        c10d::AllreduceOptions ao;
        ao.timeout = g->timeout;
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        for (auto &t : v) { // one tensor per call: c10d reads a list as copies on several devices
            std::vector<at::Tensor> one{t};
            works.push_back(g->pg->allreduce(one, ao));
        }
        pg_wait(g, works);
        if (op == LT_REDUCE_AVG) // Gloo has no AVG: sum, then divide
            for (auto &t : v) t.div_(g->size);
        return 0;
#endif
    })
}

int lt_pgroup_broadcast(lt_pgroup *g, lt_tensor *const *ts, int n, int root) {
    if (!g) {
        set_err("lt_pgroup_broadcast: NULL group");
        return -1;
    }
    LT_TRY(-1, {
#ifndef LT_HAVE_C10D
        (void)ts, (void)n, (void)root;
        throw std::runtime_error("broadcast: no c10d backend in this build");
#else
        if (root < 0 || root >= g->size)
            throw std::runtime_error("broadcast: root " + std::to_string(root) + " is not a rank");
        std::vector<at::Tensor> v = pg_tensors("broadcast", ts, n);
        c10d::BroadcastOptions bo;
        bo.rootRank = root;
        bo.timeout = g->timeout;
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        for (auto &t : v) {
            std::vector<at::Tensor> one{t};
            works.push_back(g->pg->broadcast(one, bo));
        }
        pg_wait(g, works);
        return 0;
#endif
    })
}

lt_tensor *lt_pgroup_allreduce_sum_grad(lt_pgroup *g, lt_tensor *x) {
    if (null_in(IN(x))) return nullptr;
    if (!g) {
        set_err("lt_pgroup_allreduce_sum_grad: NULL group");
        return nullptr;
    }
    LT_TRY(nullptr, {
#ifndef LT_HAVE_C10D
        throw std::runtime_error("all-reduce: no c10d backend in this build");
#else
        return wrap(AllReduceSumFn::apply(x->t, (int64_t)(intptr_t)g));
#endif
    })
}

struct lt_pgroup_work {
#ifdef LT_HAVE_C10D
    const lt_pgroup *g = nullptr;
    c10::intrusive_ptr<c10d::Work> w;
#endif
};

lt_pgroup_work *lt_pgroup_allreduce_start(lt_pgroup *g, lt_tensor *t) {
    if (null_in(IN(t))) return nullptr;
    if (!g) {
        set_err("lt_pgroup_allreduce_start: NULL group");
        return nullptr;
    }
    LT_TRY(nullptr, {
#ifndef LT_HAVE_C10D
        throw std::runtime_error("all-reduce: no c10d backend in this build");
#else
        std::vector<at::Tensor> one = pg_tensors("all-reduce", &t, 1);
        c10d::AllreduceOptions ao;
        ao.timeout = g->timeout;
        std::unique_ptr<lt_pgroup_work> w(new lt_pgroup_work());
        w->g = g;
        w->w = g->pg->allreduce(one, ao);
        return w.release();
#endif
    })
}

int lt_pgroup_work_wait(lt_pgroup_work *w) {
    if (!w) {
        set_err("lt_pgroup_work_wait: NULL work");
        return -1;
    }
    std::unique_ptr<lt_pgroup_work> own(w);
    LT_TRY(-1, {
#ifdef LT_HAVE_C10D
        std::vector<c10::intrusive_ptr<c10d::Work>> works{w->w};
        pg_wait(w->g, works);
#endif
        return 0;
    })
}

int lt_pgroup_barrier(lt_pgroup *g) {
    if (!g) {
        set_err("lt_pgroup_barrier: NULL group");
        return -1;
    }
    LT_TRY(-1, {
#ifndef LT_HAVE_C10D
        throw std::runtime_error("barrier: no c10d backend in this build");
#else
        c10d::BarrierOptions bo;
        bo.timeout = g->timeout;
        std::vector<c10::intrusive_ptr<c10d::Work>> works{g->pg->barrier(bo)};
        pg_wait(g, works);
        return 0;
#endif
    })
}

} // extern "C"
