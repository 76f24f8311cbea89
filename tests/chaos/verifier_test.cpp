#include <catch2/catch.hpp>

#include "chaos/verifier.hpp"

using namespace rivulet;
using namespace rivulet::chaos;

namespace {

const TopicPartition kIn{"orders", PartitionId{0}};
const TopicPartition kOut{"enriched", PartitionId{0}};

std::vector<InputRecord> inputs(int n) {
  std::vector<InputRecord> v;
  for (int i = 0; i < n; ++i) v.push_back({std::to_string(i), kIn, i});
  return v;
}

OutputRecordInfo out(const std::string& id, int64_t offset, const char* epoch = "1",
                     std::optional<std::string> input = std::nullopt) {
  return {id, kOut, offset, input ? input : std::optional<std::string>("orders:0:" + id),
          std::string("app-0"), std::string(epoch)};
}

}  // namespace

TEST_CASE("a clean run is ok", "[chaos]") {
  std::vector<OutputRecordInfo> outs;
  for (int i = 0; i < 5; ++i) outs.push_back(out(std::to_string(i), i));
  auto r = verify(inputs(5), outs);
  CHECK(r.ok(false));
  CHECK(r.ok(true));
  CHECK(r.distinct_output_ids == 5);
  CHECK(r.missing_ids.empty());
}

TEST_CASE("a planted loss is reported by id", "[chaos]") {
  std::vector<OutputRecordInfo> outs = {out("0", 0), out("2", 1), out("4", 2)};
  auto r = verify(inputs(5), outs);
  CHECK_FALSE(r.ok(false));
  CHECK(r.missing_ids == std::vector<std::string>{"1", "3"});
}

TEST_CASE("a replay by a later epoch is an explained duplicate", "[chaos]") {
  std::vector<OutputRecordInfo> outs = {out("0", 0, "1"), out("1", 1, "1"), out("1", 2, "2")};
  auto r = verify(inputs(2), outs);
  REQUIRE(r.duplicates.size() == 1);
  CHECK(r.duplicates[0].explained);
  CHECK_THAT(r.duplicates[0].explanation, Catch::Contains("orders:0:1"));
  CHECK(r.ok(false));
  CHECK_FALSE(r.ok(true));  // --exactly-once: no duplicate at all
}

TEST_CASE("duplicates without provenance, from one epoch, or from other inputs are unexplained",
          "[chaos]") {
  OutputRecordInfo bare{"0", kOut, 1, std::nullopt, std::nullopt, std::nullopt};
  auto no_headers = verify(inputs(1), {out("0", 0), bare});
  CHECK(no_headers.unexplained_duplicates == 1);
  CHECK_THAT(no_headers.duplicates[0].explanation, Catch::Contains("no provenance"));
  CHECK_FALSE(no_headers.ok(false));

  auto same_epoch = verify(inputs(1), {out("0", 0, "7"), out("0", 1, "7")});
  CHECK(same_epoch.unexplained_duplicates == 1);
  CHECK_THAT(same_epoch.duplicates[0].explanation, Catch::Contains("same epoch"));

  auto other_input =
      verify(inputs(1), {out("0", 0, "1"), out("0", 1, "2", std::string("orders:0:99"))});
  CHECK(other_input.unexplained_duplicates == 1);
  CHECK_THAT(other_input.duplicates[0].explanation, Catch::Contains("different input records"));
}

TEST_CASE("ids in the output that were never input are unexpected", "[chaos]") {
  auto r = verify(inputs(1), {out("0", 0), out("x", 1)});
  CHECK(r.unexpected_ids == std::vector<std::string>{"x"});
  CHECK_FALSE(r.ok(false));
}

TEST_CASE("a table's final values are checked against the expectation", "[chaos]") {
  std::vector<TableRecord> recs = {{"a", std::string(R"({"n":1})")},
                                   {"b", std::string(R"({"n":1})")},
                                   {"a", std::string(R"({"n": 2})")},
                                   {"c", std::string(R"({"n":5})")},
                                   {"c", std::nullopt}};  // deleted
  auto ok = check_table(recs, {{"a", R"({"n":2})"}, {"b", R"({ "n" : 1 })"}});
  CHECK(ok.ok());
  auto bad = check_table(recs, {{"a", R"({"n":3})"}, {"c", R"({"n":5})"}});
  CHECK_FALSE(bad.ok());
  CHECK(bad.mismatched.size() == 1);
  CHECK(bad.missing == std::vector<std::string>{"c"});
  CHECK(bad.extra == std::vector<std::string>{"b"});
  VerifyReport r;
  r.table = bad;
  CHECK_FALSE(r.ok(false));
}
