#include "runtime/config.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

using rivulet::Config;

TEST_CASE("defaults come from the key table", "[runtime][config]") {
  Config c;
  CHECK(c.get("processing.guarantee") == "at_least_once");
  CHECK(c.get_int("checkpoint.interval.ms") == 5000);
  CHECK(rivulet::find_config_key("commit.interval.ms") != nullptr);
}

TEST_CASE("unknown keys and bad values are rejected naming the key", "[runtime][config]") {
  auto unknown = Config::from_map({{"comit.interval.ms", "5"}});
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains("comit.interval.ms"));
  auto bad_enum = Config::from_map({{"processing.guarantee", "exactly_once"}});
  REQUIRE_FALSE(bad_enum.ok());
  CHECK_THAT(bad_enum.error().message,
             Catch::Contains("at_least_once") && Catch::Contains("exactly_once_v2"));
  auto bad_int = Config::from_map({{"commit.interval.ms", "soon"}});
  REQUIRE_FALSE(bad_int.ok());
  CHECK_THAT(bad_int.error().message, Catch::Contains("commit.interval.ms"));
  CHECK_FALSE(Config::from_map({{"commit.interval.ms", "0"}}).ok());
  CHECK(Config::from_map({{"kafka.consumer.fetch.min.bytes", "1"}}).ok());
}

TEST_CASE("application.id takes only what a topic name may hold", "[runtime][config]") {
  // It prefixes the repartition topics and the dead-letter topic.
  for (const char* good : {"shop", "shop.orders_v2-eu", "A1"})
    CHECK(Config::from_map({{"application.id", good}}).ok());
  for (const std::string& bad : std::vector<std::string>{"", "my app", "shop/orders", "caf\xc3\xa9",
                                                         std::string(201, 'a')}) {
    auto c = Config::from_map({{"application.id", bad}});
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains("application.id") &&
                                      Catch::Contains("letters, digits, '.', '_' or '-'"));
  }
}

TEST_CASE("file, environment and --set apply in order", "[runtime][config]") {
  std::string path = std::string(RIVULET_BINARY_DIR) + "/config_test.properties";
  {
    std::ofstream f(path);
    f << "# comment\napplication.id = shop\ncommit.interval.ms=200\n"
         "kafka.producer.linger.ms: 7\nstate.dir=/tmp/a\\\n/b\n";
  }
  ::setenv("RIVULET_COMMIT_INTERVAL_MS", "300", 1);
  auto c = Config::load(path, {"application.id=shop2"});
  ::unsetenv("RIVULET_COMMIT_INTERVAL_MS");
  REQUIRE(c.ok());
  CHECK(c->get("application.id") == "shop2");
  CHECK(c->get_int("commit.interval.ms") == 300);
  CHECK(c->get("state.dir") == "/tmp/a/b");
  CHECK(c->kafka_properties("producer").at("linger.ms") == "7");
  std::ofstream(path) << "no separator here\n";
  auto broken = Config::load(path, {});
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().message, Catch::Contains(":1:"));
  CHECK_FALSE(Config::load("", {"novalue"}).ok());
}

TEST_CASE("is_set tells a key that was set from one that is only defaulted", "[config]") {
  Config c;
  CHECK_FALSE(c.is_set("commit.interval.ms"));
  CHECK(c.get("commit.interval.ms") == "1000");
  auto set = Config::from_map({{"commit.interval.ms", "1000"}});
  REQUIRE(set.ok());
  CHECK(set->is_set("commit.interval.ms"));  // set to the default value: still set
  CHECK_FALSE(set->is_set("processing.guarantee"));
}

TEST_CASE("docs/configuration.md holds the table that rivulet config --markdown prints",
          "[runtime][config]") {
  // The reference says its table is generated; a key's description changed
  // on one side only fails here, with the line that differs.
  std::ifstream in(std::string(RIVULET_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE(in.good());
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string table = Config::describe_keys(true);
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    INFO(line);
    CHECK(doc.find(line + "\n") != std::string::npos);
  }
  CHECK(doc.find(table) != std::string::npos);  // and in one piece, in this order
}
