#pragma once
// Sanitizer builds (RIVULET_SANITIZE sets RIVULET_SANITIZED).
//
// kSanitizerSlowdown: how much longer a one-shot client (rivulet status,
// submit, chaos) waits in a sanitizer build: with every process of a
// cluster instrumented on a small machine, a status request took longer
// than 5 s under ThreadSanitizer.
//
// tsan_release / tsan_acquire: a happens-before edge ThreadSanitizer cannot
// see by itself. Debian's CAF is not instrumented, so the hand-over of an
// actor from one scheduler worker to the next (its queues and locks live
// in libcaf_core) is invisible to TSan: what one handler of an actor wrote
// and a later handler, on another worker, passes to a thread of ours is
// reported as a race although CAF orders the two handlers. A release at
// the end of the first and an acquire in the second state that order.
// No-ops outside ThreadSanitizer builds.

#if defined(__SANITIZE_THREAD__)
#define RIVULET_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RIVULET_TSAN 1
#endif
#endif

#ifdef RIVULET_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace rivulet {

#ifdef RIVULET_SANITIZED
inline constexpr int kSanitizerSlowdown = 6;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

inline void tsan_release([[maybe_unused]] void* address) {
#ifdef RIVULET_TSAN
  __tsan_release(address);
#endif
}

inline void tsan_acquire([[maybe_unused]] void* address) {
#ifdef RIVULET_TSAN
  __tsan_acquire(address);
#endif
}

}  // namespace rivulet
