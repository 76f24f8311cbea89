// TableStorage::Auto (operators/ktable.hpp): a table decoded while small
// and encoded from `encode_at` entries on. These tests check that the
// switch changes nothing a reader can see: every answer is the one a
// Decoded table given the same updates gives, for keys of every kind
// (integers of three kinds and integral doubles that are equal as Values,
// strings, DECIMAL and struct keys, which have no byte identity and stay
// decoded beside the arena).
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "ktable_readers.hpp"
#include "operators/ktable.hpp"
#include "test_support.hpp"

namespace rivulet {
namespace {

using test::I;
using test::S;
Value user(int64_t i) {
  return test::user_row(i);
}

// Key number k as one of several kinds; kinds 0-2 of the same k are equal
// Values (BIGINT, INT, DOUBLE), 5 (DECIMAL) equals them too.
Value key_of(int64_t k, int kind) {
  switch (kind) {
    case 0:
      return I(k);
    case 1:
      return Value::int32(static_cast<int32_t>(k));
    case 2:
      return Value::float64(static_cast<double>(k));
    case 3:
      return S("key " + std::to_string(k));
    case 4:
      return test::row({{"a", I(k)}, {"b", S("x")}});
    default:
      return test::D((std::to_string(k) + ".0").c_str());
  }
}

// The answers of `t` for `key` against those of the decoded model `m`.
void check_same(const KTable& t, const KTable& m, const Value& key) {
  INFO("key " << key.to_string());
  auto a = t.get(key);
  auto b = m.get(key);
  REQUIRE(a.has_value() == b.has_value());
  if (a) REQUIRE(*a == *b);
  REQUIRE(t.contains(key) == m.contains(key));
  const Value* fa = t.find_local(key);
  const Value* fb = m.find_local(key);
  REQUIRE((fa != nullptr) == (fb != nullptr));
  if (fa) REQUIRE(*fa == *fb);
}

TEST_CASE("ktable auto: decoded while small, encoded from encode_at entries on", "[ktable][auto]") {
  KTable t("users", TableStorage::Auto, 100);
  KTable d("users", TableStorage::Decoded);
  CHECK(t.storage() == TableStorage::Auto);
  for (int i = 0; i < 99; ++i) {
    t.apply(I(i), user(i));
    d.apply(I(i), user(i));
  }
  CHECK_FALSE(t.encoded());
  CHECK(t.bytes_estimate() == d.bytes_estimate());
  t.apply(I(99), user(99));
  d.apply(I(99), user(99));
  CHECK(t.encoded());
  CHECK(t.size() == 100);
  // About a quarter of the decoded table's bytes (an arena of msgpack rows).
  CHECK(t.bytes_estimate() * 2 < d.bytes_estimate());
  for (int i = 0; i < 100; ++i) check_same(t, d, I(i));
  // Equal keys of other kinds still match, as in a decoded table.
  REQUIRE(t.get(Value::int32(7)));
  CHECK(*t.get(Value::int32(7)) == user(7));
  CHECK(*t.get(Value::float64(7.0)) == user(7));
  CHECK(*t.get(test::D("7.00")) == user(7));
  CHECK_FALSE(t.get(Value::float64(7.5)));
  // Updates and deletes after the switch, through another kind of key.
  t.apply(Value::int32(5), user(-5));
  t.apply(Value::float64(6.0), Value());
  CHECK(*t.get(I(5)) == user(-5));
  CHECK_FALSE(t.contains(I(6)));
  CHECK(t.size() == 99);
  auto keys = t.keys();
  CHECK(keys.size() == 99);
  // The stored key keeps the kind it was first written with.
  for (const Value& k : keys) CHECK(k.kind() == TypeKind::BigInt);
  // clear() empties it: decoded again until the next switch.
  t.clear();
  CHECK(t.empty());
  CHECK_FALSE(t.encoded());
  t.apply(I(1), user(1));
  CHECK(*t.get(I(1)) == user(1));
}

TEST_CASE("ktable auto: a model under random updates, reads, snapshots and restores",
          "[ktable][auto]") {
  std::mt19937 rng(GENERATE(1, 2, 3));
  const size_t encode_at = GENERATE(1, 40, 150);
  KTable t("t", TableStorage::Auto, encode_at);
  KTable m("t", TableStorage::Decoded);             // the model
  KTable copy("t", TableStorage::Auto, encode_at);  // follows t's change sets
  t.set_change_tracking(true);
  REQUIRE(copy.restore(t.serialize()));
  bool switched = false;
  for (int round = 0; round < 12; ++round) {
    {
      auto tw = t.writer();
      auto mw = m.writer();
      for (int i = 0; i < 150; ++i) {
        const Value key = key_of(rng() % 200, static_cast<int>(rng() % 6));
        switch (rng() % 4) {
          case 0: {
            const Value* a = t.find_local(key);  // inside a Writer
            const Value* b = m.find_local(key);
            REQUIRE((a != nullptr) == (b != nullptr));
            if (a) REQUIRE(*a == *b);
            break;
          }
          case 1:
            tw.erase(key);
            mw.erase(key);
            break;
          default: {
            const Value v = user(static_cast<int64_t>(rng() % 1000));
            tw.put(key, v);
            mw.put(key, v);
          }
        }
      }
    }
    switched = switched || t.encoded();
    REQUIRE(t.size() == m.size());
    REQUIRE(t.snapshot() == m.snapshot());
    for (int64_t k = 0; k < 200; k += 7)
      for (int kind = 0; kind < 6; ++kind) check_same(t, m, key_of(k, kind));
    // Change sets carry the switch's table to a follower.
    REQUIRE(copy.apply_changes(t.serialize_changes()));
    REQUIRE(copy.snapshot() == m.snapshot());
    // A full snapshot restores into every storage alike.
    const std::string bytes = t.serialize();
    KTable decoded("t", TableStorage::Decoded);
    REQUIRE(decoded.restore(bytes));
    REQUIRE(decoded.snapshot() == m.snapshot());
    if (round % 3 == 2) {
      REQUIRE(t.restore(bytes));  // decides its storage again
      CHECK(t.encoded() == (t.size() >= encode_at));
      REQUIRE(t.snapshot() == m.snapshot());
    }
    if (round == 8) {
      t.clear();
      m.clear();
    }
  }
  CHECK(switched);
}

TEST_CASE("ktable auto: a restore of at least encode_at entries is encoded at once",
          "[ktable][auto]") {
  KTable src("t");
  for (int i = 0; i < 500; ++i) src.apply(S("k" + std::to_string(i)), user(i));
  src.apply(test::row({{"a", I(1)}}), S("struct key"));  // stays decoded
  const std::string bytes = src.serialize();
  KTable big("t", TableStorage::Auto, 400);
  REQUIRE(big.restore(bytes));
  CHECK(big.encoded());
  CHECK(big.undecoded() == 0);
  CHECK(big.snapshot() == src.snapshot());
  CHECK(*big.get(test::row({{"a", I(1)}})) == S("struct key"));
  KTable small("t", TableStorage::Auto, 1000);
  REQUIRE(small.restore(bytes));
  CHECK_FALSE(small.encoded());
  CHECK(small.undecoded() == 500);  // lazily decoded, as a Decoded table is
  CHECK(small.snapshot() == src.snapshot());
  for (int i = 500; i < 1000; ++i) small.apply(S("k" + std::to_string(i)), user(i));
  CHECK(small.encoded());
  for (int i = 0; i < 1000; i += 37) CHECK(*small.get(S("k" + std::to_string(i))) == user(i));
}

TEST_CASE("ktable auto: encoded once its decoded rows pass a byte bound", "[ktable][auto]") {
  // The model (Decoded, same updates) measures the bytes. Returns the rows
  // the table held when it switched.
  const size_t bound = 300000;
  auto rows_at_switch = [&](size_t pad) {
    INFO("pad " << pad);
    KTable t("t", TableStorage::Auto);
    t.set_auto_switch(1000000, bound);
    KTable m("t", TableStorage::Decoded);
    auto row = [&](int64_t i) {
      return test::row(
          {{"id", I(i)}, {"name", S("user " + std::to_string(i) + std::string(pad, 'x'))}});
    };
    int64_t i = 0;
    size_t before = 0;
    for (; !t.encoded(); ++i) {
      REQUIRE(i < 100000);
      before = m.bytes_estimate();
      t.apply(I(i), row(i));
      m.apply(I(i), row(i));
    }
    // Switched at the row that took the decoded rows past the bound: the
    // estimate is within 10% of the bytes the model holds.
    CHECK(before < bound * 11 / 10);
    CHECK(m.bytes_estimate() > bound * 9 / 10);
    CHECK(t.bytes_estimate() < m.bytes_estimate() / 2);
    CHECK(t.snapshot() == m.snapshot());
    for (int64_t k = 0; k < i; k += 13) CHECK(*t.get(I(k)) == row(k));
    return i;
  };
  // Rows of two sizes (about 330 and 550 bytes decoded): the bound, not a
  // row count, decides where the switch is.
  const int64_t small = rows_at_switch(0);
  const int64_t large = rows_at_switch(200);
  CHECK(small > large * 3 / 2);
}

TEST_CASE("ktable auto: a byte bound of 0 encodes from the first row, restores follow the bound",
          "[ktable][auto]") {
  KTable zero("t", TableStorage::Auto);
  zero.set_auto_switch(10000, 0);
  zero.apply(I(1), user(1));
  CHECK(zero.encoded());
  CHECK(*zero.get(Value::float64(1.0)) == user(1));  // keys still match as Values

  KTable src("t");
  for (int i = 0; i < 500; ++i) src.apply(S("k" + std::to_string(i)), user(i));
  const std::string bytes = src.serialize();
  const size_t decoded = src.bytes_estimate();
  KTable under("t", TableStorage::Auto);
  under.set_auto_switch(10000, decoded / 2);
  REQUIRE(under.restore(bytes));
  CHECK(under.encoded());  // estimated from a sample of the undecoded rows
  CHECK(under.snapshot() == src.snapshot());
  KTable over("t", TableStorage::Auto);
  over.set_auto_switch(10000, decoded * 2);
  REQUIRE(over.restore(bytes));
  CHECK_FALSE(over.encoded());
  CHECK(over.undecoded() == 500);
  // clear() decides again from nothing, the bound still holds.
  under.clear();
  CHECK_FALSE(under.encoded());
  for (int i = 0; i < 500; ++i) under.apply(S("k" + std::to_string(i)), user(i));
  CHECK(under.encoded());
  CHECK(under.snapshot() == src.snapshot());
}

TEST_CASE("ktable: bytes_estimate of a large decoded table from a sample of its rows", "[ktable]") {
  KTable t("t", TableStorage::Decoded);
  for (int i = 0; i < 5000; ++i) t.apply(I(i), user(i));
  const double exact = static_cast<double>(t.bytes_estimate());
  const double sampled = static_cast<double>(t.bytes_estimate(256));
  CHECK(sampled > 0.95 * exact);
  CHECK(sampled < 1.05 * exact);
  CHECK(t.bytes_estimate(5000) == t.bytes_estimate());  // all of it walked
}

// Readers on other threads while the owner writes across the switch (run
// under RIVULET_SANITIZE=thread too): every read sees a whole value.
TEST_CASE("ktable auto: readers on other threads during the switch", "[ktable][auto]") {
  const int kKeys = 20000;
  KTable t("t", TableStorage::Auto, kKeys / 2);
  const auto counts = test::read_while_writing(
      t, kKeys,
      // Absent (not written yet), or its one value.
      [](int i, const std::optional<Value>& v) { return !v || *v == user(i); },
      [&] {
        for (int i = 0; i < kKeys; ++i) t.apply(I(i), user(i));
      });
  CHECK(counts.wrong == 0);
  CHECK(counts.reads > 0);
  CHECK(t.encoded());
  CHECK(t.size() == size_t(kKeys));
}

}  // namespace
}  // namespace rivulet
