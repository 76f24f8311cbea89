#include "sql/test_driver.hpp"

#include <deque>
#include <utility>

namespace rivulet::sql {

Expected<std::unique_ptr<TestDriver>> TestDriver::create(const Topology& topology) {
  auto valid = topology.validate();
  if (!valid) return valid.error();
  auto graph = topology.instantiate(PartitionId{0});
  if (!graph) return Error::fatal("the topology could not be instantiated");
  return std::unique_ptr<TestDriver>(new TestDriver(std::move(graph)));
}

bool TestDriver::pipe(const std::string& topic, std::optional<std::string> key,
                      std::optional<std::string> value, TimestampMs timestamp) {
  if (!graph_->input_index(topic)) return false;
  RawRecord r;
  r.timestamp = timestamp;
  r.key = std::move(key);
  r.value = std::move(value);
  process(topic, std::move(r));
  return true;
}

void TestDriver::process(const std::string& topic, RawRecord first) {
  // Breadth-first: a record's outputs that are inputs again are processed
  // after the record, in the order they were written.
  std::deque<std::pair<std::string, RawRecord>> pending;
  pending.emplace_back(topic, std::move(first));
  TaskOutput out;
  while (!pending.empty()) {
    auto [t, record] = std::move(pending.front());
    pending.pop_front();
    auto input = graph_->input_index(t);
    if (!input) continue;
    record.offset = next_offset_[t]++;
    out.clear();
    graph_->process(*input, &record, &record + 1, out);
    for (auto& e : out.data_errors) errors_.push_back(std::move(e));
    for (auto& o : out.records) {
      if (graph_->input_index(o.topic)) {
        RawRecord again;
        again.timestamp = o.timestamp;
        again.key = o.key;
        again.value = o.value;
        again.headers = o.headers;
        pending.emplace_back(o.topic, std::move(again));
      }
      outputs_.push_back(std::move(o));
    }
  }
  for (size_t i = 0; i < kSkipReasons; ++i) skipped_[i] += out.skipped_by_reason[i];
}

std::vector<OutputRecord> TestDriver::outputs(const std::string& topic) const {
  std::vector<OutputRecord> out;
  for (const auto& o : outputs_)
    if (o.topic == topic) out.push_back(o);
  return out;
}

}  // namespace rivulet::sql
