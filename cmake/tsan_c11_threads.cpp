// ThreadSanitizer builds only (RIVULET_SANITIZE=thread): librdkafka uses
// C11 threads (thrd_create, mtx_lock, cnd_wait, call_once), which glibc
// (2.34 and later) implements without going through the pthread functions
// GCC 12's ThreadSanitizer intercepts. TSan then never saw librdkafka's
// threads start, and crashed on their first allocation (every test with the
// embedded broker died in the broker's "rdk:mock" thread), nor its locks,
// and took every record handed over through its queues for a race. Every
// program of a TSan build defines these C11 functions here on top of the
// pthread ones (glibc's C11 types have the pthread types' layout); the
// dynamic linker binds librdkafka's references to the executable's
// definitions before glibc's.
#include <pthread.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

namespace {

// glibc's values of the C11 thread results (threads.h, not a C++ header).
constexpr int kThrdSuccess = 0;
constexpr int kThrdBusy = 1;
constexpr int kThrdError = 2;
constexpr int kThrdNomem = 3;
constexpr int kThrdTimedout = 4;
constexpr int kMtxRecursive = 1;

int result(int rc) {
  switch (rc) {
    case 0: return kThrdSuccess;
    case EBUSY: return kThrdBusy;
    case ENOMEM: return kThrdNomem;
    case ETIMEDOUT: return kThrdTimedout;
    default: return kThrdError;
  }
}

struct Start {
  int (*fn)(void*);
  void* arg;
};

void* run(void* p) {
  const Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start.fn(start.arg)));
}

}  // namespace

extern "C" {

int thrd_create(pthread_t* thread, int (*fn)(void*), void* arg) {
  auto* start = new (std::nothrow) Start{fn, arg};
  if (start == nullptr) return kThrdNomem;
  const int rc = pthread_create(thread, nullptr, run, start);
  if (rc != 0) {
    delete start;
    return rc == ENOMEM ? kThrdNomem : kThrdError;
  }
  return kThrdSuccess;
}

int thrd_join(pthread_t thread, int* result) {
  void* out = nullptr;
  if (pthread_join(thread, &out) != 0) return kThrdError;
  if (result != nullptr) *result = static_cast<int>(reinterpret_cast<std::intptr_t>(out));
  return kThrdSuccess;
}

int thrd_detach(pthread_t thread) { return result(pthread_detach(thread)); }

int mtx_init(pthread_mutex_t* mutex, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & kMtxRecursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return result(rc);
}
int mtx_lock(pthread_mutex_t* mutex) { return result(pthread_mutex_lock(mutex)); }
int mtx_trylock(pthread_mutex_t* mutex) { return result(pthread_mutex_trylock(mutex)); }
int mtx_timedlock(pthread_mutex_t* mutex, const struct timespec* until) {
  return result(pthread_mutex_timedlock(mutex, until));
}
int mtx_unlock(pthread_mutex_t* mutex) { return result(pthread_mutex_unlock(mutex)); }
void mtx_destroy(pthread_mutex_t* mutex) { pthread_mutex_destroy(mutex); }

int cnd_init(pthread_cond_t* cond) { return result(pthread_cond_init(cond, nullptr)); }
int cnd_signal(pthread_cond_t* cond) { return result(pthread_cond_signal(cond)); }
int cnd_broadcast(pthread_cond_t* cond) { return result(pthread_cond_broadcast(cond)); }
int cnd_wait(pthread_cond_t* cond, pthread_mutex_t* mutex) {
  return result(pthread_cond_wait(cond, mutex));
}
int cnd_timedwait(pthread_cond_t* cond, pthread_mutex_t* mutex, const struct timespec* until) {
  return result(pthread_cond_timedwait(cond, mutex, until));
}
void cnd_destroy(pthread_cond_t* cond) { pthread_cond_destroy(cond); }

void call_once(pthread_once_t* flag, void (*fn)()) { pthread_once(flag, fn); }

}  // extern "C"
