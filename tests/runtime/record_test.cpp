// TopicName interning, the layout of Value and Record (what a record
// carries per column and for its source), and raw bytes borrowed from a
// batch's arena.
#include "runtime/record.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
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

TEST_CASE("raw bytes are null, owned or borrowed, and read the same", "[runtime][record]") {
  RawBytes null;
  CHECK_FALSE(null.has_value());
  CHECK_FALSE(null);
  CHECK(null == std::nullopt);
  CHECK(null.copy() == std::nullopt);
  CHECK(RawBytes(std::optional<std::string>()) == std::nullopt);

  // Owned: a copy holds its own bytes, past the original's life.
  RawBytes copied;
  {
    RawBytes owned(std::string(100, 'x'));
    CHECK(owned);
    CHECK(owned->size() == 100);
    copied = owned;
  }
  CHECK(*copied == std::string(100, 'x'));

  // A short owned string (kept inside std::string itself) still reads right
  // after the RawBytes holding it moved.
  RawBytes small("abc");
  std::vector<RawBytes> moved;
  moved.push_back(std::move(small));
  moved.reserve(64);  // moves it again
  CHECK(*moved[0] == "abc");

  // Borrowed: views the bytes where they are; copy() owns them.
  std::string backing = "borrowed-bytes";
  RawBytes b = RawBytes::borrow(backing);
  CHECK(b);
  CHECK(b->data() == backing.data());
  std::optional<std::string> own = b.copy();
  backing.assign(backing.size(), '-');
  REQUIRE(own);
  CHECK(*own == "borrowed-bytes");
  CHECK(*b == backing);  // still a view

  // release(): owned bytes move out, borrowed ones are copied.
  CHECK(*RawBytes(std::string(40, 'o')).release() == std::string(40, 'o'));
  CHECK(*RawBytes::borrow(backing).release() == backing);
  CHECK(RawBytes().release() == std::nullopt);

  // An empty value is not a null one.
  RawBytes empty = RawBytes::borrow(std::string_view());
  CHECK(empty);
  CHECK(empty != RawBytes());
  CHECK(empty == RawBytes(std::string()));
  CHECK(RawBytes("k") == RawBytes::borrow("k"));
  CHECK(RawBytes("k") != RawBytes("j"));
}

TEST_CASE("a byte arena keeps every copy in place and allocates once per reservation",
          "[runtime][record]") {
  ByteArena arena;
  arena.reserve(1000);
  CHECK(arena.allocated() == 1000);
  std::vector<std::string_view> views;
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back(std::string(100, static_cast<char>('a' + i)));
    views.push_back(arena.copy(expected.back().data(), expected.back().size()));
  }
  CHECK(arena.allocated() == 1000);  // ten copies, one chunk

  // Past the reservation: new chunks, and the earlier views do not move.
  const char* first = views[0].data();
  for (int i = 0; i < 100; ++i) {
    expected.push_back(std::to_string(i) + std::string(static_cast<size_t>(i) * 97, 'z'));
    views.push_back(arena.copy(expected.back().data(), expected.back().size()));
  }
  CHECK(arena.allocated() > 1000);
  CHECK(views[0].data() == first);
  REQUIRE(views.size() == expected.size());
  for (size_t i = 0; i < views.size(); ++i) CHECK(views[i] == expected[i]);

  // A copy larger than the default chunk gets a chunk of its own size.
  const std::string big(100000, 'b');
  CHECK(arena.copy(big.data(), big.size()) == big);
  CHECK(arena.copy("", 0).empty());
}

TEST_CASE("a copied raw record owns its bytes, a moved one keeps borrowing", "[runtime][record]") {
  auto arena = std::make_shared<ByteArena>();
  const std::string key = "user-17";
  const std::string value(300, 'v');
  RawRecord r;
  r.key = RawBytes::borrow(arena->copy(key.data(), key.size()));
  r.value = RawBytes::borrow(arena->copy(value.data(), value.size()));
  RawRecord copied = r;
  RawRecord moved = std::move(r);
  CHECK(moved.value->data() != copied.value->data());
  CHECK(*moved.value == value);
  arena.reset();  // the batch is gone
  CHECK(*copied.key == key);
  CHECK(*copied.value == value);
}
