// AVRO with a schema registry in a cluster: `rivulet submit` and every node
// read schema.registry.url from their configuration, plan the file with the
// columns the registry gives, and the nodes read the producer's Avro
// (python3-avro, kcat) and write the grouped totals in Avro under the
// schema the query registered, read back by python3-avro.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/local_schema_registry.hpp"
#include "local_cluster.hpp"
#include "support/topic_reader.hpp"

using rivulet::connectors::LocalSchemaRegistry;
using rivulet::testing::LocalCluster;
using rivulet::testing::run_command;

TEST_CASE("a submitted query reads and writes AVRO through the schema registry",
          "[integration][cluster][avro]") {
  auto started_registry = LocalSchemaRegistry::start();
  REQUIRE(started_registry.ok());
  auto& registry = **started_registry;
  LocalCluster c({"cv_orders:4"}, "schema.registry.url=" + registry.url() + "\n");
  c.start_coordinator();
  c.start_node("n1");
  c.start_node("n2");
  const std::string tool = "/usr/bin/python3 " RIVULET_SOURCE_DIR "/tests/integration/avro_tool.py";
  const std::string schema =
      R"({"type":"record","name":"Order","fields":[{"name":"item","type":"string"},)"
      R"({"name":"qty","type":"int"}]})";
  auto id = registry.registry().register_schema("cv_orders-value", schema);
  REQUIRE(id.ok());
  std::ofstream(c.dir + "/orders.avsc") << schema;
  const std::vector<std::pair<std::string, int>> orders = {{"pen", 1}, {"ink", 2}, {"pen", 3},
                                                           {"cap", 4}, {"ink", 5}, {"pen", 6}};
  for (size_t i = 0; i < orders.size(); ++i) {
    const std::string file = c.dir + "/order" + std::to_string(i) + ".bin";
    auto [rc, out] = run_command(tool + " encode " + c.dir + "/orders.avsc " + std::to_string(*id) +
                                     " " + file + " '{\"item\": \"" + orders[i].first +
                                     "\", \"qty\": " + std::to_string(orders[i].second) + "}' 2>&1",
                                 "", 30);
    INFO(out);
    REQUIRE(rc == 0);
    REQUIRE(run_command(
                "kcat -b " + c.bootstrap + " -P -t cv_orders -k o" + std::to_string(i) + " " + file,
                "", 30)
                .first == 0);
  }
  std::ofstream(c.dir + "/totals.sql")
      << "CREATE STREAM ORDERS (OID STRING KEY) WITH (kafka_topic='cv_orders', "
         "value_format='AVRO');\n"
         "CREATE TABLE TOTALS WITH (kafka_topic='cv_totals', value_format='AVRO') AS\n"
         "  SELECT ITEM, SUM(QTY) AS TOTAL, COUNT(*) AS N FROM ORDERS GROUP BY ITEM;\n";
  auto [rc, out] = c.rivulet("submit " + c.dir + "/totals.sql --coordinator " + c.address +
                             " --config " + c.config_file);
  INFO(out);
  REQUIRE(rc == 0);
  c.wait_balanced(4, {"n1", "n2"}, std::chrono::seconds(40));

  // The last total of each item, decoded by python3-avro with the schema
  // the query registered (by submit, and again by each node: one id).
  std::map<std::string, nlohmann::json> totals;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline) {
    auto records = rivulet::testing::read_until(
        c.bootstrap, {"cv_totals"}, 4, [](const rivulet::testing::Collector&) { return false; },
        std::chrono::seconds(1));
    auto written = registry.registry().latest("cv_totals-value");
    if (!written.ok() || records.empty()) continue;
    std::ofstream(c.dir + "/totals.avsc") << written->schema;
    totals.clear();
    for (const auto& r : records) {
      REQUIRE(r.value.has_value());
      std::ofstream(c.dir + "/total.bin", std::ios::binary) << *r.value;
      auto [drc, decoded] = run_command(
          tool + " decode " + c.dir + "/totals.avsc " + c.dir + "/total.bin 2>&1", "", 30);
      INFO(decoded);
      REQUIRE(drc == 0);
      auto j = nlohmann::json::parse(decoded);
      CHECK(j["id"] == written->id);
      totals[r.key.value_or("")] = j["value"];  // in offset order per key
    }
    if (totals.size() == 3 && totals["pen"]["N"] == 3 && totals["ink"]["N"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  CHECK(totals["pen"] == nlohmann::json::parse(R"({"TOTAL": 10, "N": 3})"));
  CHECK(totals["ink"] == nlohmann::json::parse(R"({"TOTAL": 7, "N": 2})"));
  CHECK(totals["cap"] == nlohmann::json::parse(R"({"TOTAL": 4, "N": 1})"));
  CHECK(registry.registry().latest("cv_totals-value")->version == 1);

  // The table answers pull queries from the node owning the key's task.
  auto [qrc, qout] = run_command(rivulet::testing::rivulet_binary() + " query --coordinator " +
                                     c.address + " TOTALS pen --json --config " + c.config_file,
                                 "", 30);
  INFO(qout);
  CHECK(qrc == 0);
  auto answer = nlohmann::json::parse(qout, nullptr, false);
  REQUIRE(answer.is_object());
  CHECK(answer["found"] == true);
  CHECK(answer["row"]["TOTAL"] == 10);
  CHECK(answer["row"]["N"] == 3);
}
