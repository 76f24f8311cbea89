// The checkpoint file format: round trips, and every way a file can be
// damaged (each byte flipped, each truncation, bytes appended, a wrong magic or
// version, a well-checksummed but malformed body) is rejected with a clear
// message, never decoded into different content and never a crash.
#include "checkpoint/snapshot.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace {

using namespace std::string_literals;
using rivulet::CheckpointId;
using rivulet::Epoch;
using rivulet::ErrorKind;
using rivulet::Offset;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using rivulet::checkpoint::decode;
using rivulet::checkpoint::encode;
using rivulet::checkpoint::kSnapshotHeaderSize;
using rivulet::checkpoint::Snapshot;
using rivulet::checkpoint::TaskId;

Snapshot small_snapshot() {
  Snapshot s;
  s.task = TaskId{"q1", PartitionId(3)};
  s.id = CheckpointId(42);
  s.epoch = Epoch(7);
  s.stream_time = 1700000000123;
  s.created_at = 1700000005000;
  s.input_offsets[TopicPartition{"orders", PartitionId(3)}] = Offset(1234);
  s.input_offsets[TopicPartition{"users", PartitionId(3)}] = Offset(56);
  s.sections.emplace_back("users_table", std::string("\x82\xa1k\x01\xa1v\x02", 7));
  s.sections.emplace_back("counts", std::string("\x00\x01\x00", 3));
  return s;
}

void set_be(std::string& bytes, std::size_t pos, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    bytes[pos + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// A file image with the given body and a correct checksum: what a buggy
// writer could produce.
std::string with_body(const std::string& body) {
  std::string out = "RVCK";
  out.append(12, '\0');
  set_be(out, 4, 1, 2);
  set_be(out, 8, body.size(), 8);
  out += body;
  const uint64_t sum = XXH3_64bits(out.data(), out.size());
  const std::size_t at = out.size();
  out.append(8, '\0');
  set_be(out, at, sum, 8);
  return out;
}

}  // namespace

TEST_CASE("snapshot: encode then decode gives the same snapshot", "[checkpoint][snapshot]") {
  Snapshot small = small_snapshot();

  Snapshot empty;
  empty.task = TaskId{"empty", PartitionId(0)};
  empty.id = CheckpointId(1);

  Snapshot large = small_snapshot();
  large.task.query = "ORDERS_ENRICHED_ünïcødé";
  large.incremental = true;
  large.base = CheckpointId(41);
  large.stream_time = -5;  // before the epoch: still representable
  std::string big(200000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 256);
  large.sections.emplace_back("big", big);
  large.sections.emplace_back("", "");
  for (int p = 0; p < 100; ++p) {
    large.input_offsets[TopicPartition{"t", PartitionId(p)}] = Offset(int64_t{1} << 40 | p);
  }

  for (const Snapshot& s : {small, empty, large}) {
    REQUIRE(rivulet::checkpoint::check_encodable(s).ok());
    const std::string bytes = encode(s);
    CHECK(bytes.substr(0, 4) == "RVCK");
    auto decoded = decode(bytes);
    REQUIRE(decoded.ok());
    CHECK(*decoded == s);
    CHECK(encode(*decoded) == bytes);  // deterministic
  }
}

TEST_CASE("snapshot: section order and duplicate names are preserved", "[checkpoint][snapshot]") {
  Snapshot s = small_snapshot();
  s.sections = {{"b", "2"}, {"a", "1"}, {"b", "3"}};
  auto decoded = decode(encode(s));
  REQUIRE(decoded.ok());
  CHECK(decoded->sections == s.sections);
}

TEST_CASE("snapshot: every flipped byte is detected", "[checkpoint][snapshot]") {
  const Snapshot original = small_snapshot();
  const std::string bytes = encode(original);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int mask : {0x01, 0x10, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ mask);
      auto decoded = decode(damaged);
      INFO("byte " << i << " xor " << mask);
      REQUIRE_FALSE(decoded.ok());
      CHECK(decoded.error().kind == ErrorKind::Data);
      CHECK_FALSE(decoded.error().message.empty());
    }
  }
}

TEST_CASE("snapshot: every truncation is detected", "[checkpoint][snapshot]") {
  const std::string bytes = encode(small_snapshot());
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    auto decoded = decode(std::string_view(bytes.data(), len));
    INFO("length " << len << " of " << bytes.size());
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().kind == ErrorKind::Data);
    if (len >= kSnapshotHeaderSize + 8) {
      CHECK_THAT(decoded.error().message, Catch::Contains("truncated"));
    }
  }
}

TEST_CASE("snapshot: the messages name what is wrong", "[checkpoint][snapshot]") {
  const std::string bytes = encode(small_snapshot());

  std::string magic = bytes;
  magic[0] = 'X';
  CHECK_THAT(decode(magic).error().message, Catch::Contains("not a Rivulet checkpoint"));
  CHECK_THAT(decode("hello, world, this is long enough").error().message,
             Catch::Contains("not a Rivulet checkpoint"));

  std::string version = bytes;
  set_be(version, 4, 2, 2);
  CHECK_THAT(decode(version).error().message, Catch::Contains("unsupported format version 2"));

  std::string reserved = bytes;
  reserved[7] = 1;
  CHECK_THAT(decode(reserved).error().message, Catch::Contains("reserved"));

  std::string body = bytes;
  body[kSnapshotHeaderSize + 3] ^= 0x20;
  CHECK_THAT(decode(body).error().message, Catch::Contains("checksum mismatch"));

  auto truncated = decode(std::string_view(bytes.data(), bytes.size() - 1));
  CHECK_THAT(truncated.error().message,
             Catch::Contains("truncated: header announces " + std::to_string(bytes.size()) +
                             " bytes, found " + std::to_string(bytes.size() - 1)));

  CHECK_THAT(decode(bytes + "x").error().message, Catch::Contains("unexpected bytes"));
  CHECK_THAT(decode("").error().message, Catch::Contains("truncated"));
  CHECK_THAT(decode("RV").error().message, Catch::Contains("truncated"));

  std::string huge_length = bytes;
  set_be(huge_length, 8, ~uint64_t{0}, 8);
  CHECK_THAT(decode(huge_length).error().message, Catch::Contains("truncated"));
}

TEST_CASE("snapshot: a checksummed but malformed body is rejected cleanly",
          "[checkpoint][snapshot]") {
  // Not msgpack at all.
  CHECK_THAT(decode(with_body("\xc1"s)).error().message, Catch::Contains("malformed body"));
  // msgpack, but not an array.
  CHECK_THAT(decode(with_body("\x01"s)).error().message, Catch::Contains("not an array"));
  // An array of the wrong length.
  CHECK_THAT(decode(with_body("\x92\x01\x02"s)).error().message, Catch::Contains("2 fields"));
  // The right length, wrong field types: query is an integer.
  CHECK_THAT(decode(with_body("\x9a\x01\x01\x01\x01\x01\x01\x90\x90\xc2\x00"s)).error().message,
             Catch::Contains("'query'"));
  // A partition beyond int32.
  CHECK_THAT(decode(with_body("\x9a\xa1q\xce\xff\xff\xff\xff\x01\x01\x01\x01\x90\x90\xc2\x00"s))
                 .error()
                 .message,
             Catch::Contains("partition out of range"));
  // An array header announcing 2^32-1 elements in a tiny body: no huge
  // allocation, a clean error.
  CHECK_FALSE(decode(with_body("\xdd\xff\xff\xff\xff"s)).ok());
  // Two msgpack objects where one is expected.
  CHECK_THAT(decode(with_body("\x01\x02"s)).error().message, Catch::Contains("left over"));
  // The smallest well-formed body decodes.
  auto minimal = decode(with_body("\x9a\xa1q\x00\x01\x02\x03\x04\x90\x90\xc3\x05"s));
  REQUIRE(minimal.ok());
  CHECK(minimal->task.query == "q");
  CHECK(minimal->id == CheckpointId(1));
  CHECK(minimal->incremental);
  CHECK(minimal->base == CheckpointId(5));
}

TEST_CASE("snapshot: random bodies with valid checksums never crash the decoder",
          "[checkpoint][snapshot]") {
  std::mt19937 rng(1234);
  const std::string real = encode(small_snapshot());
  const std::string real_body =
      real.substr(kSnapshotHeaderSize, real.size() - kSnapshotHeaderSize - 8);
  int decoded_ok = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body = real_body;
    // Damage a few bytes of a real body, then checksum it as a writer would.
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) body[rng() % body.size()] = static_cast<char>(rng());
    auto decoded = decode(with_body(body));
    if (decoded.ok()) {
      ++decoded_ok;
      // Whatever decodes is a complete snapshot that survives its own round
      // trip (msgpack allows non-minimal integers, so the bytes may differ).
      auto again = decode(encode(*decoded));
      REQUIRE(again.ok());
      CHECK(*again == *decoded);
    } else {
      CHECK(decoded.error().kind == ErrorKind::Data);
    }
  }
  INFO(decoded_ok << " of 20000 damaged bodies were still well-formed");
  CHECK(decoded_ok < 20000);
}

TEST_CASE("snapshot: deferred sections are produced in place, and none may be left to encode",
          "[checkpoint][snapshot]") {
  Snapshot s = small_snapshot();
  const Snapshot expected = s;
  const std::string counts = s.sections[1].second;
  s.sections[1].second.clear();
  int calls = 0;
  s.deferred.push_back({1, [&] {
                          ++calls;
                          return counts;
                        }});
  auto refused = rivulet::checkpoint::check_encodable(s);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::Fatal);
  CHECK_THAT(refused.error().message, Catch::Contains("not serialized yet"));
  CHECK_THAT(refused.error().message, Catch::Contains("q1-3"));
  rivulet::checkpoint::finish_sections(s);
  CHECK(calls == 1);
  CHECK(s.deferred.empty());
  REQUIRE(rivulet::checkpoint::check_encodable(s).ok());
  CHECK(s == expected);
  auto back = decode(encode(s));
  REQUIRE(back.ok());
  CHECK(*back == expected);
}
