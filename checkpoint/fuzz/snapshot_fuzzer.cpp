// libFuzzer target over the checkpoint file format's decoder. The input is
// a snapshot's body; the target frames it with a valid header and checksum
// (without them nearly every input would stop at the checksum), and, with
// the input's first byte odd, damages the frame instead (its magic,
// version, length or checksum) to reach the refusals before the body.
//
// Besides never crashing, hanging or throwing (decode() promises an Error
// of kind Data for anything but an intact snapshot), it checks that a body
// that decodes encodes back to a snapshot that decodes equal. Built only
// with Clang (see checkpoint/README.md for how to run it).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "checkpoint/snapshot.hpp"

namespace {

using namespace rivulet;
using namespace rivulet::checkpoint;

[[noreturn]] void fail(const char* what, size_t size) {
  std::fprintf(stderr, "snapshot_fuzzer: %s (input of %zu bytes)\n", what, size);
  std::abort();
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string frame(std::string_view body) {
  std::string out(kSnapshotMagic, sizeof kSnapshotMagic);
  put_be(out, kSnapshotFormatVersion, 2);
  put_be(out, 0, 2);
  put_be(out, body.size(), 8);
  out.append(body);
  put_be(out, XXH3_64bits(out.data(), out.size()), 8);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes = frame(body);
  if (data[0] % 2 == 1) {
    // Damage one byte of the frame, chosen by the first byte.
    const size_t at = data[0] / 2 % 24;
    const size_t pos = at < 16 ? at : bytes.size() - 8 + (at - 16);
    bytes[pos] = static_cast<char>(bytes[pos] ^ 0x5a);
    auto r = decode(bytes);
    if (r.ok()) fail("a damaged frame decoded", size);
    if (r.error().kind != ErrorKind::Data) fail("a refusal not of kind Data", size);
    return 0;
  }
  auto r = decode(bytes);
  if (!r.ok()) {
    if (r.error().kind != ErrorKind::Data) fail("a refusal not of kind Data", size);
    return 0;
  }
  if (!check_encodable(*r).ok()) fail("a decoded snapshot is not encodable", size);
  auto back = decode(encode(*r));
  if (!back.ok()) fail("a decoded snapshot's encoding does not decode", size);
  if (*back != *r) fail("a snapshot changed through encode and decode", size);
  return 0;
}
