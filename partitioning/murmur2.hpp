#pragma once
// The Java Kafka client's default partitioner for keyed records, so that
// records Rivulet writes land where a Java producer's would and inputs
// written by Java clients are co-partitioned with ours:
//   partition = toPositive(murmur2(serialized key)) % partitions
// (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c). Our
// producers set librdkafka's partitioner=murmur2_random, which is the same.
#include <cstdint>
#include <string_view>

namespace rivulet {

int32_t murmur2(std::string_view data);
inline int32_t to_positive(int32_t v) { return v & 0x7fffffff; }
// Precondition: num_partitions > 0.
int32_t java_partition(std::string_view serialized_key, int32_t num_partitions);

}  // namespace rivulet
