// The lazy restore of a Decoded KTable (operators/ktable.hpp): restored
// entries stay undecoded bytes until the owning task reads or overwrites
// them; these tests check that it behaves exactly as an eagerly decoded
// table would, and that snapshots cover both parts.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
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

// A table of n string keys, n BIGINT keys, a few INT, DOUBLE, struct and
// DECIMAL keys (the last two are decoded at restore), serialized.
std::string mixed_snapshot(int n, KTable::Map* model) {
  KTable t("t");
  auto put = [&](const Value& k, const Value& v) {
    t.apply(k, v);
    (*model)[k] = v;
  };
  for (int i = 0; i < n; ++i) {
    put(S("k" + std::to_string(i)), user(i));
    put(I(1000000 + i), user(i));
  }
  put(Value::int32(7), S("int seven"));
  put(Value::float64(2.5), S("two and a half"));
  put(Value::float64(-0.0), S("zero"));
  put(Value::timestamp(123456), S("a timestamp"));
  put(Value::boolean(true), S("true"));
  put(test::row({{"a", I(1)}, {"b", S("x")}}), S("struct key"));
  put(test::D("3.25"), S("decimal key"));
  return t.serialize();
}

TEST_CASE("ktable lazy restore: reads and writes as the decoded table would", "[ktable][lazy]") {
  KTable::Map model;
  const std::string bytes = mixed_snapshot(500, &model);
  KTable t("t", TableStorage::Decoded);
  REQUIRE(t.restore(bytes));
  CHECK(t.size() == model.size());
  CHECK(t.undecoded() == model.size() - 2);  // the struct and the decimal key are decoded
  CHECK(t.snapshot() == model);
  {
    // A snapshot of a table nobody read has the same content; with no key
    // decoded at restore, it is the restored bytes, unchanged.
    KTable r("r");
    REQUIRE(r.restore(t.serialize()));
    CHECK(r.snapshot() == model);
    KTable src("src");
    for (int i = 0; i < 300; ++i) src.apply(S("k" + std::to_string(i)), user(i));
    const std::string plain = src.serialize();
    REQUIRE(r.restore(plain));
    CHECK(r.undecoded() == 300);
    CHECK(r.serialize() == plain);
  }

  // Other threads' reads decode copies and promote nothing.
  CHECK(*t.get(S("k3")) == user(3));
  CHECK(t.contains(I(1000004)));
  CHECK_FALSE(t.get(S("absent")));
  CHECK(t.undecoded() == model.size() - 2);

  // The owner's first read promotes; pointers stay valid across later
  // promotions (the map's nodes do not move).
  const Value* p3 = t.find_local(S("k3"));
  REQUIRE(p3 != nullptr);
  CHECK(*p3 == user(3));
  CHECK(t.undecoded() == model.size() - 3);
  for (int i = 0; i < 100; ++i) REQUIRE(t.find_local(I(1000000 + i)) != nullptr);
  CHECK(*p3 == user(3));
  CHECK(t.find_local(S("absent")) == nullptr);
  CHECK(t.size() == model.size());

  // Keys match as Values do, whatever kind the probe has.
  REQUIRE(t.find_local(Value::int32(1000200)) != nullptr);  // stored as BIGINT
  CHECK(*t.find_local(Value::float64(1000201.0)) == user(201));
  CHECK(*t.get(Value::int32(1000202)) == user(202));
  CHECK(*t.get(I(7)) == S("int seven"));  // stored as INT
  CHECK(*t.get(Value::float64(0.0)) == S("zero"));
  CHECK(*t.get(test::D("2.5")) == S("two and a half"));
  CHECK(*t.get(Value::timestamp(123456)) == S("a timestamp"));
  CHECK(*t.get(Value::boolean(true)) == S("true"));
  CHECK(*t.get(test::D("3.25")) == S("decimal key"));
  CHECK(*t.get(test::row({{"a", I(1)}, {"b", S("x")}})) == S("struct key"));

  // Overwrites and deletes of undecoded keys, through any kind of equal key.
  {
    auto w = t.writer();
    w.put(I(7), S("seven, again"));  // the INT key 7, overwritten by a BIGINT 7
    w.put(S("k10"), user(-10));
    w.erase(S("k11"));
    w.erase(Value::float64(1000300.0));
    w.put(S("new"), user(-1));
  }
  model[I(7)] = S("seven, again");
  model[S("k10")] = user(-10);
  model.erase(S("k11"));
  model.erase(I(1000300));
  model[S("new")] = user(-1);
  CHECK(t.size() == model.size());
  CHECK(t.snapshot() == model);
  // The overwritten key kept the kind it was written with (as an update of a
  // decoded map keeps its key).
  bool int_key = false;
  for (const Value& k : t.keys()) int_key |= k.kind() == TypeKind::Int;
  CHECK(int_key);

  // A snapshot of the half-promoted table restores, into either storage, the
  // same content; and again lazily.
  const std::string again = t.serialize();
  for (TableStorage to : {TableStorage::Decoded, TableStorage::Encoded}) {
    KTable r("r", to);
    REQUIRE(r.restore(again));
    CHECK(r.snapshot() == model);
  }

  // Promoting everything frees the arena.
  for (const auto& [k, v] : model) REQUIRE(*t.find_local(k) == v);
  CHECK(t.undecoded() == 0);
  CHECK(t.serialize().size() == again.size());
  KTable r("r");
  REQUIRE(r.restore(t.serialize()));
  CHECK(r.snapshot() == model);
}

TEST_CASE("ktable lazy restore: incremental snapshots cover undecoded keys", "[ktable][lazy]") {
  KTable::Map model;
  const std::string base = mixed_snapshot(300, &model);
  KTable t("t");
  REQUIRE(t.restore(base));
  t.set_change_tracking(true);
  // Reads promote but change nothing.
  for (int i = 0; i < 50; ++i) REQUIRE(t.find_local(S("k" + std::to_string(i))) != nullptr);
  CHECK(t.serialize_changes().size() < 16);
  {
    auto w = t.writer();
    w.put(S("k1"), user(-1));          // promoted already
    w.put(S("k200"), user(-200));      // undecoded
    w.erase(S("k201"));                // undecoded
    w.erase(S("k2"));                  // promoted
    w.erase(S("never there"));         // absent
    w.put(I(5), S("new BIGINT key"));  // new
  }
  const std::string delta = t.serialize_changes();
  KTable r("r");
  REQUIRE(r.restore(base));
  REQUIRE(r.apply_changes(delta));
  CHECK(r.snapshot() == t.snapshot());
  CHECK(r.size() == model.size() - 1);
  // clear() records every key, promoted or not, as a change.
  t.clear();
  CHECK(t.empty());
  REQUIRE(r.apply_changes(t.serialize_changes()));
  CHECK(r.empty());
}

TEST_CASE("ktable lazy restore: a model under random reads, writes and snapshots",
          "[ktable][lazy]") {
  std::mt19937 rng(11);
  std::map<int64_t, std::string> model;
  KTable t("t");
  for (int64_t k = 0; k < 2000; ++k) {
    model[k] = std::string(k % 40, 'a');
    t.apply(I(k), S(model[k]));
  }
  for (int round = 0; round < 8; ++round) {
    REQUIRE(t.restore(t.serialize()));  // lazily restored, every round
    auto w = t.writer();
    for (int i = 0; i < 1500; ++i) {
      int64_t k = rng() % 2500;
      switch (rng() % 3) {
        case 0: {
          const Value* v = t.find_local(I(k));  // inside a Writer: no second lock
          auto it = model.find(k);
          REQUIRE((v != nullptr) == (it != model.end()));
          if (v) REQUIRE(*v == S(it->second));
          break;
        }
        case 1:
          w.erase(I(k));
          model.erase(k);
          break;
        default:
          model[k] = std::string(rng() % 50, char('a' + round));
          w.put(I(k), S(model[k]));
      }
    }
  }
  REQUIRE(t.size() == model.size());
  for (int64_t k = 0; k < 2500; ++k) {
    auto it = model.find(k);
    auto v = t.get(I(k));
    REQUIRE(v.has_value() == (it != model.end()));
    if (v) REQUIRE(*v == S(it->second));
  }
}

// Readers on other threads while the owner promotes (run under
// RIVULET_SANITIZE=thread too): every read sees the one value of its key.
TEST_CASE("ktable lazy restore: readers on other threads during promotion", "[ktable][lazy]") {
  const int kKeys = 20000;
  KTable src("t");
  for (int i = 0; i < kKeys; ++i) src.apply(I(i), user(i));
  KTable t("t");
  REQUIRE(t.restore(src.serialize()));
  const auto counts = test::read_while_writing(
      t, kKeys,
      [&](int i, const std::optional<Value>& v) {
        // Promoted or not, overwritten or not: the key's value is one of the two.
        return v && (*v == user(i) || *v == user(-i)) && t.size() == size_t(kKeys);
      },
      [&] {
        for (int i = 0; i < kKeys; ++i) {
          if (i % 2 == 0) {
            REQUIRE(t.find_local(I(i)) != nullptr);
          } else {
            t.apply(I(i), user(-i));
          }
        }
      });
  CHECK(counts.wrong == 0);
  CHECK(counts.reads > 0);
  CHECK(t.undecoded() == 0);
}

TEST_CASE("ktable find_local_many: the answers of find_local, key by key", "[ktable][lazy]") {
  // Keys that are present, absent, null (nullptr), of another numeric kind
  // than stored (INT 7 finds BIGINT-hashed 7.0 as find_local does), more
  // than one chunk of them, in a decoded table, a lazily restored one (whose
  // lookups promote), an encoded one (keys match by their bytes) and an
  // Auto one past its switch (encoded, keys match as Values).
  KTable::Map model;
  const std::string bytes = mixed_snapshot(200, &model);
  std::vector<Value> probes;
  for (int i = 0; i < 250; i += 3) probes.push_back(S("k" + std::to_string(i)));
  for (int i = 0; i < 250; i += 7) probes.push_back(I(1000000 + i));
  probes.push_back(Value::int64(7));
  probes.push_back(Value::float64(7.0));
  probes.push_back(Value::int32(3));
  probes.push_back(test::row({{"a", I(1)}, {"b", S("x")}}));
  std::vector<const Value*> keys;
  for (const auto& p : probes) keys.push_back(&p);
  keys.insert(keys.begin() + 5, nullptr);
  keys.push_back(nullptr);

  // `entries`: the decoded map's own entries, not only equal values;
  // `as_values`: keys match as Values do (the model's answers).
  auto check = [&](KTable& t, bool entries, bool as_values) {
    std::vector<const Value*> many(keys.size(), nullptr);
    REQUIRE(t.find_local_many(keys.data(), keys.size(), many.data()));
    size_t found = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == nullptr) {
        CHECK(many[i] == nullptr);
        continue;
      }
      const Value* one = t.find_local(*keys[i]);
      REQUIRE((many[i] != nullptr) == (one != nullptr));
      if (one) CHECK(*many[i] == *one);
      if (entries) CHECK(many[i] == one);
      if (!as_values) {
        found += one != nullptr;
        continue;
      }
      auto m = model.find(*keys[i]);
      if (m == model.end()) {
        CHECK(one == nullptr);
      } else {
        REQUIRE(one != nullptr);
        CHECK(*one == m->second);
        ++found;
      }
    }
    CHECK(found > 60);
  };
  KTable decoded("d");
  for (const auto& [k, v] : model) decoded.apply(k, v);
  check(decoded, true, true);
  KTable lazy("l");
  REQUIRE(lazy.restore(bytes));
  REQUIRE(lazy.undecoded() > 0);
  check(lazy, true, true);
  KTable encoded("e", TableStorage::Encoded);
  for (const auto& [k, v] : model) encoded.apply(k, v);
  check(encoded, false, false);
  KTable automatic("a", TableStorage::Auto, 50);
  for (const auto& [k, v] : model) automatic.apply(k, v);
  REQUIRE(automatic.encoded());
  check(automatic, false, true);
}

// StateStore::serialize_deferred: the bytes serialize() gives at the call,
// produced later (on the checkpoint writer's thread) while the owner goes
// on changing the table; and the change set starts at the call.
TEST_CASE("ktable deferred serialization: the call's content, packed later on another thread",
          "[ktable][lazy][checkpoint]") {
  KTable::Map model;
  const std::string bytes = mixed_snapshot(300, &model);
  auto decoded = std::make_unique<KTable>("decoded");
  for (const auto& [k, v] : model) decoded->apply(k, v);
  auto lazy = std::make_unique<KTable>("lazy");  // restored: part arena, part decoded
  REQUIRE(lazy->restore(bytes));
  for (int i = 0; i < 50; ++i) lazy->apply(S("k" + std::to_string(i)), user(i + 7));
  auto encoded = std::make_unique<KTable>("encoded", TableStorage::Encoded);
  for (const auto& [k, v] : model) encoded->apply(k, v);  // struct and decimal keys decoded
  auto automatic = std::make_unique<KTable>("auto", TableStorage::Auto, 100);
  for (const auto& [k, v] : model) automatic->apply(k, v);
  REQUIRE(automatic->encoded());
  std::vector<std::unique_ptr<KTable>> tables;
  tables.push_back(std::move(decoded));
  tables.push_back(std::move(lazy));
  tables.push_back(std::move(encoded));
  tables.push_back(std::move(automatic));
  for (auto& table : tables) {
    KTable& t = *table;
    INFO("table " << t.name());
    t.set_change_tracking(true);
    t.apply(S("before"), user(1));
    const std::string expected = t.serialize();
    const KTable::Map at_call = t.snapshot();
    std::function<std::string()> later = t.serialize_deferred();
    // The owner overwrites, erases and adds while another thread packs.
    std::string produced;
    std::thread writer([&] { produced = later(); });
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 200; ++i) {
        t.apply(S("k" + std::to_string(i)), user(1000 * round + i));
        t.apply(I(1000000 + i), user(i + round));
        if (i % 7 == 0) t.apply(S("k" + std::to_string(i + 1)), Value());  // a deletion
        t.apply(S("new" + std::to_string(i)), user(i));
      }
    }
    t.apply(test::row({{"a", I(1)}, {"b", S("x")}}), Value());
    writer.join();
    CHECK(produced == expected);
    KTable r("r");
    REQUIRE(r.restore(produced));
    CHECK(r.snapshot() == at_call);
    // The delta after the call holds exactly what changed since it.
    REQUIRE(r.apply_changes(t.serialize_changes()));
    CHECK(r.snapshot() == t.snapshot());
    // A change just before the call is in its content, not in the next
    // change set.
    t.apply(S("between"), user(5));
    std::function<std::string()> again = t.serialize_deferred();
    auto none = decode_entries(t.serialize_changes());
    REQUIRE(none.ok());
    CHECK(none->empty());
    KTable r2("r2");
    REQUIRE(r2.restore(again()));
    CHECK(r2.snapshot() == t.snapshot());
  }
}

}  // namespace
}  // namespace rivulet
