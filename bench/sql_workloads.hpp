#pragma once
// The SQL workloads of bench_sql: their generators, their queries in
// Rivulet SQL and the results a single task must produce, so that the
// benchmark and its smoke test (tests/bench/) check the same thing.
//
//   yahoo  the Yahoo Streaming Benchmark: JSON ad events (about 230 bytes)
//          keyed by ad_id, a table of 1,000 ads in 100 campaigns; views
//          joined with the ads table and counted per campaign in 10-second
//          tumbling windows (EMIT CHANGES: one update per view).
//   q1..q7 Nexmark (person, auction and bid JSON events in the proportions
//          1:3:46 of the reference generator) and the queries Q1, Q2, Q3, Q5
//          and Q7 as Rivulet SQL; Q3, Q5 and Q7 deviate from the reference
//          SQL where Rivulet's dialect (ksqlDB's) has no equivalent: see
//          docs/benchmarks.md.
//
// Everything here is deterministic (a seeded generator) and single-threaded.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/record.hpp"

namespace rivulet::bench {

// One generated record, in production order.
struct GenRecord {
  int topic = 0;  // index into Workload::topics
  std::optional<std::string> key;
  std::string value;
  int64_t timestamp = 0;  // event time, ms
};

struct Workload {
  std::string name;             // "yahoo", "q1", ...
  std::string sql;              // the SQL script: CREATE sources, the persistent queries
  std::vector<std::string> topics;        // inputs the generator writes
  std::vector<bool> table_topic;          // per topic: read as a table (loaded, not timed input)
  std::vector<std::string> output_topics;  // the final results (read back)
  std::string description;
};

// Topic names get `prefix` (fresh names on a real Kafka).
Workload yahoo_workload(const std::string& prefix = "");
// q: "q1", "q2", "q3", "q5" or "q7".
Workload nexmark_workload(const std::string& q, const std::string& prefix = "");
bool is_nexmark(const std::string& name);

// The Yahoo generator. The ads table first (1,000 records), then `events`
// ad events, event time base_ms + i * 1000 / events_per_second.
class YahooGenerator {
 public:
  explicit YahooGenerator(uint64_t seed = 42);
  static constexpr int kCampaigns = 100;
  static constexpr int kAdsPerCampaign = 10;
  const std::vector<std::string>& ads() const { return ads_; }
  const std::string& campaign_of(int ad) const { return campaigns_[ad / kAdsPerCampaign]; }
  // The ads table's records (topic 1).
  std::vector<GenRecord> table() const;
  // One ad event (topic 0) at event time `time_ms`. `ad` receives the index
  // of its ad, `view` whether it is a view.
  GenRecord event(int64_t time_ms, int* ad = nullptr, bool* view = nullptr);

 private:
  uint64_t next();
  std::string uuid();
  uint64_t state_;
  std::vector<std::string> campaigns_, ads_;
};

// The Nexmark generator (after the Beam/Flink reference: event i is a
// person when i % 50 == 0, an auction when i % 50 is 1..3, else a bid;
// hot auctions, bidders and sellers as in the reference). Event time
// base_ms + i * 1000 / events_per_second. Topics: 0 person (keyed by id,
// 8-byte big-endian BIGINT), 1 auction (no key), 2 bid (no key).
class NexmarkGenerator {
 public:
  explicit NexmarkGenerator(int64_t base_ms, double events_per_second, uint64_t seed = 42);
  GenRecord next_event();
  int64_t events() const { return next_id_; }

  // The fields of the last event, for the checks.
  struct Person { int64_t id; std::string state; };
  struct Auction { int64_t id, seller, category; };
  struct Bid { int64_t auction, bidder, price; };
  int last_kind = 0;  // 0 person, 1 auction, 2 bid
  Person person{};
  Auction auction{};
  Bid bid{};

 private:
  uint64_t next();
  int64_t uniform(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  int64_t last_base0_person(int64_t id) const;
  int64_t last_base0_auction(int64_t id) const;
  int64_t next_base0_person(int64_t id);
  int64_t next_base0_auction(int64_t id);
  int64_t next_price();
  std::string next_string(int len);
  std::string extra(int current, int wanted);
  uint64_t state_;
  int64_t base_ms_;
  double ms_per_event_;
  int64_t next_id_ = 0;
};

// The 8-byte big-endian encoding of a BIGINT key (Kafka's LongSerializer).
std::string bigint_key(int64_t v);

// What a correct single task (TestDriver, records in generation order)
// writes, computed from the generator's own fields; `check` compares it with
// the outputs and returns "" or what differs.
class Expectation {
 public:
  explicit Expectation(std::string workload) : workload_(std::move(workload)) {}
  // Called once per generated record, after the generator made it.
  void on_yahoo(int64_t time_ms, int ad, bool view, const YahooGenerator& g);
  void on_nexmark(int64_t time_ms, const NexmarkGenerator& g);
  // `outputs`: every record written to the workload's output topics, in order.
  std::string check(const std::vector<OutputRecord>& outputs) const;
  // Only the final result of every key (outputs in offset order within each
  // partition, any order across them): what a pipeline with the output
  // cache must still get right. Yahoo only; nullopt for the others.
  std::optional<std::string> check_final(const std::vector<OutputRecord>& outputs) const;
  int64_t expected_outputs() const { return expected_outputs_; }

 private:
  std::string workload_;
  int64_t max_time_ = 0;
  int64_t expected_outputs_ = -1;  // -1: not known exactly (windowed EMIT FINAL)
  // yahoo: (campaign, window start) -> views; q5: (window start) -> max
  // composite; q7: (window start) -> max price.
  std::map<std::pair<std::string, int64_t>, int64_t> yahoo_;
  std::map<int64_t, std::map<int64_t, int64_t>> q5_counts_;  // window start -> auction -> bids
  std::map<int64_t, int64_t> q7_max_;
  std::map<int64_t, std::string> person_state_;  // q3: persons seen so far
  std::vector<int64_t> q3_auctions_;              // q3: auctions that join, in order
  std::vector<std::pair<int64_t, int64_t>> bids_;  // q1/q2: (auction, price) expected out
};

}  // namespace rivulet::bench
