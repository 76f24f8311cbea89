#include <catch2/catch.hpp>

#include "actors/delivery_tracker.hpp"

using namespace rivulet;
using rivulet::actors::DeliveryTracker;

static const TopicPartition kOrders{"orders", PartitionId{0}};
static const TopicPartition kUsers{"users", PartitionId{0}};

TEST_CASE("offsets become committable only when all earlier outputs are acknowledged",
          "[actors]") {
  DeliveryTracker t;
  auto* a = t.begin_run(kOrders, Offset{10}, 2);
  auto* b = t.begin_run(kOrders, Offset{20}, 1);
  CHECK(t.committable().empty());
  b->acknowledge(nullptr);  // a later run done first: still nothing
  CHECK(t.committable().empty());
  a->acknowledge(nullptr);
  CHECK(t.committable().empty());  // a still has one output in flight
  a->acknowledge(nullptr);
  auto c = t.committable();
  REQUIRE(c.count(kOrders) == 1);
  CHECK(c.at(kOrders) == Offset{20});
  CHECK(t.runs_in_flight() == 0);
}

TEST_CASE("runs without outputs complete at once and keep per-partition progress",
          "[actors]") {
  DeliveryTracker t;
  t.begin_run(kUsers, Offset{5}, 0);
  auto* o = t.begin_run(kOrders, Offset{3}, 1);
  t.begin_run(kUsers, Offset{9}, 0);
  auto c = t.committable();
  CHECK(c.at(kUsers) == Offset{5});  // blocked behind the orders run
  CHECK(c.count(kOrders) == 0);
  o->acknowledge(nullptr);
  c = t.committable();
  CHECK(c.at(kUsers) == Offset{9});
  CHECK(c.at(kOrders) == Offset{3});
}

TEST_CASE("a failed delivery stops progress and is reported", "[actors]") {
  DeliveryTracker t;
  auto* a = t.begin_run(kOrders, Offset{1}, 1);
  auto* b = t.begin_run(kOrders, Offset{2}, 1);
  std::string why = "message timed out";
  a->acknowledge(&why);
  b->acknowledge(nullptr);
  auto c = t.committable();
  CHECK(c.count(kOrders) == 0);
  REQUIRE(t.failure().has_value());
  CHECK(*t.failure() == "message timed out");
}
