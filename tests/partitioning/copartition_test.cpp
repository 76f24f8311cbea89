#include <catch2/catch.hpp>

#include "partitioning/copartition.hpp"

using rivulet::check_copartitioned;
using rivulet::TopicPartitions;

TEST_CASE("co-partitioned inputs give their common count", "[partitioning]") {
  auto r = check_copartitioned({{"orders", 8}, {"users", 8}});
  REQUIRE(r.ok());
  CHECK(*r == 8);
}

TEST_CASE("a partition count mismatch names the topics and counts", "[partitioning]") {
  auto r = check_copartitioned({{"ORDERS", 8}, {"USERS", 4}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "Can't join ORDERS with USERS since the number of partitions don't match. ORDERS "
        "partitions = 8; USERS partitions = 4. Please repartition either one so that the number "
        "of partitions match.");
  auto three = check_copartitioned({{"A", 2}, {"B", 2}, {"C", 3}});
  REQUIRE_FALSE(three.ok());
  CHECK_THAT(three.error().message, Catch::Contains("A partitions = 2") &&
                                        Catch::Contains("C partitions = 3") &&
                                        Catch::Contains("A, B and C"));
}

TEST_CASE("no inputs or empty topics are errors", "[partitioning]") {
  CHECK_FALSE(check_copartitioned({}).ok());
  CHECK_FALSE(check_copartitioned({{"x", 0}}).ok());
}
