#pragma once
// How much longer a one-shot client (rivulet status, submit, chaos) waits
// in a sanitizer build (RIVULET_SANITIZE sets RIVULET_SANITIZED): with every
// process of a cluster instrumented on a small machine, a status request
// took longer than 5 s under ThreadSanitizer.

namespace rivulet {

#ifdef RIVULET_SANITIZED
inline constexpr int kSanitizerSlowdown = 6;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

}  // namespace rivulet
