// The AVRO value format with a schema registry, end to end: `rivulet run`
// (its own process) on the embedded broker (`rivulet broker`), a schema
// registry speaking Confluent's REST API (tests/support), input written
// with an independent Avro implementation (Debian's python3-avro,
// avro_tool.py) and kcat, output read back and decoded by python3-avro
// with the schema the query registered.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/local_schema_registry.hpp"
#include "connectors/schema_registry_client.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"
#include "support/topic_reader.hpp"

using rivulet::connectors::LocalSchemaRegistry;
using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;
using rivulet::testing::write_file;

namespace {

const std::string kTool = "/usr/bin/python3 " RIVULET_SOURCE_DIR "/tests/integration/avro_tool.py";

// The page views' schema, as another producer registered it: lower-case
// names, a nested record, an array, a nullable field.
const char* kViewSchema = R"({"type": "record", "name": "PageView", "namespace": "test",
  "fields": [
    {"name": "viewtime", "type": "long"},
    {"name": "userid", "type": "string"},
    {"name": "pageid", "type": ["null", "string"], "default": null},
    {"name": "address", "type": {"type": "record", "name": "Address",
      "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}}]})";

}  // namespace

TEST_CASE("rivulet run: AVRO values through a schema registry with inferred columns",
          "[integration][sql][avro]") {
  auto started_registry = LocalSchemaRegistry::start();
  REQUIRE(started_registry.ok());
  auto& registry = **started_registry;
  auto broker =
      ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker", "--topic", "av_views:2"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());
  rivulet::testing::TempDir tmp("rivulet-avro");
  const std::string& dir = tmp.path();

  auto view_id = registry.registry().register_schema("av_views-value", kViewSchema);
  REQUIRE(view_id.ok());
  write_file(dir + "/views.avsc", kViewSchema);
  const std::vector<std::pair<std::string, std::string>> views = {
      {"k1", R"({"viewtime": 1000, "userid": "u1", "pageid": "p1",
                 "address": {"city": "Lyon", "zip": 69001}, "tags": ["a", "b"]})"},
      {"k2", R"({"viewtime": 2000, "userid": "u2", "pageid": null,
                 "address": {"city": "Oslo", "zip": 150}, "tags": []})"},
      {"k3", R"({"viewtime": 3000, "userid": "u3", "pageid": "p3",
                 "address": {"city": "Kyiv", "zip": 1001}, "tags": ["c"]})"},
  };
  for (size_t i = 0; i < views.size(); ++i) {
    const std::string file = dir + "/view" + std::to_string(i) + ".bin";
    auto [rc, out] =
        run_command(kTool + " encode " + dir + "/views.avsc " + std::to_string(*view_id) + " " +
                        file + " '" + views[i].second + "' 2>&1",
                    "", 30);
    INFO(out);
    REQUIRE(rc == 0);
    // kcat sends each file as one message.
    REQUIRE(
        run_command("kcat -b " + *bootstrap + " -P -t av_views -k " + views[i].first + " " + file,
                    "", 30)
            .first == 0);
  }
  // Not in the wire format: refused as a data error, the others go on.
  REQUIRE(run_command("kcat -b " + *bootstrap + " -P -t av_views -K '|'",
                      "k4|{\"viewtime\": 4000}\n", 30)
              .first == 0);

  const std::string app = dir + "/views.sql";
  write_file(app,
             "SET 'application.id' = 'avro-run';\n"
             "SET 'commit.interval.ms' = '100';\n"
             "-- The value columns come from the registry (subject av_views-value).\n"
             "CREATE STREAM VIEWS (VIEWER STRING KEY)\n"
             "  WITH (kafka_topic='av_views', value_format='AVRO');\n"
             "CREATE STREAM CITY_VIEWS WITH (kafka_topic='av_city_views', value_format='AVRO') AS\n"
             "  SELECT VIEWER, USERID, ADDRESS->CITY AS CITY, VIEWTIME + 1 AS NEXT_TIME,\n"
             "         TAGS[1] AS FIRST_TAG, PAGEID\n"
             "  FROM VIEWS WHERE ADDRESS->ZIP > 1000;\n");
  const std::string errors = dir + "/run.err";
  auto run = ChildProcess::spawn(
      {rivulet::testing::rivulet_binary(), "run", app, "--bootstrap", *bootstrap, "--set",
       "state.dir=" + dir + "/state", "--set", "schema.registry.url=" + registry.url()},
      errors);
  REQUIRE(run.has_value());
  auto line = run->read_line();
  REQUIRE(line.has_value());
  CHECK(line->rfind("running 1 query from " + app, 0) == 0);

  auto records = rivulet::testing::read_until(
      *bootstrap, {"av_city_views"}, 2,
      [](const rivulet::testing::Collector& c) { return c.count("av_city_views") >= 2; });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more comes
  records = rivulet::testing::read_until(
      *bootstrap, {"av_city_views"}, 2,
      [](const rivulet::testing::Collector& c) { return c.count("av_city_views") >= 2; });
  REQUIRE(records.size() == 2);

  // The query registered its output's schema under av_city_views-value.
  auto out_schema = registry.registry().latest("av_city_views-value");
  REQUIRE(out_schema.ok());
  auto schema_json = nlohmann::json::parse(out_schema->schema);
  CHECK(schema_json["name"] == "KsqlDataSourceSchema");
  std::vector<std::string> fields;
  for (const auto& f : schema_json["fields"]) fields.push_back(f["name"]);
  CHECK(fields == std::vector<std::string>{"USERID", "CITY", "NEXT_TIME", "FIRST_TAG", "PAGEID"});
  write_file(dir + "/out.avsc", out_schema->schema);

  std::map<std::string, nlohmann::json> by_key;
  for (const auto& r : records) {
    REQUIRE(r.value.has_value());
    REQUIRE(r.key.has_value());
    write_file(dir + "/out.bin", *r.value);
    auto [rc, out] =
        run_command(kTool + " decode " + dir + "/out.avsc " + dir + "/out.bin 2>&1", "", 30);
    INFO(out);
    REQUIRE(rc == 0);
    auto decoded = nlohmann::json::parse(out);
    CHECK(decoded["id"] == out_schema->id);
    by_key[*r.key] = decoded["value"];
  }
  CHECK(by_key.size() == 2);
  CHECK(by_key["k1"] == nlohmann::json::parse(R"({"USERID": "u1", "CITY": "Lyon",
      "NEXT_TIME": 1001, "FIRST_TAG": "a", "PAGEID": "p1"})"));
  CHECK(by_key["k3"] == nlohmann::json::parse(R"({"USERID": "u3", "CITY": "Kyiv",
      "NEXT_TIME": 3001, "FIRST_TAG": "c", "PAGEID": "p3"})"));

  CHECK(run->stop(SIGTERM, std::chrono::seconds(30)) == 0);

  // The shell with the same registry: an inferred stream's columns, PRINT
  // of the query's Avro output, a pull query over the producer's Avro.
  auto [shell_rc, shell_out] = run_command(
      rivulet::testing::rivulet_binary() + " sql --bootstrap " + *bootstrap +
          " --set schema.registry.url=" + registry.url() + " 2>&1",
      "CREATE STREAM V2 (VIEWER STRING KEY) WITH (kafka_topic='av_views', value_format='AVRO');\n"
      "DESCRIBE V2;\n"
      "PRINT av_city_views FROM BEGINNING LIMIT 2;\n"
      "SELECT VIEWER, USERID, ADDRESS->CITY AS CITY FROM V2 WHERE ADDRESS->ZIP > 100;\n",
      60);
  INFO(shell_out);
  CHECK(shell_rc == 0);
  CHECK(shell_out.find("| ADDRESS  | STRUCT<CITY STRING, ZIP INTEGER> |") != std::string::npos);
  CHECK(shell_out.find("Value format: AVRO") != std::string::npos);
  CHECK(shell_out.find("key: k1, value: {\"USERID\":\"u1\",\"CITY\":\"Lyon\",\"NEXT_TIME\":1001,"
                       "\"FIRST_TAG\":\"a\",\"PAGEID\":\"p1\"}") != std::string::npos);
  CHECK(shell_out.find("| k1     | u1     | Lyon ") != std::string::npos);
  CHECK(shell_out.find("| k2     | u2     | Oslo ") != std::string::npos);
  CHECK(shell_out.find("| k3     | u3     | Kyiv ") != std::string::npos);
  // The record that is not Avro: skipped and counted, with where it is.
  CHECK(shell_out.find("warning: 1 record of V2 could not be read and was skipped (the first, "
                       "av_views/0@0: value: not in the schema registry's wire format (AVRO)") !=
        std::string::npos);

  std::ifstream err(errors);
  std::string logged((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  INFO(logged);
  // The record that was not Avro: a data error with its topic/partition@offset.
  CHECK(logged.find("not in the schema registry's wire format") != std::string::npos);
  CHECK(logged.find("decode value failed at av_views[0]@0 key k4") != std::string::npos);

  // A registry that refuses the output's schema (incompatible): the file
  // is refused at its statement, exit 2, before anything runs.
  registry.refuse_registrations = true;
  auto [refused_rc, refused_out] =
      run_command(rivulet::testing::rivulet_binary() + " run " + app + " --bootstrap " +
                      *bootstrap + " --set schema.registry.url=" + registry.url() + " 2>&1",
                  "", 60);
  INFO(refused_out);
  CHECK(refused_rc == 2);
  CHECK(refused_out.find("incompatible with an earlier schema") != std::string::npos);
  CHECK(refused_out.find("views.sql: line 7:3: could not register the AVRO schema of subject "
                         "'av_city_views-value' with the schema registry " +
                         registry.url()) != std::string::npos);

  // No registry there: the CREATE cannot read its columns.
  auto [gone_rc, gone_out] =
      run_command(rivulet::testing::rivulet_binary() + " run " + app + " --bootstrap " +
                      *bootstrap + " --set schema.registry.url=http://127.0.0.1:1 2>&1",
                  "", 60);
  INFO(gone_out);
  CHECK(gone_rc == 2);
  CHECK(gone_out.find("line 4:15: Schema for message values on topic 'av_views' could not be "
                      "read from the schema registry http://127.0.0.1:1") != std::string::npos);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}

// `rivulet schema-registry`: the registry as its own process, its URL on
// the first line; Confluent's REST API (the client's calls, and the
// listing calls other tools make); SIGTERM stops it (exit 0).
TEST_CASE("rivulet schema-registry: a registry in memory for trying AVRO locally",
          "[integration][avro]") {
  auto process = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "schema-registry"});
  REQUIRE(process.has_value());
  auto url = process->read_line();
  REQUIRE(url.has_value());
  CHECK(url->rfind("http://127.0.0.1:", 0) == 0);
  auto client = rivulet::connectors::http_schema_registry(*url);
  REQUIRE(client.ok());
  const std::string v1 = R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
  auto id = (*client)->register_schema("t-value", v1);
  REQUIRE(id.ok());
  CHECK((*client)->schema_by_id(*id)->schema == v1);
  CHECK((*client)->latest("t-value")->version == 1);
  httplib::Client http(*url);
  auto subjects = http.Get("/subjects");
  REQUIRE(subjects);
  CHECK(nlohmann::json::parse(subjects->body) == nlohmann::json::array({"t-value"}));
  auto versions = http.Get("/subjects/t-value/versions");
  REQUIRE(versions);
  CHECK(nlohmann::json::parse(versions->body) == nlohmann::json::array({1}));
  auto first = http.Get("/subjects/t-value/versions/1");
  REQUIRE(first);
  CHECK(nlohmann::json::parse(first->body)["id"] == *id);
  auto missing = http.Get("/subjects/t-value/versions/2");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(nlohmann::json::parse(missing->body)["error_code"] == 40402);
  CHECK(process->stop(SIGTERM, std::chrono::seconds(10)) == 0);
}
