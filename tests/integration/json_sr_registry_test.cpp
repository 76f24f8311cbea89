// The JSON_SR format with a schema registry, end to end: `rivulet run` (its
// own process) on the embedded broker, `rivulet schema-registry`'s registry
// in this process (LocalSchemaRegistry), input in Confluent's wire format
// sent by kcat, and the output checked by an independent JSON Schema
// validator (Debian's python3-jsonschema, json_sr_tool.py) against the
// schema the query registered.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "connectors/local_schema_registry.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"

using rivulet::connectors::LocalSchemaRegistry;
using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;
using rivulet::testing::write_file;

namespace {

const std::string kTool =
    "/usr/bin/python3 " RIVULET_SOURCE_DIR "/tests/integration/json_sr_tool.py";

// The producer's schema, as Confluent's serializer derives one from a
// class: lower-case names in written order, a nested object, a nullable
// string.
const char* kOrderSchema = R"({"$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Order", "type": "object", "properties": {
    "id": {"type": "integer"},
    "item": {"type": "string"},
    "price": {"type": "number"},
    "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
    "ship": {"type": "object", "properties": {"city": {"type": "string"}}}}})";

}  // namespace

TEST_CASE("rivulet run: JSON_SR values through a schema registry with inferred columns",
          "[integration][sql][json_sr]") {
  auto started_registry = LocalSchemaRegistry::start();
  REQUIRE(started_registry.ok());
  auto& registry = **started_registry;
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "js_orders:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  rivulet::testing::TempDir tmp("rivulet-json-sr");
  const std::string& dir = tmp.path();

  auto order_id = registry.registry().register_schema("js_orders-value", kOrderSchema, "JSON");
  REQUIRE(order_id.ok());
  const std::vector<std::pair<std::string, std::string>> orders = {
      {"o1", R"({"id": 1, "item": "pen", "price": 2.5, "note": null, "ship": {"city": "Lyon"}})"},
      {"o2", R"({"id": 2, "item": "ink", "price": 0.5, "note": "gift", "ship": {"city": "Oslo"}})"},
      {"o3", R"({"id": 3, "item": "cup", "price": 7.25, "note": "x", "ship": {"city": "Kyiv"}})"},
  };
  for (size_t i = 0; i < orders.size(); ++i) {
    const std::string file = dir + "/order" + std::to_string(i) + ".bin";
    auto [rc, out] = run_command(kTool + " encode " + std::to_string(*order_id) + " " + file +
                                     " '" + orders[i].second + "' 2>&1",
                                 "", 30);
    INFO(out);
    REQUIRE(rc == 0);
    REQUIRE(
        run_command("kcat -b " + *bootstrap + " -P -t js_orders -k " + orders[i].first + " " + file,
                    "", 30)
            .first == 0);
  }
  // Plain JSON, without the prefix: a data error, the others go on.
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -t js_orders -K '|'",
                      "o4|{\"id\": 4, \"item\": \"mug\", \"price\": 9}\n", 30)
              .first == 0);

  const std::string app = dir + "/orders.sql";
  write_file(app,
             "SET 'application.id' = 'json-sr-run';\n"
             "SET 'commit.interval.ms' = '100';\n"
             "-- The value columns come from the registry (subject js_orders-value).\n"
             "CREATE STREAM ORDERS (K STRING KEY)\n"
             "  WITH (kafka_topic='js_orders', value_format='JSON_SR');\n"
             "CREATE STREAM DEAR WITH (kafka_topic='js_dear', value_format='JSON_SR') AS\n"
             "  SELECT K, ID, UCASE(ITEM) AS ITEM, PRICE * 2 AS DOUBLED, SHIP->CITY AS CITY, NOTE\n"
             "  FROM ORDERS WHERE PRICE > 1;\n");
  const std::string errors = dir + "/run.err";
  auto run = ChildProcess::spawn(
      {rivulet::testing::rivulet_binary(), "run", app, "--bootstrap", *bootstrap, "--set",
       "state.dir=" + dir + "/state", "--set", "schema.registry.url=" + registry.url()},
      errors);
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 1 query from " + app, 0) == 0);

  auto done = [](const rivulet::testing::Collector& c) { return c.count("js_dear") >= 2; };
  auto records = rivulet::testing::read_until(*bootstrap, {"js_dear"}, 2, done);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more comes
  records = rivulet::testing::read_until(*bootstrap, {"js_dear"}, 2, done);
  REQUIRE(records.size() == 2);

  // The query registered its output's schema, of type JSON.
  auto out_schema = registry.registry().latest("js_dear-value");
  REQUIRE(out_schema.ok());
  CHECK(out_schema->type == "JSON");
  write_file(dir + "/out.json", out_schema->schema);
  std::map<std::string, nlohmann::json> by_key;
  for (const auto& r : records) {
    REQUIRE(r.value.has_value());
    REQUIRE(r.key.has_value());
    write_file(dir + "/out.bin", *r.value);
    // python3-jsonschema validates each value against the registered schema.
    auto [rc, out] =
        run_command(kTool + " check " + dir + "/out.json " + dir + "/out.bin 2>&1", "", 30);
    INFO(out);
    REQUIRE(rc == 0);
    auto checked = nlohmann::json::parse(out);
    CHECK(checked["id"] == out_schema->id);
    by_key[*r.key] = checked["value"];
  }
  CHECK(by_key["o1"] == nlohmann::json::parse(R"({"ID": 1, "ITEM": "PEN", "DOUBLED": 5.0,
      "CITY": "Lyon", "NOTE": null})"));
  CHECK(by_key["o3"] == nlohmann::json::parse(R"({"ID": 3, "ITEM": "CUP", "DOUBLED": 14.5,
      "CITY": "Kyiv", "NOTE": "x"})"));
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  std::ifstream err(errors);
  std::string logged((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(logged);
  CHECK(logged.find("not in the schema registry's wire format (JSON_SR)") != std::string::npos);
  CHECK(logged.find("decode value failed at js_orders[") != std::string::npos);

  // The shell with the same registry: the inferred columns, PRINT of the
  // output (recognised as JSON_SR), a pull over the producer's records.
  auto [shell_rc, shell_out] = run_command(
      rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap +
          " --set schema.registry.url=" + registry.url() + " 2>&1",
      "CREATE STREAM O2 (K STRING KEY) WITH (kafka_topic='js_orders', value_format='JSON_SR');\n"
      "DESCRIBE O2;\n"
      "PRINT js_dear FROM BEGINNING LIMIT 2;\n"
      "SELECT K, ITEM, SHIP->CITY AS CITY FROM O2 WHERE ID < 3;\n",
      60);
  INFO(shell_out);
  CHECK(shell_rc == 0);
  CHECK(shell_out.find("| PRICE | DOUBLE              |") != std::string::npos);
  CHECK(shell_out.find("| SHIP  | STRUCT<CITY STRING> |") != std::string::npos);
  CHECK(shell_out.find("Value format: JSON_SR") != std::string::npos);
  CHECK(shell_out.find("key: o1, value: {\"ID\":1,\"ITEM\":\"PEN\"") != std::string::npos);
  CHECK(shell_out.find("| o1 | pen  | Lyon ") != std::string::npos);
  CHECK(shell_out.find("| o2 | ink  | Oslo ") != std::string::npos);
  CHECK(shell_out.find("warning: 1 record of O2 could not be read and was skipped") !=
        std::string::npos);
}
