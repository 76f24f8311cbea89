#include "sql/test_driver.hpp"

#include <deque>
#include <utility>

namespace rivulet::sql {

Expected<std::unique_ptr<TestDriver>> TestDriver::create(const Topology& topology) {
  auto valid = topology.validate();
  if (!valid) return valid.error();
  std::shared_ptr<GlobalTables> globals;
  if (!topology.global_tables().empty()) {
    auto g = GlobalTables::create(topology.global_tables());
    if (!g) return g.error();
    globals = std::move(*g);
  }
  auto graph = topology.instantiate(PartitionId{0}, globals);
  if (!graph) return Error::fatal("the topology could not be instantiated");
  auto driver = std::unique_ptr<TestDriver>(new TestDriver(std::move(graph)));
  driver->globals_ = std::move(globals);
  return driver;
}

bool TestDriver::pipe(const std::string& topic, std::optional<std::string> key,
                      std::optional<std::string> value, TimestampMs timestamp, Headers headers) {
  if (!reads(topic)) return false;
  RawRecord r;
  r.timestamp = timestamp;
  r.headers = std::move(headers);
  r.key = std::move(key);
  r.value = std::move(value);
  process(topic, std::move(r));
  return true;
}

void TestDriver::process(const std::string& topic, RawRecord first) {
  Pending pending;
  pending.emplace_back(topic, std::move(first));
  run(std::move(pending));
}

void TestDriver::run(Pending pending) {
  // Breadth-first: a record's outputs that are inputs again are processed
  // after the record, in the order they were written.
  TaskOutput out;
  while (!pending.empty()) {
    auto [t, record] = std::move(pending.front());
    pending.pop_front();
    auto input = graph_->input_index(t);
    const bool global = globals_ && globals_->reads(t);
    if (!input && !global) continue;
    record.offset = next_offset_[t]++;
    out.clear();
    // A global table's replica first: the task reads the table as of this
    // record (records are applied in the order piped).
    if (global) globals_->apply(t, PartitionId{0}, &record, &record + 1, errors_);
    if (!input) continue;
    graph_->process(*input, &record, &record + 1, out);
    take(out, pending);
  }
  for (size_t i = 0; i < kSkipReasons; ++i) skipped_[i] += out.skipped_by_reason[i];
  expression_errors_ += out.expression_errors;
}

void TestDriver::take(TaskOutput& out, Pending& pending) {
  for (auto& e : out.data_errors) errors_.push_back(std::move(e));
  for (auto& s : out.first_skips) first_skips_.push_back(std::move(s));
  for (auto& o : out.records) {
    if (reads(o.topic)) {
      RawRecord again;
      again.timestamp = o.timestamp;
      again.key = o.key;
      again.value = o.value;
      again.headers = sent_headers(o);
      pending.emplace_back(o.topic, std::move(again));
    }
    outputs_.push_back(std::move(o));
  }
}

void TestDriver::flush_output_cache() {
  TaskOutput out;
  graph_->flush_output_cache(out);
  Pending pending;
  take(out, pending);
  run(std::move(pending));
}

bool TestDriver::reads(const std::string& topic) const {
  return graph_->input_index(topic) || (globals_ && globals_->reads(topic));
}

std::vector<OutputRecord> TestDriver::outputs(const std::string& topic) const {
  std::vector<OutputRecord> out;
  for (const auto& o : outputs_)
    if (o.topic == topic) out.push_back(o);
  return out;
}

}  // namespace rivulet::sql
