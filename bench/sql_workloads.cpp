#include "bench/sql_workloads.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace rivulet::bench {
namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

const char* const kNexmarkSources = R"(
CREATE TABLE person (id BIGINT PRIMARY KEY, name STRING, email_address STRING,
    credit_card STRING, city STRING, state STRING, date_time BIGINT, extra STRING)
  WITH (kafka_topic='{P}nexmark-person', value_format='JSON', timestamp='date_time');
CREATE STREAM auction (id BIGINT, item_name STRING, description STRING, initial_bid BIGINT,
    reserve BIGINT, date_time BIGINT, expires BIGINT, seller BIGINT, category BIGINT,
    extra STRING)
  WITH (kafka_topic='{P}nexmark-auction', value_format='JSON', timestamp='date_time');
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
    date_time BIGINT, extra STRING)
  WITH (kafka_topic='{P}nexmark-bid', value_format='JSON', timestamp='date_time');
)";

std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at)) {
    text.replace(at, what.size(), with);
    at += with.size();
  }
  return text;
}

// {P} in topic names becomes the prefix; {N} in the names of query results
// becomes the prefix as an identifier, so that internal topics (named after
// the query, like CTAS_<NAME>_0-groupby-repartition) are fresh per prefix too.
std::string with_prefix(const std::string& text, const std::string& prefix) {
  std::string name;
  for (char c : prefix) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return replace_all(replace_all(text, "{P}", prefix), "{N}", name);
}

// The Nexmark reference's constants (Beam's NexmarkConfiguration defaults).
constexpr int64_t kPersonProportion = 1, kAuctionProportion = 3, kTotalProportion = 50;
constexpr int64_t kFirstPersonId = 1000, kFirstAuctionId = 1000, kFirstCategoryId = 10;
constexpr int64_t kNumCategories = 5, kInFlightAuctions = 100, kActivePeople = 1000;
constexpr int64_t kPersonIdLead = 10, kAuctionIdLead = 10;
constexpr int64_t kHotAuctionRatio = 2, kHotBiddersRatio = 4, kHotSellersRatio = 4;
const char* const kStates[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
const char* const kCities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise",
                               "Portland", "Bend",        "Redmond",       "Seattle",
                               "Kent",     "Cheyenne"};
const char* const kFirstNames[] = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie",
                                   "Sarah", "Deiter", "Walter"};
const char* const kLastNames[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton",
                                  "Smith",  "Jones",  "Noris"};
const char* const kChannels[] = {"Google", "Facebook", "Baidu", "Apple"};

}  // namespace

bool is_nexmark(const std::string& name) {
  return name == "q1" || name == "q2" || name == "q3" || name == "q5" || name == "q7";
}

Workload yahoo_workload(const std::string& prefix) {
  Workload w;
  w.name = "yahoo";
  w.description =
      "Yahoo Streaming Benchmark: ad events WHERE event_type = 'view', JOIN ads (1,000 ads in 100 "
      "campaigns), COUNT per campaign in 10 s TUMBLING windows, EMIT CHANGES";
  w.topics = {prefix + "ad-events", prefix + "ads"};
  w.table_topic = {false, true};
  w.output_topics = {prefix + "campaign-counts"};
  w.sql = with_prefix(R"(
CREATE STREAM ad_events (ad_id STRING KEY, user_id STRING, page_id STRING, ad_type STRING,
    event_type STRING, event_time BIGINT, ip_address STRING)
  WITH (kafka_topic='{P}ad-events', value_format='JSON', timestamp='event_time');
CREATE TABLE ads (ad_id STRING PRIMARY KEY, campaign_id STRING)
  WITH (kafka_topic='{P}ads', value_format='JSON');
CREATE TABLE {N}campaign_counts WITH (kafka_topic='{P}campaign-counts') AS
  SELECT a.campaign_id AS campaign_id, COUNT(*) AS views
  FROM ad_events e JOIN ads a ON e.ad_id = a.ad_id
  WINDOW TUMBLING (SIZE 10 SECONDS)
  WHERE e.event_type = 'view'
  GROUP BY a.campaign_id
  EMIT CHANGES;
)",
                      prefix);
  return w;
}

Workload nexmark_workload(const std::string& q, const std::string& prefix) {
  Workload w;
  w.name = q;
  const std::string person = prefix + "nexmark-person", auction = prefix + "nexmark-auction",
                    bid = prefix + "nexmark-bid";
  std::string query;
  if (q == "q1") {
    w.description = "Nexmark Q1: currency conversion, price * 0.908 of every bid";
    w.topics = {bid};
    w.output_topics = {prefix + "nexmark-q1"};
    query = R"(
CREATE STREAM {N}q1 WITH (kafka_topic='{P}nexmark-q1') AS
  SELECT auction, bidder, price * 0.908 AS price, date_time, extra FROM bid;
)";
  } else if (q == "q2") {
    w.description = "Nexmark Q2: bids WHERE auction % 123 = 0";
    w.topics = {bid};
    w.output_topics = {prefix + "nexmark-q2"};
    query = R"(
CREATE STREAM {N}q2 WITH (kafka_topic='{P}nexmark-q2') AS
  SELECT auction, price FROM bid WHERE auction % 123 = 0;
)";
  } else if (q == "q3") {
    w.description =
        "Nexmark Q3: auction JOIN person (stream-table, re-keyed by seller) WHERE category = 10 "
        "AND state IN ('OR','ID','CA')";
    w.topics = {person, auction};
    w.output_topics = {prefix + "nexmark-q3"};
    query = R"(
CREATE STREAM {N}q3 WITH (kafka_topic='{P}nexmark-q3') AS
  SELECT a.seller AS seller, p.name AS name, p.city AS city, p.state AS state, a.id AS id
  FROM auction a JOIN person p ON a.seller = p.id
  WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');
)";
  } else if (q == "q5") {
    w.description =
        "Nexmark Q5: bids per auction in HOPPING windows (10 s, advance 2 s, EMIT FINAL), then "
        "the largest count per window (MAX over the counts' topic read as a stream)";
    w.topics = {bid};
    w.output_topics = {prefix + "nexmark-q5"};
    query = R"(
CREATE TABLE {N}q5_counts WITH (kafka_topic='{P}nexmark-q5-counts') AS
  SELECT auction, AS_VALUE(auction) AS auction_id, COUNT(*) AS num, WINDOWSTART AS starttime
  FROM bid WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 2 SECONDS, RETENTION 1 MINUTE,
    GRACE PERIOD 10 SECONDS)
  GROUP BY auction EMIT FINAL;
CREATE STREAM {N}q5_counts_stream (auction_id BIGINT, num BIGINT, starttime BIGINT)
  WITH (kafka_topic='{P}nexmark-q5-counts', value_format='JSON');
CREATE TABLE {N}q5 WITH (kafka_topic='{P}nexmark-q5') AS
  SELECT starttime, MAX(num) AS maxn, MAX(num * 10000000000 + auction_id) AS hot
  FROM {N}q5_counts_stream GROUP BY starttime;
)";
  } else if (q == "q7") {
    w.description =
        "Nexmark Q7: the highest bid per 10 s TUMBLING window (EMIT FINAL), in two phases: the "
        "highest per window and auction % 16, then the highest of those per window";
    w.topics = {bid};
    w.output_topics = {prefix + "nexmark-q7"};
    query = R"(
CREATE TABLE {N}q7_partial WITH (kafka_topic='{P}nexmark-q7-partial') AS
  SELECT auction % 16 AS bucket, MAX(price * 10000000000 + auction) AS top,
    WINDOWSTART AS starttime
  FROM bid WINDOW TUMBLING (SIZE 10 SECONDS, RETENTION 1 MINUTE, GRACE PERIOD 10 SECONDS)
  GROUP BY auction % 16 EMIT FINAL;
CREATE STREAM {N}q7_partial_stream (top BIGINT, starttime BIGINT)
  WITH (kafka_topic='{P}nexmark-q7-partial', value_format='JSON');
CREATE TABLE {N}q7 WITH (kafka_topic='{P}nexmark-q7') AS
  SELECT starttime, MAX(top / 10000000000) AS maxprice, MAX(top) AS top
  FROM {N}q7_partial_stream GROUP BY starttime;
)";
  } else {
    throw std::invalid_argument("unknown Nexmark query " + q);
  }
  w.table_topic.assign(w.topics.size(), false);
  if (q == "q3") w.table_topic[0] = true;
  w.sql = with_prefix(std::string(kNexmarkSources) + query, prefix);
  return w;
}

std::string bigint_key(int64_t v) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i)
    k[static_cast<size_t>(i)] = static_cast<char>((static_cast<uint64_t>(v) >> (56 - 8 * i)) & 0xff);
  return k;
}

// ---------------------------------------------------------------- Yahoo

YahooGenerator::YahooGenerator(uint64_t seed) : state_(seed) {
  for (int c = 0; c < kCampaigns; ++c) campaigns_.push_back(uuid());
  for (int a = 0; a < kCampaigns * kAdsPerCampaign; ++a) ads_.push_back(uuid());
}

uint64_t YahooGenerator::next() { return splitmix(state_); }

std::string YahooGenerator::uuid() {
  const uint64_t a = next(), b = next();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::vector<GenRecord> YahooGenerator::table() const {
  std::vector<GenRecord> out;
  for (size_t a = 0; a < ads_.size(); ++a) {
    GenRecord r;
    r.topic = 1;
    r.key = ads_[a];
    r.value = R"({"campaign_id":")" + campaign_of(static_cast<int>(a)) + R"("})";
    out.push_back(std::move(r));
  }
  return out;
}

GenRecord YahooGenerator::event(int64_t time_ms, int* ad, bool* view) {
  static const char* const kAdTypes[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
  static const char* const kEventTypes[] = {"view", "click", "purchase"};
  const int a = static_cast<int>(next() % ads_.size());
  const int type = static_cast<int>(next() % 3);
  const int ad_type = static_cast<int>(next() % 5);
  GenRecord r;
  r.topic = 0;
  r.key = ads_[static_cast<size_t>(a)];
  r.timestamp = time_ms;
  const std::string user = uuid(), page = uuid();
  char buf[400];
  std::snprintf(buf, sizeof buf,
                R"({"user_id":"%s","page_id":"%s","ad_id":"%s","ad_type":"%s","event_type":"%s",)"
                R"("event_time":%lld,"ip_address":"1.2.3.4"})",
                user.c_str(), page.c_str(), ads_[static_cast<size_t>(a)].c_str(), kAdTypes[ad_type],
                kEventTypes[type], static_cast<long long>(time_ms));
  r.value = buf;
  if (ad != nullptr) *ad = a;
  if (view != nullptr) *view = type == 0;
  return r;
}

// ---------------------------------------------------------------- Nexmark

NexmarkGenerator::NexmarkGenerator(int64_t base_ms, double events_per_second, uint64_t seed)
    : state_(seed), base_ms_(base_ms), ms_per_event_(1000.0 / events_per_second) {}

uint64_t NexmarkGenerator::next() { return splitmix(state_); }

int64_t NexmarkGenerator::last_base0_person(int64_t id) const {
  const int64_t epoch = id / kTotalProportion;
  int64_t offset = id % kTotalProportion;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;
  return epoch * kPersonProportion + offset;
}

int64_t NexmarkGenerator::last_base0_auction(int64_t id) const {
  int64_t epoch = id / kTotalProportion;
  int64_t offset = id % kTotalProportion;
  if (offset < kPersonProportion) {
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return std::max<int64_t>(0, epoch * kAuctionProportion + offset);
}

int64_t NexmarkGenerator::next_base0_person(int64_t id) {
  const int64_t people = last_base0_person(id) + 1;
  const int64_t active = std::min(people, kActivePeople);
  return people - active + uniform(active + kPersonIdLead);
}

int64_t NexmarkGenerator::next_base0_auction(int64_t id) {
  const int64_t max_auction = last_base0_auction(id);
  const int64_t min_auction = std::max<int64_t>(max_auction - kInFlightAuctions, 0);
  return min_auction + uniform(max_auction - min_auction + 1 + kAuctionIdLead);
}

int64_t NexmarkGenerator::next_price() {
  return static_cast<int64_t>(std::llround(std::pow(10.0, unit() * 6.0) * 100.0));
}

std::string NexmarkGenerator::next_string(int len) {
  std::string s;
  s.reserve(static_cast<size_t>(len));
  for (int i = 0; i < len; ++i) s.push_back(static_cast<char>('a' + uniform(26)));
  return s;
}

// Pads a record to about `wanted` bytes, as the reference's `extra` field.
std::string NexmarkGenerator::extra(int current, int wanted) {
  return next_string(std::max(0, wanted - current));
}

GenRecord NexmarkGenerator::next_event() {
  const int64_t id = next_id_++;
  const int64_t time = base_ms_ + static_cast<int64_t>(static_cast<double>(id) * ms_per_event_);
  const int64_t rem = id % kTotalProportion;
  GenRecord r;
  r.timestamp = time;
  char buf[1024];
  if (rem < kPersonProportion) {
    last_kind = 0;
    person.id = last_base0_person(id) + kFirstPersonId;
    person.state = kStates[uniform(6)];
    const std::string name =
        std::string(kFirstNames[uniform(11)]) + " " + kLastNames[uniform(9)];
    const std::string email = next_string(7) + "@" + next_string(5) + ".com";
    char card[24];
    std::snprintf(card, sizeof card, "%04lld %04lld %04lld %04lld",
                  static_cast<long long>(uniform(10000)), static_cast<long long>(uniform(10000)),
                  static_cast<long long>(uniform(10000)), static_cast<long long>(uniform(10000)));
    const char* city = kCities[uniform(10)];
    int n = std::snprintf(buf, sizeof buf,
                          R"({"id":%lld,"name":"%s","email_address":"%s","credit_card":"%s",)"
                          R"("city":"%s","state":"%s","date_time":%lld,"extra":")",
                          static_cast<long long>(person.id), name.c_str(), email.c_str(), card,
                          city, person.state.c_str(), static_cast<long long>(time));
    r.topic = 0;
    r.key = bigint_key(person.id);
    r.value = std::string(buf, static_cast<size_t>(n)) + extra(n, 200) + "\"}";
  } else if (rem < kPersonProportion + kAuctionProportion) {
    last_kind = 1;
    auction.id = last_base0_auction(id) + kFirstAuctionId;
    int64_t seller;
    if (uniform(kHotSellersRatio) > 0) {
      seller = (last_base0_person(id) / kHotSellersRatio) * kHotSellersRatio;
    } else {
      seller = next_base0_person(id);
    }
    auction.seller = seller + kFirstPersonId;
    auction.category = kFirstCategoryId + uniform(kNumCategories);
    const int64_t initial = next_price();
    const int64_t reserve = initial + next_price();
    const int64_t expires = time + 2000 + uniform(20000);
    const std::string item = next_string(20), description = next_string(100);
    int n = std::snprintf(
        buf, sizeof buf,
        R"({"id":%lld,"item_name":"%s","description":"%s","initial_bid":%lld,"reserve":%lld,)"
        R"("date_time":%lld,"expires":%lld,"seller":%lld,"category":%lld,"extra":")",
        static_cast<long long>(auction.id), item.c_str(), description.c_str(),
        static_cast<long long>(initial), static_cast<long long>(reserve),
        static_cast<long long>(time), static_cast<long long>(expires),
        static_cast<long long>(auction.seller), static_cast<long long>(auction.category));
    r.topic = 1;
    r.value = std::string(buf, static_cast<size_t>(n)) + extra(n, 500) + "\"}";
  } else {
    last_kind = 2;
    int64_t a;
    if (uniform(kHotAuctionRatio) > 0) {
      a = (last_base0_auction(id) / kHotAuctionRatio) * kHotAuctionRatio;
    } else {
      a = next_base0_auction(id);
    }
    bid.auction = a + kFirstAuctionId;
    int64_t bidder;
    if (uniform(kHotBiddersRatio) > 0) {
      bidder = (last_base0_person(id) / kHotBiddersRatio) * kHotBiddersRatio + 1;
    } else {
      bidder = next_base0_person(id);
    }
    bid.bidder = bidder + kFirstPersonId;
    bid.price = next_price();
    const char* channel = kChannels[uniform(4)];
    int n = std::snprintf(buf, sizeof buf,
                          R"({"auction":%lld,"bidder":%lld,"price":%lld,"channel":"%s",)"
                          R"("url":"https://www.nexmark.com/%s/item.htm?query=1","date_time":%lld,)"
                          R"("extra":")",
                          static_cast<long long>(bid.auction), static_cast<long long>(bid.bidder),
                          static_cast<long long>(bid.price), channel, next_string(5).c_str(),
                          static_cast<long long>(time));
    r.topic = 2;
    r.value = std::string(buf, static_cast<size_t>(n)) + extra(n, 150) + "\"}";
  }
  return r;
}

// ---------------------------------------------------------------- checks

namespace {

constexpr int64_t kYahooWindowMs = 10000;
constexpr int64_t kQ5SizeMs = 10000, kQ5AdvanceMs = 2000, kQ7SizeMs = 10000;
// The grace of Q5's and Q7's windows (Nexmark's watermark runs 4 s behind;
// tasks that read preloaded partitions at different speeds need more).
constexpr int64_t kGraceMs = 10000;
constexpr int64_t kComposite = 10000000000LL;

int64_t floor_to(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }

// The window start a windowed key (Kafka's TimeWindowed format: the key's
// bytes, then the 8-byte big-endian window start) carries.
int64_t window_of_key(const std::string& key) {
  if (key.size() < 8) return -1;
  uint64_t v = 0;
  for (size_t i = key.size() - 8; i < key.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(key[i]);
  return static_cast<int64_t>(v);
}

// A value's field, by ksqlDB's upper-case column name.
const nlohmann::json* field(const nlohmann::json& v, const char* name) {
  auto it = v.find(name);
  return it == v.end() ? nullptr : &*it;
}

}  // namespace

void Expectation::on_yahoo(int64_t time_ms, int ad, bool view, const YahooGenerator& g) {
  max_time_ = std::max(max_time_, time_ms);
  if (!view) return;
  ++yahoo_[{g.campaign_of(ad), floor_to(time_ms, kYahooWindowMs)}];
  expected_outputs_ = std::max<int64_t>(expected_outputs_, 0) + 1;
}

void Expectation::on_nexmark(int64_t time_ms, const NexmarkGenerator& g) {
  max_time_ = std::max(max_time_, time_ms);
  if (g.last_kind == 0) {
    person_state_[g.person.id] = g.person.state;
    return;
  }
  if (g.last_kind == 1) {
    if (workload_ != "q3" || g.auction.category != 10) return;
    auto it = person_state_.find(g.auction.seller);
    if (it == person_state_.end()) return;
    if (it->second == "OR" || it->second == "ID" || it->second == "CA")
      q3_auctions_.push_back(g.auction.id);
    return;
  }
  const auto& b = g.bid;
  if (workload_ == "q1" || (workload_ == "q2" && b.auction % 123 == 0))
    bids_.emplace_back(b.auction, b.price);
  if (workload_ == "q5") {
    for (int64_t start = floor_to(time_ms, kQ5AdvanceMs); start > time_ms - kQ5SizeMs;
         start -= kQ5AdvanceMs)
      ++q5_counts_[start][b.auction];
  }
  if (workload_ == "q7") {
    auto& m = q7_max_[floor_to(time_ms, kQ7SizeMs)];
    m = std::max(m, b.price * kComposite + b.auction);
  }
}

std::optional<std::string> Expectation::check_final(
    const std::vector<OutputRecord>& outputs) const {
  if (workload_ != "yahoo") return std::nullopt;
  auto parse = [](const OutputRecord& r) {
    return r.value ? nlohmann::json::parse(*r.value, nullptr, false) : nlohmann::json();
  };
  std::map<std::pair<std::string, int64_t>, int64_t> last;
  for (const auto& r : outputs) {
    if (!r.key || r.key->size() < 8) return "an output without a windowed key";
    const auto v = parse(r);
    const auto* views = field(v, "VIEWS");
    if (!views) return "an output without VIEWS: " + v.dump();
    const int64_t ws = window_of_key(*r.key);
    last[{r.key->substr(0, r.key->size() - 8), ws}] = views->get<int64_t>();
  }
  if (last != yahoo_) {
    return "final counts per campaign and window differ: " + std::to_string(last.size()) +
           " groups against " + std::to_string(yahoo_.size()) + " expected";
  }
  return "";
}

std::string Expectation::check(const std::vector<OutputRecord>& outputs) const {
  auto parse = [](const OutputRecord& r) {
    return r.value ? nlohmann::json::parse(*r.value, nullptr, false) : nlohmann::json();
  };
  auto mismatch = [](const std::string& what, int64_t want, int64_t got) {
    return what + ": expected " + std::to_string(want) + ", got " + std::to_string(got);
  };
  if (workload_ == "yahoo") {
    if (static_cast<int64_t>(outputs.size()) != expected_outputs_)
      return mismatch("outputs (one per view)", expected_outputs_,
                      static_cast<int64_t>(outputs.size()));
    return *check_final(outputs);
  }
  if (workload_ == "q1" || workload_ == "q2") {
    if (outputs.size() != bids_.size())
      return mismatch("outputs", static_cast<int64_t>(bids_.size()),
                      static_cast<int64_t>(outputs.size()));
    for (size_t i = 0; i < outputs.size(); ++i) {
      const auto v = parse(outputs[i]);
      const auto* auction = field(v, "AUCTION");
      const auto* price = field(v, "PRICE");
      if (!auction || !price) return "an output without AUCTION or PRICE: " + v.dump();
      if (auction->get<int64_t>() != bids_[i].first)
        return mismatch("AUCTION of output " + std::to_string(i), bids_[i].first, *auction);
      if (workload_ == "q1") {
        // price * 0.908, exact: DECIMAL with three places.
        const double want = static_cast<double>(bids_[i].second * 908) / 1000.0;
        if (!price->is_number() || std::fabs(price->get<double>() - want) > 1e-6)
          return "PRICE of output " + std::to_string(i) + ": expected " + std::to_string(want) +
                 ", got " + price->dump();
      } else if (price->get<int64_t>() != bids_[i].second) {
        return mismatch("PRICE of output " + std::to_string(i), bids_[i].second, *price);
      }
    }
    return "";
  }
  if (workload_ == "q3") {
    if (outputs.size() != q3_auctions_.size())
      return mismatch("outputs", static_cast<int64_t>(q3_auctions_.size()),
                      static_cast<int64_t>(outputs.size()));
    for (size_t i = 0; i < outputs.size(); ++i) {
      const auto v = parse(outputs[i]);
      const auto* id = field(v, "ID");
      const auto* state = field(v, "STATE");
      if (!id || !state) return "an output without ID or STATE: " + v.dump();
      if (id->get<int64_t>() != q3_auctions_[i])
        return mismatch("ID of output " + std::to_string(i), q3_auctions_[i], *id);
    }
    return "";
  }
  if (workload_ == "q5" || workload_ == "q7") {
    // The last update per window; windows that closed before the last
    // event (stream time >= window end) must all be there.
    std::map<int64_t, int64_t> got;
    for (const auto& r : outputs) {
      const auto v = parse(r);
      // The key is the window start (GROUP BY starttime).
      const auto* top = field(v, workload_ == "q5" ? "HOT" : "TOP");
      if (!top) return "an output without HOT/TOP: " + v.dump();
      if (!r.key || r.key->size() != 8) return "an output without a BIGINT key";
      got[window_of_key(*r.key)] = top->get<int64_t>();
    }
    std::map<int64_t, int64_t> want;
    if (workload_ == "q5") {
      for (const auto& [start, counts] : q5_counts_) {
        if (start + kQ5SizeMs + kGraceMs > max_time_ || start < 0) continue;
        int64_t best = 0;
        for (const auto& [a, n] : counts) best = std::max(best, n * kComposite + a);
        want[start] = best;
      }
    } else {
      for (const auto& [start, top] : q7_max_)
        if (start + kQ7SizeMs + kGraceMs <= max_time_) want[start] = top;
    }
    if (want.empty()) return "no window closed: generate more event time";
    if (got != want) {
      std::string d;
      for (const auto& [s, t] : want) {
        auto it = got.find(s);
        if (it == got.end() || it->second != t) {
          d = "window " + std::to_string(s) + ": expected " + std::to_string(t) + ", got " +
              (it == got.end() ? std::string("nothing") : std::to_string(it->second));
          break;
        }
      }
      if (d.empty()) d = "unexpected windows in the output";
      return std::to_string(got.size()) + " windows against " + std::to_string(want.size()) +
             " expected; " + d;
    }
    return "";
  }
  return "unknown workload " + workload_;
}

}  // namespace rivulet::bench
