#include <catch2/catch.hpp>
#include <thread>

#include "actors/task_inbox.hpp"

using namespace rivulet;
using rivulet::actors::TaskInbox;

static RawBatch batch_of(int64_t first, int n) {
  RawBatch b;
  b.tp = TopicPartition{"t", PartitionId{0}};
  for (int i = 0; i < n; ++i) {
    RawRecord r;
    r.offset = first + i;
    b.records.push_back(r);
  }
  return b;
}

TEST_CASE("a full inbox refuses and hands the batch back intact", "[actors]") {
  TaskInbox inbox(2);
  bool wake = false;
  REQUIRE(inbox.push(batch_of(0, 3), wake));
  CHECK(wake);  // first push wakes the actor
  REQUIRE(inbox.push(batch_of(3, 3), wake));
  CHECK_FALSE(wake);  // a wake is already pending
  RawBatch third = batch_of(6, 3);
  CHECK_FALSE(inbox.push(std::move(third), wake));
  REQUIRE(third.records.size() == 3);
  CHECK(third.records[0].offset == 6);
  std::vector<int64_t> seen;
  inbox.drain([&](RawBatch&& b) {
    for (auto& r : b.records) seen.push_back(r.offset);
  });
  CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  REQUIRE(inbox.push(std::move(third), wake));
  CHECK(wake);  // drained: the next push wakes again
}

TEST_CASE("one producer thread and one consumer lose and reorder nothing", "[actors]") {
  TaskInbox inbox(4);
  const int batches = 20000;
  std::thread producer([&] {
    for (int i = 0; i < batches; ++i) {
      RawBatch b = batch_of(i, 1);
      bool wake = false;
      while (!inbox.push(std::move(b), wake)) std::this_thread::yield();
    }
  });
  int64_t expected = 0;
  bool in_order = true;
  while (expected < batches) {
    inbox.drain([&](RawBatch&& b) {
      in_order = in_order && b.records[0].offset == expected;
      ++expected;
    });
  }
  producer.join();
  CHECK(in_order);
  CHECK(inbox.size_approx() == 0);
}
