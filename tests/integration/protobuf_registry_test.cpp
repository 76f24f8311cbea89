// The PROTOBUF format with a schema registry, end to end: `rivulet run`
// (its own process) on the embedded broker, `rivulet schema-registry`'s
// registry in this process (LocalSchemaRegistry), input encoded by protoc
// (Debian's protobuf-compiler, an implementation independent of ours) in
// Confluent's wire format and sent by kcat, output decoded by protoc with
// the schema the query registered. Then PROTOBUF_NOSR, without a registry.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "connectors/local_schema_registry.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"

using rivulet::connectors::LocalSchemaRegistry;
using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;
using rivulet::testing::write_file;

namespace {

// The producer's schema: its records are the second message, shop.Sale
// (message indexes [1]), with a message from another file (a schema
// reference) and a repeated field.
const char* kSaleSchema = R"(syntax = "proto3";
package shop;
import "shop/buyer.proto";
message Old { float c1 = 1; }
message Sale {
  string item = 1;
  uint32 qty = 2;
  Buyer buyer = 3;
  repeated string tags = 4;
}
)";
const char* kBuyerSchema = R"(syntax = "proto3";
package shop;
message Buyer { string city = 1; }
)";

}  // namespace

TEST_CASE("rivulet run: PROTOBUF values through a schema registry with inferred columns",
          "[integration][sql][protobuf]") {
  auto started_registry = LocalSchemaRegistry::start();
  REQUIRE(started_registry.ok());
  auto& registry = **started_registry;
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "pb_sales:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  rivulet::testing::TempDir tmp("rivulet-protobuf");
  const std::string& dir = tmp.path();

  // The imported file under its import name, as Confluent's serializers
  // register references.
  REQUIRE(registry.registry().register_schema("shop/buyer.proto", kBuyerSchema, "PROTOBUF").ok());
  auto sale_id = registry.registry().register_with_references(
      "pb_sales-value", kSaleSchema, "PROTOBUF", {{"shop/buyer.proto", "shop/buyer.proto", 1}});
  REQUIRE(sale_id.ok());
  REQUIRE(*sale_id < 256);
  write_file(dir + "/sale.proto", kSaleSchema);
  std::filesystem::create_directories(dir + "/shop");
  write_file(dir + "/shop/buyer.proto", kBuyerSchema);
  const std::vector<std::pair<std::string, std::string>> sales = {
      {"s1", R"(item: "pen" qty: 3 buyer { city: "Lyon" } tags: "a" tags: "b")"},
      {"s2", R"(item: "ink" qty: 1 buyer { city: "Oslo" })"},
      {"s3", R"(item: "cup" qty: 5 tags: "c")"},
  };
  for (size_t i = 0; i < sales.size(); ++i) {
    const std::string file = dir + "/sale" + std::to_string(i) + ".bin";
    // The prefix, message indexes [1] (count 1, index 1: 02 02), then
    // protoc's encoding of the text.
    write_file(file, std::string("\0\0\0\0", 4) + static_cast<char>(*sale_id) + "\x02\x02");
    auto [rc, out] =
        run_command("protoc -I" + dir + " --encode=shop.Sale " + dir + "/sale.proto >> " + file,
                    sales[i].second, 30);
    INFO(out);
    REQUIRE(rc == 0);
    REQUIRE(
        run_command("kcat -b " + *bootstrap + " -P -t pb_sales -k " + sales[i].first + " " + file,
                    "", 30)
            .first == 0);
  }
  // Not in the wire format: a data error, the others go on.
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -t pb_sales -K '|'", "s4|{\"item\": 1}\n", 30)
              .first == 0);

  const std::string app = dir + "/sales.sql";
  write_file(app,
             "SET 'application.id' = 'protobuf-run';\n"
             "SET 'commit.interval.ms' = '100';\n"
             "-- The value columns come from the registry's shop.Sale.\n"
             "CREATE STREAM SALES (K STRING KEY) WITH (kafka_topic='pb_sales',\n"
             "  value_format='PROTOBUF', VALUE_SCHEMA_FULL_NAME='shop.Sale');\n"
             "CREATE STREAM BIG WITH (kafka_topic='pb_big', value_format='PROTOBUF') AS\n"
             "  SELECT K, UCASE(ITEM) AS ITEM, QTY * 10 AS QTY10, BUYER->CITY AS CITY,\n"
             "         ARRAY_LENGTH(TAGS) AS NTAGS\n"
             "  FROM SALES WHERE QTY > 1;\n");
  const std::string errors = dir + "/run.err";
  auto run = ChildProcess::spawn(
      {rivulet::testing::rivulet_binary(), "run", app, "--bootstrap", *bootstrap, "--set",
       "state.dir=" + dir + "/state", "--set", "schema.registry.url=" + registry.url()},
      errors);
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 1 query from " + app, 0) == 0);

  auto done = [](const rivulet::testing::Collector& c) { return c.count("pb_big") >= 2; };
  auto records = rivulet::testing::read_until(*bootstrap, {"pb_big"}, 2, done);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more comes
  records = rivulet::testing::read_until(*bootstrap, {"pb_big"}, 2, done);
  REQUIRE(records.size() == 2);

  // The query registered ksqlDB's schema for its output (message
  // ConnectDefault1); protoc decodes each value with it.
  auto out_schema = registry.registry().latest("pb_big-value");
  REQUIRE(out_schema.ok());
  CHECK(out_schema->type == "PROTOBUF");
  CHECK(out_schema->schema.find("message ConnectDefault1") != std::string::npos);
  write_file(dir + "/out.proto", out_schema->schema);
  std::map<std::string, std::string> by_key;
  for (const auto& r : records) {
    REQUIRE(r.value.has_value());
    REQUIRE(r.key.has_value());
    REQUIRE(r.value->size() > 6);
    CHECK(r.value->substr(0, 1) == std::string(1, '\0'));
    int id = 0;
    for (int i = 1; i < 5; ++i) id = (id << 8) | static_cast<unsigned char>((*r.value)[i]);
    CHECK(id == out_schema->id);
    CHECK((*r.value)[5] == '\0');  // message indexes [0]
    auto [rc, out] = run_command(
        "protoc -I" + dir + " -I/usr/include --decode=ConnectDefault1 " + dir + "/out.proto 2>&1",
        r.value->substr(6), 30);
    INFO(out);
    REQUIRE(rc == 0);
    by_key[*r.key] = out;
  }
  CHECK(by_key["s1"] == "ITEM: \"PEN\"\nQTY10: 30\nCITY: \"Lyon\"\nNTAGS: 2\n");
  // proto3 leaves out what is NULL (no buyer): protoc shows no CITY.
  CHECK(by_key["s3"] == "ITEM: \"CUP\"\nQTY10: 50\nNTAGS: 1\n");
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  std::ifstream err(errors);
  std::string logged((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(logged);
  CHECK(logged.find("not in the schema registry's wire format (PROTOBUF)") != std::string::npos);

  // The shell with the same registry: the inferred columns, PRINT of the
  // output (recognised as PROTOBUF, shown as JSON), a pull over the input.
  auto [shell_rc, shell_out] = run_command(
      rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap +
          " --set schema.registry.url=" + registry.url() + " 2>&1",
      "CREATE STREAM S2 (K STRING KEY) WITH (kafka_topic='pb_sales', value_format='PROTOBUF',\n"
      "  VALUE_SCHEMA_FULL_NAME='shop.Sale');\n"
      "DESCRIBE S2;\n"
      "PRINT pb_big FROM BEGINNING LIMIT 2;\n"
      "SELECT K, ITEM, BUYER->CITY AS CITY FROM S2 WHERE QTY < 5;\n",
      60);
  INFO(shell_out);
  CHECK(shell_rc == 0);
  CHECK(shell_out.find("| QTY   | BIGINT              |") != std::string::npos);
  CHECK(shell_out.find("| BUYER | STRUCT<CITY STRING> |") != std::string::npos);
  CHECK(shell_out.find("| TAGS  | ARRAY<STRING>       |") != std::string::npos);
  CHECK(shell_out.find("Value format: PROTOBUF") != std::string::npos);
  CHECK(shell_out.find("key: s1, value: {\"ITEM\":\"PEN\",\"QTY10\":30,\"CITY\":\"Lyon\","
                       "\"NTAGS\":2}") != std::string::npos);
  CHECK(shell_out.find("| s1 | pen  | Lyon ") != std::string::npos);
  CHECK(shell_out.find("| s2 | ink  | Oslo ") != std::string::npos);
}

// PROTOBUF_NOSR: the messages alone, no registry. protoc encodes the input
// with the producer's own .proto (fields numbered as the declared columns)
// and decodes the output with a .proto written here by hand, not with
// Rivulet's schema.
TEST_CASE("rivulet run: PROTOBUF_NOSR values without a registry", "[integration][sql][protobuf]") {
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "nosr_in:1"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  rivulet::testing::TempDir tmp("rivulet-protobuf");
  const std::string& dir = tmp.path();
  write_file(dir + "/in.proto",
             "syntax = \"proto3\";\nmessage Sale { string item = 1; int64 qty = 2; }\n");
  write_file(dir + "/out.proto",
             "syntax = \"proto3\";\nmessage Big { string item = 1; int64 qty10 = 2; }\n");
  const std::vector<std::pair<std::string, std::string>> sales = {
      {"s1", R"(item: "pen" qty: 3)"}, {"s2", R"(item: "ink" qty: 1)"}, {"s3", R"(item: "cup")"}};
  for (size_t i = 0; i < sales.size(); ++i) {
    const std::string file = dir + "/sale" + std::to_string(i) + ".bin";
    auto [rc, out] = run_command(
        "protoc -I" + dir + " --encode=Sale " + dir + "/in.proto > " + file, sales[i].second, 30);
    INFO(out);
    REQUIRE(rc == 0);
    REQUIRE(
        run_command("kcat -b " + *bootstrap + " -P -t nosr_in -k " + sales[i].first + " " + file,
                    "", 30)
            .first == 0);
  }
  // JSON is not a protobuf message: a data error, the others go on.
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -t nosr_in -K '|'", "s4|{\"item\": 1}\n", 30)
              .first == 0);

  const std::string app = dir + "/nosr.sql";
  write_file(app,
             "SET 'application.id' = 'protobuf-nosr-run';\n"
             "SET 'commit.interval.ms' = '100';\n"
             "CREATE STREAM SALES (K STRING KEY, ITEM STRING, QTY BIGINT)\n"
             "  WITH (kafka_topic='nosr_in', value_format='PROTOBUF_NOSR');\n"
             "CREATE STREAM BIG WITH (kafka_topic='nosr_big') AS\n"
             "  SELECT K, UCASE(ITEM) AS ITEM, QTY * 10 AS QTY10 FROM SALES WHERE QTY <> 1;\n");
  const std::string errors = dir + "/run.err";
  auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                  *bootstrap, "--set", "state.dir=" + dir + "/state"},
                                 errors);
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 1 query from " + app, 0) == 0);

  auto done = [](const rivulet::testing::Collector& c) { return c.count("nosr_big") >= 2; };
  auto records = rivulet::testing::read_until(*bootstrap, {"nosr_big"}, 2, done);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more comes
  records = rivulet::testing::read_until(*bootstrap, {"nosr_big"}, 2, done);
  REQUIRE(records.size() == 2);
  std::map<std::string, std::string> by_key;
  for (const auto& r : records) {
    REQUIRE(r.value.has_value());
    REQUIRE(r.key.has_value());
    auto [rc, out] =
        run_command("protoc -I" + dir + " --decode=Big " + dir + "/out.proto 2>&1", *r.value, 30);
    INFO(out);
    REQUIRE(rc == 0);
    by_key[*r.key] = out;
  }
  CHECK(by_key["s1"] == "item: \"PEN\"\nqty10: 30\n");
  // proto3's default: s3's absent qty reads 0 (0 <> 1), its QTY10 is 0,
  // which proto3 leaves out.
  CHECK(by_key["s3"] == "item: \"CUP\"\n");
  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  std::ifstream err(errors);
  std::string logged((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(logged);
  CHECK(logged.find("PROTOBUF_NOSR: ") != std::string::npos);
  CHECK(logged.find("nosr_in[0]@3") != std::string::npos);
}
