// The Kafka store's record formats on their own: keys, manifests and chunks
// round-trip, and every damage is rejected with a reason.
#include <catch2/catch.hpp>
#include <string>

#include "checkpoint/kafka_store.hpp"

using namespace rivulet;
using namespace rivulet::checkpoint;

namespace {

Manifest sample_manifest(bool incremental) {
  Manifest m;
  m.task = TaskId{"orders-app", PartitionId(5)};
  m.id = CheckpointId(42);
  m.incremental = incremental;
  if (incremental) m.parent = CheckpointId(41);
  m.epoch = Epoch(1700000000123);
  m.chunks = {{3, 100, 1000, 0x1122334455667788ULL}, {4, 7, 24, 99}};
  m.total_bytes = 1024;
  return m;
}

}  // namespace

TEST_CASE("kafka store keys name the task, the id and the chunk, and parse strictly",
          "[checkpoint][kafka]") {
  const TaskId task{"orders-app", PartitionId(5)};
  CHECK(manifest_key(task, CheckpointId(42)) == "orders-app-5/00000000000000000042/manifest");
  CHECK(chunk_key(task, CheckpointId(42), 7) ==
        "orders-app-5/00000000000000000042/chunk-000007");
  auto m = parse_record_key(manifest_key(task, CheckpointId(42)));
  REQUIRE(m);
  CHECK(m->task == "orders-app-5");
  CHECK(m->id == CheckpointId(42));
  CHECK_FALSE(m->chunk);
  auto c = parse_record_key(chunk_key(task, CheckpointId(9), 123456));
  REQUIRE(c);
  CHECK(c->task == "orders-app-5");
  CHECK(c->chunk == 123456u);
  for (const char* bad : {"", "x", "a/b", "t/42/manifest", "t/0000000000000000004x/manifest",
                          "t/00000000000000000042/chunk-12", "t/00000000000000000042/other",
                          "/00000000000000000042/manifest", "t/99999999999999999999/manifest"}) {
    INFO(bad);
    CHECK_FALSE(parse_record_key(bad));
  }
}

TEST_CASE("kafka store manifests round-trip and any damaged byte is rejected",
          "[checkpoint][kafka]") {
  for (bool incremental : {false, true}) {
    const Manifest m = sample_manifest(incremental);
    const std::string bytes = encode_manifest(m);
    auto back = decode_manifest(bytes);
    REQUIRE(back.ok());
    CHECK(*back == m);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
      auto r = decode_manifest(damaged);
      INFO("byte " << i);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().kind == ErrorKind::Data);
    }
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      auto r = decode_manifest(bytes.substr(0, cut));
      REQUIRE_FALSE(r.ok());
    }
  }
  auto wrong = decode_manifest("RVCK....");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("RVCM") != std::string::npos);
}

TEST_CASE("kafka store chunks carry their id, index and checksum", "[checkpoint][kafka]") {
  const std::string payload = "some bytes of a snapshot";
  const std::string chunk = encode_chunk(CheckpointId(7), 2, 5, payload);
  CHECK(chunk.size() == kChunkHeaderSize + payload.size());
  auto view = decode_chunk(chunk);
  REQUIRE(view.ok());
  CHECK(view->id == CheckpointId(7));
  CHECK(view->index == 2u);
  CHECK(view->count == 5u);
  CHECK(view->payload == payload);
  std::string flipped = chunk;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  auto bad = decode_chunk(flipped);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("checksum") != std::string::npos);
  CHECK_FALSE(decode_chunk(chunk.substr(0, 10)).ok());
}

TEST_CASE("a task's home partition is stable and spreads tasks", "[checkpoint][kafka]") {
  std::set<int32_t> seen;
  for (int p = 0; p < 64; ++p) {
    const TaskId task{"app", PartitionId(p)};
    const int32_t home = home_partition(task, 8);
    CHECK(home == home_partition(task, 8));
    CHECK(home >= 0);
    CHECK(home < 8);
    seen.insert(home);
  }
  CHECK(seen.size() == 8);
}
