// TopicName interning and the layout of Value and Record: what a record
// carries per column and for its source.
#include "runtime/record.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "runtime/decimal.hpp"
#include "runtime/value.hpp"

using namespace rivulet;

TEST_CASE("a topic name is interned once: equal names share one copy", "[runtime][record]") {
  const std::string name = "orders-with-a-name-longer-than-fifteen";
  TopicName a(name);
  TopicName b(std::string("orders-with-a-name-longer-than-fifteen"));
  TopicName c("other-topic");
  CHECK(&a.str() == &b.str());
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a == name);
  CHECK(name == a);
  CHECK(a == "orders-with-a-name-longer-than-fifteen");
  CHECK(c != "orders-with-a-name-longer-than-fifteen");
  CHECK(a.size() == name.size());
  const std::string& as_string = a;
  CHECK(as_string == name);

  TopicName none;
  CHECK(none.empty());
  CHECK(none == TopicName(""));
  CHECK(none == std::string());

  Record r;
  CHECK(r.source.topic.empty());  // made inside a task: no source topic
  r.source.topic = name;
  CHECK(&r.source.topic.str() == &a.str());
}

TEST_CASE("threads interning the same names get the same copies", "[runtime][record]") {
  std::vector<std::vector<const std::string*>> seen(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&seen, t] {
      for (int i = 0; i < 200; ++i)
        seen[t].push_back(&TopicName("concurrent-topic-" + std::to_string(i)).str());
    });
  }
  for (auto& th : threads) th.join();
  for (size_t t = 1; t < seen.size(); ++t) CHECK(seen[t] == seen[0]);
  for (int i = 0; i < 200; ++i)
    CHECK(*seen[0][static_cast<size_t>(i)] == "concurrent-topic-" + std::to_string(i));
}

TEST_CASE("a Value takes 40 bytes and a Decimal keeps every digit at 8-byte alignment",
          "[runtime][record]") {
  // The largest scalar (Decimal) sets Value's size: 24 bytes for its
  // 128-bit integer at 8-byte alignment, so a Value is 40 (48 at 16).
  CHECK(sizeof(Decimal) == 24);
  CHECK(sizeof(Value) == 40);
  CHECK(alignof(Value) == 8);
  // Decimals at every other 8-byte boundary of a row: the ones not 16-byte
  // aligned must read and compute the same.
  const auto max = *Decimal::parse("99999999999999999999999999999999999999");
  const auto min = *Decimal::parse("-99999999999999999999999999999999999999");
  std::vector<Value> row;
  for (int i = 0; i < 6; ++i) row.push_back(Value::decimal(i % 2 ? max : min));
  for (size_t i = 0; i < row.size(); ++i) {
    const Decimal& d = row[i].as_decimal();
    CHECK(d.to_string() == (i % 2 ? max : min).to_string());
    CHECK(d.precision() == 38);
    CHECK(Decimal::compare(d.negate(), i % 2 ? min : max) == 0);
  }
  auto sum = Decimal::add(row[0].as_decimal(), row[1].as_decimal());
  REQUIRE(sum);
  CHECK(sum->to_string() == "0");
}
