// VALUE_FORMAT='AVRO' with a schema registry in the SQL engine: columns
// inferred from the subject's latest schema (or VALUE_SCHEMA_ID), the
// output's schema registered when the query is planned, the registry's wire
// format read and written in the test driver, and the refusals. With no
// registry (every other test), AVRO stays JSON.
#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/avro_codec.hpp"
#include "runtime/avro_wire.hpp"
#include "runtime/schema_registry.hpp"
#include "sql/parser.hpp"
#include "sql/planner.hpp"
#include "sql/test_driver.hpp"

namespace rivulet::sql {
namespace {

// The process's registry for one test, cleared after it.
struct UseRegistry {
  std::shared_ptr<MemorySchemaRegistry> registry = std::make_shared<MemorySchemaRegistry>();
  UseRegistry() { set_schema_registry(registry); }
  ~UseRegistry() { set_schema_registry(nullptr); }
};

const char* kViews = R"({"type": "record", "name": "PageView", "fields": [
    {"name": "viewtime", "type": "long"},
    {"name": "userid", "type": "string"},
    {"name": "pageid", "type": ["null", "string"], "default": null},
    {"name": "address", "type": {"type": "record", "name": "Address",
      "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}}]})";

std::string error_of(const Expected<bool>& r) {
  return r ? std::string("accepted") : r.error().message;
}

// `row` written with `schema` in the registry's wire format, under id `id`.
std::string datum_bytes(int id, const std::string& schema, const std::vector<Column>& columns,
                        const Value& row) {
  auto datum = avro::Datum::make(schema, columns);
  REQUIRE(datum.ok());
  auto body = (*datum)->encode(row);
  REQUIRE(body.ok());
  std::string out(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((id >> shift) & 0xff));
  return out + *body;
}

// A page view in the registry's wire format, written with the producer's
// own schema (id `id`).
std::string view_bytes(int id, int64_t time, const std::string& user, const Value& page,
                       const std::string& city, int32_t zip) {
  auto columns = avro::columns_of(kViews);
  REQUIRE(columns.ok());
  return datum_bytes(
      id, kViews, *columns,
      Value::structure({{"VIEWTIME", Value::int64(time)},
                        {"USERID", Value::string(user)},
                        {"PAGEID", page},
                        {"ADDRESS", Value::structure({{"CITY", Value::string(city)},
                                                      {"ZIP", Value::int32(zip)}})}}));
}

TEST_CASE("avro: columns come from the registry and the output's schema is registered",
          "[sql][avro]") {
  UseRegistry use;
  auto id = use.registry->register_schema("views-value", kViews);
  REQUIRE(id.ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM VIEWS (VIEWER STRING KEY) WITH (kafka_topic='views', value_format='AVRO');\n"
      "CREATE STREAM LYON WITH (kafka_topic='lyon', value_format='AVRO') AS\n"
      "  SELECT VIEWER, USERID, ADDRESS->ZIP AS ZIP, VIEWTIME * 2 AS T2, PAGEID\n"
      "  FROM VIEWS WHERE ADDRESS->CITY = 'Lyon';\n");
  REQUIRE(error_of(ran) == "accepted");
  const SourceInfo* views = engine.catalog().find("VIEWS");
  REQUIRE(views != nullptr);
  std::vector<std::string> columns;
  for (const Column& c : views->schema.columns)
    columns.push_back(c.name + " " + c.type->to_string());
  CHECK(columns == std::vector<std::string>{"VIEWER STRING", "VIEWTIME BIGINT", "USERID STRING",
                                            "PAGEID STRING",
                                            "ADDRESS STRUCT<CITY STRING, ZIP INTEGER>"});
  // Registered when planned, before any record.
  auto out = use.registry->latest("lyon-value");
  REQUIRE(out.ok());
  auto expected_out = avro::schema_for(engine.catalog().find("LYON")->schema.value_columns());
  CHECK(out->schema == expected_out);

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  d.pipe("views", std::string("k1"),
         view_bytes(*id, 1000, "u1", Value::string("p1"), "Lyon", 69001), 10);
  d.pipe("views", std::string("k2"), view_bytes(*id, 2000, "u2", Value(), "Oslo", 150), 11);
  d.pipe("views", std::string("k3"), view_bytes(*id, 3000, "u3", Value(), "Lyon", 69002), 12);
  d.pipe("views", std::string("k4"), std::string("{\"viewtime\": 4}"), 13);  // not Avro
  std::string unknown_id = view_bytes(*id, 5000, "u5", Value(), "Lyon", 1);
  unknown_id[4] = 99;  // a schema id the registry does not know
  d.pipe("views", std::string("k5"), unknown_id, 14);

  auto written = d.outputs("lyon");
  REQUIRE(written.size() == 2);
  auto reader =
      avro::Datum::make(out->schema, engine.catalog().find("LYON")->schema.value_columns());
  REQUIRE(reader.ok());
  std::vector<std::string> rows;
  for (const auto& r : written) {
    REQUIRE(r.value.has_value());
    REQUIRE(r.value->size() > 5);
    CHECK((*r.value)[0] == '\0');
    int written_id = 0;
    for (int i = 1; i < 5; ++i)
      written_id = (written_id << 8) | static_cast<unsigned char>((*r.value)[i]);
    CHECK(written_id == out->id);
    auto row = (*reader)->decode(std::string_view(*r.value).substr(5));
    REQUIRE(row.ok());
    rows.push_back(*r.key + " " + row->to_string());
  }
  CHECK(rows ==
        std::vector<std::string>{R"(k1 {"USERID":"u1","ZIP":69001,"T2":2000,"PAGEID":"p1"})",
                                 R"(k3 {"USERID":"u3","ZIP":69002,"T2":6000,"PAGEID":null})"});
  REQUIRE(d.data_errors().size() == 2);
  CHECK(d.data_errors()[0].error.message.find("not in the schema registry's wire format (AVRO)") !=
        std::string::npos);
  CHECK(d.data_errors()[1].error.message.find("schema id 99 (registry memory)") !=
        std::string::npos);
}

TEST_CASE("avro: VALUE_SCHEMA_ID picks a schema and the refusals name the statement",
          "[sql][avro]") {
  UseRegistry use;
  auto old_id = use.registry->register_schema("views-value", kViews);
  REQUIRE(
      use.registry
          ->register_schema("views-value",
                            R"({"type":"record","name":"V2","fields":[{"name":"x","type":"int"}]})")
          .ok());
  {
    SqlEngine engine;
    auto r = engine.execute_script(
        "CREATE STREAM OLD WITH (kafka_topic='views', value_format='AVRO', value_schema_id=" +
        std::to_string(*old_id) +
        ");\nCREATE STREAM NEW WITH (kafka_topic='views', format='AVRO');");
    REQUIRE(error_of(r) == "accepted");
    CHECK(engine.catalog().find("OLD")->schema.columns.size() == 4);
    CHECK(engine.catalog().find("NEW")->schema.columns.size() == 1);
    CHECK(engine.catalog().find("NEW")->schema.columns[0].name == "X");
  }
  SqlEngine engine;
  CHECK(error_of(engine.execute_script(
            "CREATE STREAM S WITH (kafka_topic='nope', value_format='AVRO');")) ==
        "line 1:15: Schema for message values on topic 'nope' could not be read from the schema "
        "registry memory (subject nope-value): subject 'nope-value' not found (registry: memory)");
  CHECK(error_of(
            engine.execute_script("CREATE STREAM S WITH (kafka_topic='views', value_format='AVRO', "
                                  "value_schema_id=77);")) ==
        "line 1:15: Schema for message values on topic 'views' could not be read from the schema "
        "registry memory (schema id 77): schema 77 not found (registry: memory)");
  REQUIRE(use.registry
              ->register_schema(
                  "odd-value",
                  R"({"type":"record","name":"O","fields":[{"name":"u","type":["int","string"]}]})")
              .ok());
  auto odd = error_of(
      engine.execute_script("CREATE STREAM S WITH (kafka_topic='odd', value_format='AVRO');"));
  CHECK(odd.rfind("line 1:15: The value schema of topic 'odd' (subject odd-value) has no SQL "
                  "columns: field U: Avro union",
                  0) == 0);
  CHECK(error_of(engine.execute_script("SET 'ksql.schema.registry.url' = 'http://x:1';")) ==
        "line 1:1: ksql.schema.registry.url cannot be SET: it is read when the command starts "
        "(--config, --set schema.registry.url=URL or RIVULET_SCHEMA_REGISTRY_URL)");
  // A column name Avro does not take: refused when planned, not per record.
  auto bad_name = error_of(engine.execute_script(
      "CREATE STREAM S2 WITH (kafka_topic='views', value_format='AVRO', value_schema_id=" +
      std::to_string(*old_id) +
      ");\nCREATE STREAM S3 WITH (kafka_topic='s3', value_format='AVRO') AS "
      "SELECT USERID AS `my col` FROM S2;"));
  CHECK(bad_name ==
        "line 2:66: the AVRO schema of subject 's3-value' is not valid Avro: invalid Avro schema: "
        "Invalid Avro identifier");
  CHECK_FALSE(use.registry->latest("s3-value").ok());
  // A table's key must come from somewhere: no key subject is an error.
  CHECK(error_of(
            engine.execute_script("CREATE TABLE T WITH (kafka_topic='views', format='AVRO');")) ==
        "line 1:14: Schema for message keys on topic 'views' could not be read from the schema "
        "registry memory (subject views-key): subject 'views-key' not found (registry: memory)");
}

// Bytes in the registry's wire format: `row` written with `schema`
// (registered under `subject`).
std::string wire(MemorySchemaRegistry& registry, const std::string& subject,
                 const std::string& schema, const std::vector<Column>& columns, const Value& row) {
  auto id = registry.register_schema(subject, schema);
  REQUIRE(id.ok());
  return datum_bytes(*id, schema, columns, row);
}

TEST_CASE("avro: keys in AVRO, a record key and an unwrapped one, inferred and written",
          "[sql][avro]") {
  UseRegistry use;
  auto& r = *use.registry;
  // A table keyed as Kafka Connect and Debezium key it: a record.
  const std::string key_record =
      R"({"type":"record","name":"Key","fields":[{"name":"id","type":"int"}]})";
  const std::string customer =
      R"({"type":"record","name":"Customer","fields":[{"name":"name","type":"string"}]})";
  REQUIRE(r.register_schema("customers-key", key_record).ok());
  REQUIRE(r.register_schema("customers-value", customer).ok());
  // A stream whose key is a bare long (ksqlDB's single key, unwrapped).
  REQUIRE(r.register_schema("clicks-key", R"("long")").ok());
  REQUIRE(r.register_schema("clicks-value", customer).ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE TABLE CUSTOMERS WITH (kafka_topic='customers', format='AVRO');\n"
      "CREATE STREAM CLICKS WITH (kafka_topic='clicks', format='AVRO');\n"
      "CREATE TABLE NAMES WITH (kafka_topic='names', format='AVRO') AS\n"
      "  SELECT ID, UCASE(NAME) AS UPPER_NAME FROM CUSTOMERS;\n"
      "CREATE STREAM CLICKED WITH (kafka_topic='clicked', format='AVRO') AS\n"
      "  SELECT ROWKEY, NAME FROM CLICKS;\n");
  REQUIRE(error_of(ran) == "accepted");
  auto described = [&](const char* name) {
    std::vector<std::string> out;
    for (const Column& c : engine.catalog().find(name)->schema.columns)
      out.push_back(c.name + (c.is_key ? " KEY " : " ") + c.type->to_string());
    return out;
  };
  CHECK(described("CUSTOMERS") == std::vector<std::string>{"ID KEY INTEGER", "NAME STRING"});
  CHECK(described("CLICKS") == std::vector<std::string>{"ROWKEY KEY BIGINT", "NAME STRING"});
  // The outputs' key schemas: one key column each, unwrapped.
  CHECK(nlohmann::json::parse(r.latest("names-key")->schema) ==
        nlohmann::json::parse(R"(["null","int"])"));
  CHECK(nlohmann::json::parse(r.latest("clicked-key")->schema) ==
        nlohmann::json::parse(R"(["null","long"])"));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  const std::vector<Column> key_cols = {{"ID", DataType::of(TypeKind::Int)}};
  const std::vector<Column> name_cols = {{"NAME", DataType::of(TypeKind::String)}};
  d.pipe(
      "customers",
      wire(r, "customers-key", key_record, key_cols, Value::structure({{"ID", Value::int32(7)}})),
      wire(r, "customers-value", customer, name_cols,
           Value::structure({{"NAME", Value::string("ada")}})),
      1);
  // The bare long's bytes are those of a record of one long field.
  const std::string long_key =
      R"({"type":"record","name":"K","fields":[{"name":"ROWKEY","type":"long"}]})";
  auto click_key = wire(r, "other", long_key, {{"ROWKEY", DataType::of(TypeKind::BigInt)}},
                        Value::structure({{"ROWKEY", Value::int64(-9)}}));
  const int bare_long = r.latest("clicks-key")->id;
  for (int i = 1; i < 5; ++i) click_key[i] = static_cast<char>((bare_long >> (8 * (4 - i))) & 0xff);
  d.pipe("clicks", click_key,
         wire(r, "clicks-value", customer, name_cols,
              Value::structure({{"NAME", Value::string("bob")}})),
         2);
  REQUIRE(d.data_errors().empty());

  auto read = [&](const OutputRecord& o, const std::string& topic) {
    auto schema = std::make_shared<Schema>(engine.catalog().find(topic)->schema);
    auto k = make_avro_key_codec(schema, use.registry, key_subject(o.topic))->decode(*o.key);
    auto v = make_avro_codec(schema, use.registry, value_subject(o.topic))->decode(*o.value);
    REQUIRE(k.ok());
    REQUIRE(v.ok());
    return k->to_string() + " " + v->to_string();
  };
  auto names = d.outputs("names");
  REQUIRE(names.size() == 1);
  CHECK(read(names[0], "NAMES") == R"(7 {"UPPER_NAME":"ADA"})");
  auto clicked = d.outputs("clicked");
  REQUIRE(clicked.size() == 1);
  CHECK(read(clicked[0], "CLICKED") == R"(-9 {"NAME":"bob"})");
  // Written with the registered key schema's id.
  int written = 0;
  for (int i = 1; i < 5; ++i)
    written = (written << 8) | static_cast<unsigned char>((*names[0].key)[i]);
  CHECK(written == r.latest("names-key")->id);
}

TEST_CASE("avro: WRAP_SINGLE_VALUE=false reads and writes a bare value", "[sql][avro]") {
  UseRegistry use;
  auto& r = *use.registry;
  // A producer writes bare doubles (Avro "double", not a record).
  auto producer = r.register_schema("amounts-value", R"("double")");
  REQUIRE(producer.ok());
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM AMOUNTS (K STRING KEY, AMOUNT DOUBLE) WITH (kafka_topic='amounts',\n"
      "  value_format='AVRO', WRAP_SINGLE_VALUE=false);\n"
      "CREATE STREAM DOUBLED WITH (kafka_topic='doubled', WRAP_SINGLE_VALUE=false) AS\n"
      "  SELECT K, AMOUNT * 2 AS TWICE FROM AMOUNTS WHERE AMOUNT > 1;\n");
  REQUIRE(error_of(ran) == "accepted");
  // Registered when planned: the column's type alone, nullable.
  auto out = r.latest("doubled-value");
  REQUIRE(out.ok());
  CHECK(nlohmann::json::parse(out->schema) == nlohmann::json::parse(R"(["null","double"])"));

  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  auto prefixed = [](int id, const std::string& body) {
    std::string bytes(1, '\0');
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<char>((id >> shift) & 0xff));
    return bytes + body;
  };
  // 1.5 and 0.5 as Avro doubles: 8 bytes, little-endian.
  d.pipe("amounts", std::string("a"), prefixed(*producer, std::string("\0\0\0\0\0\0\xf8\x3f", 8)),
         1);
  d.pipe("amounts", std::string("b"), prefixed(*producer, std::string("\0\0\0\0\0\0\xe0\x3f", 8)),
         2);
  d.pipe("amounts", std::string("c"), std::string("{\"AMOUNT\": 4.0}"), 3);  // not the wire format
  auto written = d.outputs("doubled");
  REQUIRE(written.size() == 1);
  CHECK(written[0].key == std::string("a"));
  // The union's second branch (zigzag 1: 0x02), then 3.0.
  CHECK(written[0].value == prefixed(out->id, std::string("\x02\0\0\0\0\0\0\x08\x40", 9)));
  auto values = std::make_shared<Schema>(engine.catalog().find("DOUBLED")->schema);
  auto reader = make_avro_bare_value_codec(values, use.registry, "doubled-value");
  CHECK(*reader->decode(*written[0].value) == Value::float64(3.0));
  REQUIRE(d.data_errors().size() == 1);
  CHECK(d.data_errors()[0].error.message.find("wire format (AVRO)") != std::string::npos);
}

TEST_CASE("avro: columns inferred through schema references", "[sql][avro]") {
  UseRegistry use;
  auto& r = *use.registry;
  const std::string address = R"({"type":"record","name":"Address","namespace":"shop",)"
                              R"("fields":[{"name":"city","type":"string"}]})";
  REQUIRE(r.register_schema("shop.Address", address).ok());
  REQUIRE(r.register_with_references(
               "orders-value",
               R"({"type":"record","name":"Order","namespace":"shop","fields":[)"
               R"({"name":"id","type":"long"},{"name":"ship","type":"Address"}]})",
               "AVRO", {{"shop.Address", "shop.Address", 1}})
              .ok());
  SqlEngine engine;
  REQUIRE(error_of(engine.execute_script(
              "CREATE STREAM ORDERS WITH (kafka_topic='orders', value_format='AVRO');")) ==
          "accepted");
  std::vector<std::string> got;
  for (const Column& c : engine.catalog().find("ORDERS")->schema.columns)
    got.push_back(c.name + " " + c.type->to_string());
  CHECK(got == std::vector<std::string>{"ID BIGINT", "SHIP STRUCT<CITY STRING>"});
}

// ksqlDB's VALUE_SCHEMA_ID is the schema records are written with too: an
// INSERT INTO a stream declared with one, and a CREATE ... AS SELECT given
// one, write with that schema (not the subject's latest, and nothing
// registered); a schema without a field for a column is refused.
TEST_CASE("avro: VALUE_SCHEMA_ID is the schema the output is written with", "[sql][avro]") {
  UseRegistry use;
  auto& r = *use.registry;
  const std::string old_schema =
      R"({"type":"record","name":"Sale","fields":[{"name":"item","type":"string"},)"
      R"({"name":"qty","type":"long"},{"name":"note","type":["null","string"],"default":null}]})";
  auto old_id = r.register_schema("sales-value", old_schema);
  REQUIRE(old_id.ok());
  auto newer = r.register_schema(
      "sales-value", R"({"type":"record","name":"Sale","fields":[{"name":"item","type":"string"},)"
                     R"({"name":"qty","type":"long"},{"name":"n","type":"int","default":0}]})");
  REQUIRE(newer.ok());
  const std::string id = std::to_string(*old_id);
  SqlEngine engine;
  auto ran = engine.execute_script(
      "CREATE STREAM SRC (K STRING KEY, ITEM STRING, QTY BIGINT)\n"
      "  WITH (kafka_topic='src', value_format='JSON');\n"
      "CREATE STREAM SALES (K STRING KEY) WITH (kafka_topic='sales', value_format='AVRO',\n"
      "  VALUE_SCHEMA_ID=" +
      id +
      ");\n"
      "INSERT INTO SALES SELECT K, ITEM, QTY, CAST(NULL AS STRING) AS NOTE FROM SRC;\n"
      "CREATE STREAM COPY WITH (kafka_topic='copy', value_format='AVRO', VALUE_SCHEMA_ID=" +
      id + ") AS\n  SELECT K, ITEM, QTY FROM SRC;\n");
  REQUIRE(error_of(ran) == "accepted");
  CHECK(r.versions("sales-value") == std::vector<int>{1, 2});  // nothing registered
  CHECK(r.versions("copy-value").empty());
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  auto& d = **driver;
  d.pipe("src", std::string("k"), std::string(R"({"ITEM":"pen","QTY":3})"), 1);
  for (const char* topic : {"sales", "copy"}) {
    INFO(topic);
    auto out = d.outputs(topic);
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].value.has_value());
    CHECK(wire_schema_id(*out[0].value) == *old_id);
    auto columns = avro::columns_of(old_schema);
    REQUIRE(columns.ok());
    auto read =
        make_avro_codec(std::make_shared<Schema>(Schema{*columns}), use.registry, "sales-value")
            ->decode(*out[0].value);
    REQUIRE(read.ok());
    CHECK(read->to_string() == R"({"ITEM":"pen","QTY":3,"NOTE":null})");
  }
  REQUIRE(d.data_errors().empty());

  // A schema without a field the query writes.
  SqlEngine refused;
  CHECK(error_of(refused.execute_script(
            "CREATE STREAM SRC (K STRING KEY, ITEM STRING, PRICE DOUBLE)\n"
            "  WITH (kafka_topic='src', value_format='JSON');\n"
            "CREATE STREAM COPY WITH (kafka_topic='copy', value_format='AVRO', VALUE_SCHEMA_ID=" +
            id + ") AS\n  SELECT K, ITEM, PRICE FROM SRC;\n")) ==
        "line 4:3: VALUE_SCHEMA_ID=" + id +
            ": the schema has no field for column PRICE, which the query writes");
}

TEST_CASE("avro: declared columns read a newer schema's records by name", "[sql][avro]") {
  UseRegistry use;
  SqlEngine engine;
  // Declared, not inferred: the columns the query needs, in another order
  // and case than the producer's fields.
  auto r = engine.execute_script(
      "CREATE STREAM VIEWS (USERID STRING, VIEWTIME BIGINT, COUNTRY STRING)\n"
      "  WITH (kafka_topic='views', value_format='AVRO');\n"
      "CREATE STREAM OUT WITH (kafka_topic='out', value_format='JSON') AS\n"
      "  SELECT USERID, VIEWTIME, COUNTRY FROM VIEWS;");
  REQUIRE(error_of(r) == "accepted");
  CHECK_FALSE(use.registry->latest("out-value").ok());  // JSON: nothing registered
  auto id = use.registry->register_schema("views-value", kViews);
  auto driver = TestDriver::create(engine.topology());
  REQUIRE(driver.ok());
  (*driver)->pipe("views", std::nullopt, view_bytes(*id, 7, "u7", Value(), "Rome", 1), 1);
  auto out = (*driver)->outputs("out");
  REQUIRE(out.size() == 1);
  CHECK(*out[0].value == R"({"USERID":"u7","VIEWTIME":7,"COUNTRY":null})");

  // INSERT INTO ... VALUES writes the stream's own schema (registered as
  // the subject's next version), read back like any record.
  REQUIRE(error_of(engine.execute_script(
              "INSERT INTO VIEWS (USERID, VIEWTIME, COUNTRY) VALUES ('u9', 9, 'fr');")) ==
          "accepted");
  REQUIRE(engine.inserts().size() == 1);
  const std::string& inserted = *engine.inserts()[0].value;
  REQUIRE(inserted.size() > 5);
  CHECK(inserted[0] == '\0');
  auto latest = use.registry->latest("views-value");
  REQUIRE(latest.ok());
  CHECK(latest->version == 2);
  CHECK(latest->schema == avro::schema_for(engine.catalog().find("VIEWS")->schema.value_columns()));
  (*driver)->pipe("views", std::nullopt, inserted, 2);
  out = (*driver)->outputs("out");
  REQUIRE(out.size() == 2);
  CHECK(*out[1].value == R"({"USERID":"u9","VIEWTIME":9,"COUNTRY":"fr"})");
}

}  // namespace
}  // namespace rivulet::sql
