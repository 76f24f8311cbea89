// File sources under `rivulet run` on the embedded broker (`rivulet broker`
// in its own process; kcat reads the topics back independently): a stream
// file (JSON lines, tailed) joined to a CSV table file; the table file is
// rewritten (one key changed, one removed) and later orders see it; a bad
// line reaches the dead-letter topic with file:line; a restart appends only
// the lines written since, and writes no table row again.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/child_process.hpp"

using rivulet::testing::ChildProcess;
using rivulet::testing::run_command;

namespace {

struct Rec {
  std::string key, value, headers;
};

std::vector<Rec> read_topic(const std::string& bootstrap, const std::string& topic) {
  auto [rc, out] = run_command("kcat -b " + bootstrap + " -C -t " + topic +
                                   " -o beginning -e -q -f '%k\\t%s\\t%h\\n'",
                               "", 60);
  std::vector<Rec> records;
  if (rc != 0) return records;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto a = line.find('\t');
    auto b = line.find('\t', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    records.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return records;
}

template <typename Pred>
bool eventually(Pred pred, int tries = 120) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

void write_file(const std::string& path, const std::string& text, bool append = false) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  out << text;
}

std::string order(int i, const char* user) {
  return R"({"OID": "o)" + std::to_string(i) + R"(", "USER_ID": ")" + user +
         R"(", "AMOUNT": )" + std::to_string(i) + "}\n";
}

// enriched: OID -> NAME ("" for null).
std::map<std::string, std::string> names(const std::vector<Rec>& records) {
  std::map<std::string, std::string> out;
  for (const auto& r : records) {
    auto v = nlohmann::json::parse(r.value);
    out[v["OID"].get<std::string>()] = v["NAME"].is_null() ? "" : v["NAME"].get<std::string>();
  }
  return out;
}

}  // namespace

TEST_CASE("rivulet run: a stream file joined to a CSV table file that changes", "[integration][sql]") {
  auto broker = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "broker"});
  REQUIRE(broker.has_value());
  auto bootstrap = broker->read_line();
  REQUIRE(bootstrap.has_value());

  std::string dir = (std::filesystem::temp_directory_path() / "rivulet-file-source-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  std::string users = dir + "/users.csv", orders = dir + "/orders.json", app = dir + "/app.sql";
  write_file(users, "id,name\nu1,alice\nu2,bob\nu3\nu3,carol\n");  // line 4 is bad
  write_file(orders, order(1, "u1") + order(2, "u2") + order(3, "u3"));
  write_file(app,
             "SET 'application.id' = 'file-source-test';\n"
             "SET 'commit.interval.ms' = '100';\n"
             "SET 'source.file.poll.ms' = '100';\n"
             "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING)\n"
             "  WITH (source='file://" + users + "', value_format='DELIMITED', partitions=2);\n"
             "CREATE STREAM ORDERS (OID STRING KEY, USER_ID STRING, AMOUNT INT)\n"
             "  WITH (source='file://" + orders + "', value_format='JSON', partitions=2);\n"
             "CREATE STREAM ENRICHED WITH (kafka_topic='enriched', value_format='JSON') AS\n"
             "  SELECT O.USER_ID, O.OID, U.NAME FROM ORDERS O LEFT JOIN USERS U ON O.USER_ID = U.ID;\n");
  auto start = [&] {
    auto run = ChildProcess::spawn({rivulet::testing::rivulet_binary(), "run", app, "--bootstrap",
                                    *bootstrap, "--set", "state.dir=" + dir + "/state"});
    REQUIRE(run.has_value());
    auto line = run->read_line();
    REQUIRE(line.has_value());
    CHECK(line->rfind("running 1 query from " + app, 0) == 0);
    return std::move(*run);
  };
  auto run = start();
  std::map<std::string, std::string> got;
  REQUIRE(eventually([&] { return (got = names(read_topic(*bootstrap, "enriched"))).size() >= 3; }));
  CHECK(got == std::map<std::string, std::string>{{"o1", "alice"}, {"o2", "bob"}, {"o3", "carol"}});
  // The bad line went to the dead-letter topic with its file and line.
  auto dlq = read_topic(*bootstrap, "file-source-test-dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].value == "u3");
  CHECK(dlq[0].headers.find("rivulet.source.file=" + users) != std::string::npos);
  CHECK(dlq[0].headers.find("rivulet.source.line=4") != std::string::npos);

  // u2 renamed, u3 removed: the table's topic gets one upsert and one tombstone.
  write_file(users, "id,name\nu1,alice\nu2,bobby\n");
  REQUIRE(eventually([&] { return read_topic(*bootstrap, "USERS").size() == 5; }));
  auto table = read_topic(*bootstrap, "USERS");
  int tombstones = 0;
  for (const auto& r : table) tombstones += r.key == "u3" && r.value.empty() ? 1 : 0;
  CHECK(tombstones == 1);
  write_file(orders, order(4, "u2") + order(5, "u3"), true);
  REQUIRE(eventually([&] { return (got = names(read_topic(*bootstrap, "enriched"))).size() >= 5; }));
  CHECK(got["o4"] == "bobby");
  CHECK(got["o5"] == "");
  CHECK(run.stop(SIGTERM, std::chrono::seconds(30)) == 0);

  // Restart: one more line; nothing written twice.
  write_file(orders, order(6, "u1"), true);
  auto again = start();
  REQUIRE(eventually([&] { return read_topic(*bootstrap, "enriched").size() >= 6; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(read_topic(*bootstrap, "ORDERS").size() == 6);
  CHECK(read_topic(*bootstrap, "USERS").size() == 5);
  CHECK(read_topic(*bootstrap, "enriched").size() == 6);
  CHECK(read_topic(*bootstrap, "file-source-test-dlq").size() == 1);
  CHECK(names(read_topic(*bootstrap, "enriched"))["o6"] == "alice");
  CHECK(again.stop(SIGTERM, std::chrono::seconds(30)) == 0);
  CHECK(broker->stop(SIGTERM) == 0);
  std::filesystem::remove_all(dir);
}
