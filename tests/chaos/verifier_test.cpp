// The verifier's analysis, without a broker: losses, unexpected ids,
// duplicates and their explanations, the table check, the verdict rules and
// the JSON report.
#include "chaos/verifier.hpp"

#include <catch2/catch.hpp>

using rivulet::Epoch;
using rivulet::PartitionId;
using rivulet::TopicPartition;
using namespace rivulet::chaos;

namespace {

const TopicPartition kIn{"orders", PartitionId{0}};
const TopicPartition kOut{"enriched", PartitionId{0}};
const TopicPartition kOut1{"enriched", PartitionId{1}};

// Input ids "0" .. "n-1" at offsets 0 .. n-1 of orders[0].
std::vector<InputRecord> inputs(int n) {
  std::vector<InputRecord> v;
  for (int i = 0; i < n; ++i) v.push_back({std::to_string(i), kIn, i});
  return v;
}

// An output with full provenance: made from orders:0:<id> by task app-0.
OutputRecordInfo out(const std::string& id, int64_t offset, int64_t epoch = 1,
                     const TopicPartition& tp = kOut) {
  return {id, tp, offset, "orders:0:" + id, std::string("app-0"), Epoch{epoch}};
}

std::vector<OutputRecordInfo> clean_outputs(int n) {
  std::vector<OutputRecordInfo> v;
  for (int i = 0; i < n; ++i) v.push_back(out(std::to_string(i), i));
  return v;
}

}  // namespace

TEST_CASE("a clean run is ok, also with --exactly-once", "[chaos]") {
  auto r = verify(inputs(50), clean_outputs(50));
  CHECK(r.input_records == 50);
  CHECK(r.output_records == 50);
  CHECK(r.distinct_output_ids == 50);
  CHECK(r.missing_ids.empty());
  CHECK(r.unexpected_ids.empty());
  CHECK(r.duplicates.empty());
  CHECK(r.ok(false));
  CHECK(r.ok(true));
  CHECK(r.failures(false).empty());
}

TEST_CASE("a planted loss is reported by id, in input order", "[chaos]") {
  auto outs = clean_outputs(50);
  // Remove ids 41, 7 and 13 from a copy of the output.
  outs.erase(outs.begin() + 41);
  outs.erase(outs.begin() + 13);
  outs.erase(outs.begin() + 7);
  auto r = verify(inputs(50), outs);
  CHECK(r.missing_ids == std::vector<std::string>{"7", "13", "41"});
  CHECK(r.distinct_output_ids == 47);
  CHECK_FALSE(r.ok(false));
  REQUIRE(r.failures(false).size() == 1);
  CHECK_THAT(r.failures(false)[0], Catch::Contains("3 ids missing"));
}

TEST_CASE("a replay by a later epoch of the same task is an explained duplicate", "[chaos]") {
  auto outs = clean_outputs(3);
  outs.push_back(out("1", 3, 2));  // epoch 2 re-processed orders:0:1
  auto r = verify(inputs(3), outs);
  REQUIRE(r.duplicates.size() == 1);
  const auto& d = r.duplicates[0];
  CHECK(d.id == "1");
  CHECK(d.copies.size() == 2);
  CHECK(d.explained);
  CHECK_THAT(d.explanation, Catch::Contains("orders:0:1") && Catch::Contains("epochs 1, 2") &&
                                Catch::Contains("app-0"));
  CHECK(r.explained_duplicates == 1);
  CHECK(r.unexplained_duplicates == 0);
  CHECK(r.ok(false));
  // --exactly-once: no duplicate at all, explained or not.
  CHECK_FALSE(r.ok(true));
  CHECK_THAT(r.failures(true)[0], Catch::Contains("--exactly-once"));
}

TEST_CASE("three incarnations replaying one record are explained, a repeat epoch is not",
          "[chaos]") {
  auto three = judge_duplicate("9", {out("9", 1, 1), out("9", 5, 3), out("9", 8, 4)});
  CHECK(three.explained);
  CHECK_THAT(three.explanation, Catch::Contains("epochs 1, 3, 4"));
  auto repeat = judge_duplicate("9", {out("9", 1, 1), out("9", 5, 3), out("9", 8, 3)});
  CHECK_FALSE(repeat.explained);
  CHECK_THAT(repeat.explanation, Catch::Contains("same epoch 3") &&
                                     Catch::Contains("enriched[0]@5") &&
                                     Catch::Contains("enriched[0]@8"));
}

TEST_CASE("a duplicate without provenance is unexplained", "[chaos]") {
  OutputRecordInfo bare{"0", kOut, 7, std::nullopt, std::nullopt, std::nullopt};
  auto r = verify(inputs(1), {out("0", 0), bare});
  REQUIRE(r.duplicates.size() == 1);
  CHECK_FALSE(r.duplicates[0].explained);
  CHECK_THAT(r.duplicates[0].explanation,
             Catch::Contains("enriched[0]@7") && Catch::Contains("no provenance"));
  CHECK(r.unexplained_duplicates == 1);
  CHECK_FALSE(r.ok(false));

  OutputRecordInfo no_task = out("0", 8, 2);
  no_task.task.reset();
  auto t = judge_duplicate("0", {out("0", 0), no_task});
  CHECK_FALSE(t.explained);
  CHECK_THAT(t.explanation, Catch::Contains("rivulet.task"));
}

TEST_CASE("a duplicate from one epoch is unexplained", "[chaos]") {
  auto r = verify(inputs(2), {out("0", 0, 7), out("1", 1, 7), out("0", 2, 7)});
  REQUIRE(r.duplicates.size() == 1);
  CHECK_FALSE(r.duplicates[0].explained);
  CHECK_THAT(r.duplicates[0].explanation,
             Catch::Contains("same epoch 7") && Catch::Contains("wrote the record twice"));
  CHECK_FALSE(r.ok(false));
}

TEST_CASE("an unknown epoch, another input record or another task leave a duplicate unexplained",
          "[chaos]") {
  OutputRecordInfo no_epoch = out("0", 1, 2);
  no_epoch.epoch.reset();
  auto e = judge_duplicate("0", {out("0", 0, 1), no_epoch});
  CHECK_FALSE(e.explained);
  CHECK_THAT(e.explanation, Catch::Contains("rivulet.epoch"));

  OutputRecordInfo other_input = out("0", 1, 2);
  other_input.input = "orders:3:99";
  auto i = judge_duplicate("0", {out("0", 0, 1), other_input});
  CHECK_FALSE(i.explained);
  CHECK_THAT(i.explanation, Catch::Contains("different input records") &&
                                Catch::Contains("orders:0:0") && Catch::Contains("orders:3:99"));

  OutputRecordInfo other_task = out("0", 1, 2);
  other_task.task = "app-5";
  auto t = judge_duplicate("0", {out("0", 0, 1), other_task});
  CHECK_FALSE(t.explained);
  CHECK_THAT(t.explanation, Catch::Contains("two tasks") && Catch::Contains("app-5"));
}

TEST_CASE("an id the input holds twice is named in the duplicate's explanation", "[chaos]") {
  auto in = inputs(2);
  in.push_back({"1", kIn, 2});  // the producer of the input wrote id 1 twice
  OutputRecordInfo second = out("1", 2, 1);
  second.input = "orders:0:2";
  auto r = verify(in, {out("0", 0), out("1", 1), second});
  CHECK(r.repeated_input_ids == std::vector<std::string>{"1"});
  REQUIRE(r.duplicates.size() == 1);
  CHECK_FALSE(r.duplicates[0].explained);
  CHECK_THAT(r.duplicates[0].explanation, Catch::Contains("input itself holds this id 2 times"));
  CHECK(r.missing_ids.empty());
}

TEST_CASE("an older epoch writing after a newer one is a replay with a note", "[chaos]") {
  // Same partition: epoch 2's copy at offset 3, then epoch 1's at offset 9.
  auto d = judge_duplicate("4", {out("4", 3, 2), out("4", 9, 1)});
  CHECK(d.explained);
  CHECK_THAT(d.explanation, Catch::Contains("older incarnation still wrote"));
  // In different partitions there is no order to speak of.
  auto apart = judge_duplicate("4", {out("4", 3, 2), out("4", 9, 1, kOut1)});
  CHECK(apart.explained);
  CHECK_THAT(apart.explanation, !Catch::Contains("note"));
}

TEST_CASE("ids in the output that the input never held are unexpected", "[chaos]") {
  auto outs = clean_outputs(3);
  OutputRecordInfo stranger{"x", kOut, 3, std::nullopt, std::nullopt, std::nullopt};
  outs.push_back(stranger);
  auto r = verify(inputs(3), outs);
  CHECK(r.unexpected_ids == std::vector<std::string>{"x"});
  CHECK(r.missing_ids.empty());
  CHECK_FALSE(r.ok(false));
  CHECK_THAT(r.failures(false)[0], Catch::Contains("1 ids in the output"));
}

TEST_CASE("records without an id are counted, listed and fail the verdict", "[chaos]") {
  VerifyOptions options;
  options.inputs_without_id.push_back({kIn, 3, "no field 'order_id'"});
  auto r = verify(inputs(3), clean_outputs(3), options);
  CHECK(r.input_records == 4);
  REQUIRE(r.inputs_without_id.size() == 1);
  CHECK(r.inputs_without_id[0].offset == 3);
  CHECK_FALSE(r.ok(false));

  VerifyOptions out_options;
  out_options.outputs_without_id.push_back({kOut, 3, "value is not JSON"});
  auto o = verify(inputs(3), clean_outputs(3), out_options);
  CHECK(o.output_records == 4);
  CHECK_FALSE(o.ok(false));
}

TEST_CASE("a table's final values: last record per key, tombstones delete", "[chaos]") {
  const TopicPartition t0{"counts", PartitionId{0}};
  const TopicPartition t1{"counts", PartitionId{1}};
  TableInput table;
  // Given out of offset order: the check orders by partition and offset.
  table.records = {{std::string("a"), std::string(R"({"n": 2})"), t0, 5},
                   {std::string("a"), std::string(R"({"n":1})"), t0, 1},
                   {std::string("b"), std::string(R"({"n":1})"), t1, 0},
                   {std::string("c"), std::string(R"({"n":5})"), t1, 1},
                   {std::string("c"), std::nullopt, t1, 2},  // deleted
                   {std::string("d"), std::nullopt, t0, 2},
                   {std::string("d"), std::string("7"), t0, 3}};  // re-created after a delete
  table.expected = {{"a", R"({"n":2})"}, {"b", R"({ "n" : 1.0 })"}, {"d", "7"}};
  auto ok = check_table(table);
  CHECK(ok.ok());
  CHECK(ok.records == 7);
  CHECK(ok.live_keys == 3);

  table.expected = {{"a", R"({"n":3})"}, {"c", R"({"n":5})"}, {"d", "7"}};
  auto bad = check_table(table);
  CHECK_FALSE(bad.ok());
  REQUIRE(bad.mismatched.size() == 1);
  CHECK_THAT(bad.mismatched[0], Catch::StartsWith("a: expected {\"n\":3}, got {\"n\": 2}"));
  CHECK(bad.missing == std::vector<std::string>{"c"});  // deleted by its tombstone
  CHECK(bad.extra == std::vector<std::string>{"b"});

  // Through verify(): the table decides the verdict too.
  VerifyOptions options;
  options.table = table;
  auto r = verify(inputs(1), clean_outputs(1), options);
  REQUIRE(r.table.has_value());
  CHECK_FALSE(r.ok(false));
  CHECK_THAT(r.failures(false)[0], Catch::Contains("table"));
}

TEST_CASE("table values that are not JSON, keys in two partitions, records without a key",
          "[chaos]") {
  const TopicPartition t0{"counts", PartitionId{0}};
  const TopicPartition t1{"counts", PartitionId{1}};
  TableInput plain;
  plain.records = {{std::string("k"), std::string("hello world"), t0, 0}};
  plain.expected = {{"k", R"("hello world")"}};
  CHECK(check_table(plain).ok());
  plain.expected = {{"k", R"("hello")"}};
  CHECK(check_table(plain).mismatched.size() == 1);

  TableInput split;
  split.records = {{std::string("k"), std::string("1"), t0, 0},
                   {std::string("k"), std::string("1"), t1, 0},
                   {std::nullopt, std::string("2"), t1, 1}};
  split.expected = {{"k", "1"}};
  auto s = check_table(split);
  CHECK_FALSE(s.ok());
  REQUIRE(s.split_keys.size() == 1);
  CHECK_THAT(s.split_keys[0], Catch::Contains("counts[0]") && Catch::Contains("counts[1]"));
  REQUIRE(s.without_key.size() == 1);
  CHECK(s.without_key[0].offset == 1);
}

TEST_CASE("the expected-values file is one JSON object", "[chaos]") {
  auto good = parse_expected_table(R"({"u1": {"orders": 3}, "u2": "x", "u3": 4})");
  REQUIRE(good.ok());
  CHECK(good->at("u1") == R"({"orders":3})");
  CHECK(good->at("u2") == R"("x")");
  CHECK(good->at("u3") == "4");
  auto lines = parse_expected_table("{\"key\":\"a\",\"value\":1}\n{\"key\":\"b\",\"value\":2}\n");
  REQUIRE_FALSE(lines.ok());
  CHECK_THAT(lines.error().message, Catch::Contains("not valid JSON"));
  auto array = parse_expected_table("[1, 2]");
  REQUIRE_FALSE(array.ok());
  CHECK_THAT(array.error().message, Catch::Contains("got array"));
  CHECK_FALSE(parse_expected_table("").ok());
}

TEST_CASE("the JSON report names counts, ids and explanations", "[chaos]") {
  auto outs = clean_outputs(30);
  outs.erase(outs.begin() + 13);    // loss
  outs.push_back(out("5", 30, 1));  // same epoch: unexplained
  outs.push_back(out("6", 31, 2));  // replay: explained
  auto r = verify(inputs(30), outs);
  auto j = report_json(r, false, 20);
  CHECK(j["input_records"] == 30);
  CHECK(j["output_records"] == 31);
  CHECK(j["distinct_output_ids"] == 29);
  CHECK(j["missing"]["count"] == 1);
  CHECK(j["missing"]["ids"] == nlohmann::json::array({"13"}));
  CHECK(j["unexpected"]["count"] == 0);
  CHECK(j["duplicates"]["count"] == 2);
  CHECK(j["duplicates"]["explained"] == 1);
  CHECK(j["duplicates"]["unexplained"] == 1);
  REQUIRE(j["duplicates"]["examples"].size() == 2);
  CHECK(j["duplicates"]["examples"][0]["id"] == "5");  // unexplained ones first
  CHECK(j["duplicates"]["examples"][0]["explained"] == false);
  CHECK(j["duplicates"]["examples"][0]["copies"][1]["epoch"] == 1);
  CHECK(j["duplicates"]["examples"][0]["copies"][1]["input"] == "orders:0:5");
  CHECK(j["duplicates"]["examples"][1]["id"] == "6");
  CHECK(j["ok"] == false);
  CHECK(j["failures"].size() == 2);
  CHECK_FALSE(j.contains("table"));

  // Lists are capped; counts are not.
  auto capped = report_json(verify(inputs(30), {}), false, 4);
  CHECK(capped["missing"]["count"] == 30);
  CHECK(capped["missing"]["ids"].size() == 4);
}
