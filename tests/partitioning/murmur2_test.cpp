#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <random>

#include "partitioning/murmur2.hpp"

using rivulet::java_partition;
using rivulet::murmur2;

TEST_CASE("murmur2 matches the Java client's test vectors", "[partitioning]") {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  CHECK(murmur2("21") == -973932308);
  CHECK(murmur2("foobar") == -790332482);
  CHECK(murmur2("a-little-bit-long-string") == -985981536);
  CHECK(murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(murmur2("abc") == 479470107);
}

TEST_CASE("java_partition is positive and in range", "[partitioning]") {
  for (int n : {1, 2, 3, 8, 13, 100}) {
    for (int i = 0; i < 1000; ++i) {
      auto key = "key-" + std::to_string(i);
      auto p = java_partition(key, n);
      REQUIRE(p >= 0);
      REQUIRE(p < n);
    }
  }
}

TEST_CASE("librdkafka's murmur2 partitioner agrees with ours", "[partitioning]") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> len(0, 40);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 5000; ++i) {
    std::string key(static_cast<size_t>(len(rng)), '\0');
    for (auto& c : key) c = static_cast<char>(byte(rng));
    for (int32_t n : {1, 4, 8, 12, 31}) {
      int32_t theirs = rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), n,
                                                        nullptr, nullptr);
      REQUIRE(theirs == java_partition(key, n));
    }
  }
}
