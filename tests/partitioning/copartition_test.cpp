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

TEST_CASE("inputs no join ties run as tasks of the largest count", "[partitioning]") {
  using rivulet::plan_partitions;
  // Two unrelated streams, a GROUP BY's repartition topic.
  auto plan = plan_partitions({{"clicks", 2}, {"orders", 6}}, {}, {"app-groupby-repartition"});
  REQUIRE(plan.ok());
  CHECK(plan->tasks == 6);
  CHECK(plan->of("clicks") == 2);
  CHECK(plan->of("orders") == 6);
  CHECK(plan->of("app-groupby-repartition") == 6);
  CHECK_FALSE(plan->uniform());
  auto same = plan_partitions({{"a", 4}, {"b", 4}}, {{"a", "b"}}, {"r"});
  REQUIRE(same.ok());
  CHECK(same->tasks == 4);
  CHECK(same->uniform());
}

TEST_CASE("a repartition topic takes the count of the inputs it is joined with", "[partitioning]") {
  using rivulet::plan_partitions;
  // A foreign-key join: the subscriptions meet the right table, the
  // responses the left one; an unrelated stream has more partitions.
  auto plan = plan_partitions({{"orders", 3}, {"customers", 2}, {"clicks", 8}},
                              {{"customers", "fk-subscribe"}, {"fk-response", "orders"}},
                              {"fk-subscribe", "fk-response"});
  REQUIRE(plan.ok());
  CHECK(plan->tasks == 8);
  CHECK(plan->of("fk-subscribe") == 2);
  CHECK(plan->of("fk-response") == 3);
  // A group of internal topics only (both sides of a join re-keyed).
  auto internal = plan_partitions({{"l", 2}, {"r", 5}}, {{"rep-l", "rep-r"}}, {"rep-l", "rep-r"});
  REQUIRE(internal.ok());
  CHECK(internal->of("rep-l") == 5);
  CHECK(internal->of("rep-r") == 5);
}

TEST_CASE("a join's inputs must still agree", "[partitioning]") {
  using rivulet::plan_partitions;
  auto plan = plan_partitions({{"orders", 3}, {"users", 4}, {"clicks", 4}},
                              {{"orders", "users", "rep"}}, {"rep"});
  REQUIRE_FALSE(plan.ok());
  CHECK_THAT(plan.error().message, Catch::Contains("Can't join orders with users") &&
                                       Catch::Contains("orders partitions = 3"));
  CHECK_FALSE(plan_partitions({}, {}, {}).ok());
  CHECK_FALSE(plan_partitions({{"x", 0}}, {}, {}).ok());
}
