// The control plane over TLS (caf_openssl): a coordinator and a node with
// certificates of a CA made here with the openssl command-line tool join and
// run a query; a node (and a client) without TLS are refused.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "local_cluster.hpp"

using rivulet::testing::LocalCluster;
using rivulet::testing::run_command;

namespace {

const char* kSql = R"sql(
CREATE STREAM ORDERS (UID STRING KEY, ORDER_ID BIGINT, AMOUNT DOUBLE) WITH (kafka_topic='orders', value_format='JSON');
CREATE TABLE COUNTS AS SELECT UID, COUNT(*) AS N FROM ORDERS GROUP BY UID;
)sql";

void sh(const std::string& command) {
  auto [rc, out] = run_command(command + " 2>&1", "", 60);
  INFO(command << ": " << out);
  REQUIRE(rc == 0);
}

}  // namespace

TEST_CASE("TLS control plane: nodes with the cluster CA's certificates join, a plain node is refused",
          "[integration][cluster][tls]") {
  LocalCluster c({"orders:4"});
  const std::string d = c.dir;
  sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + d + "/ca.key -out " + d +
     "/ca.pem -days 2 -subj /CN=rivulet-test-ca");
  sh("openssl req -newkey rsa:2048 -nodes -keyout " + d + "/proc.key -out " + d +
     "/proc.csr -subj /CN=rivulet-node");
  sh("openssl x509 -req -in " + d + "/proc.csr -CA " + d + "/ca.pem -CAkey " + d +
     "/ca.key -CAcreateserial -out " + d + "/proc.pem -days 2");
  const std::string tls_lines = "cluster.tls.certificate=" + d + "/proc.pem\n" +
                                "cluster.tls.key=" + d + "/proc.key\n" + "cluster.tls.ca=" + d +
                                "/ca.pem\n";
  std::ifstream plain_in(c.config_file);
  std::string plain((std::istreambuf_iterator<char>(plain_in)), std::istreambuf_iterator<char>());
  const std::string tls_config = d + "/tls.properties";
  std::ofstream(tls_config) << plain << tls_lines;
  const std::string tls_env = "env RIVULET_CLUSTER_TLS_CERTIFICATE=" + d + "/proc.pem RIVULET_CLUSTER_TLS_KEY=" +
                              d + "/proc.key RIVULET_CLUSTER_TLS_CA=" + d + "/ca.pem ";

  c.start_coordinator(tls_config);
  c.start_node("n1", tls_config);
  c.start_node("plain", c.config_file);  // no TLS: cannot join
  auto [src, sout] = run_command(rivulet::testing::rivulet_binary() + " submit " + [&] {
    std::ofstream(d + "/counts.sql") << kSql;
    return d + "/counts.sql";
  }() + " --coordinator " + c.address + " --config " + tls_config + " 2>&1", "", 60);
  INFO(sout);
  REQUIRE(src == 0);

  auto tls_status = [&] {
    auto [rc, out] = run_command(tls_env + rivulet::testing::rivulet_binary() +
                                     " status --json --coordinator " + c.address, "", 20);
    auto j = nlohmann::json::parse(out, nullptr, false);
    return rc == 0 && !j.is_discarded() ? j : nlohmann::json();
  };
  nlohmann::json s;
  bool running = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (!running && std::chrono::steady_clock::now() < deadline) {
    s = tls_status();
    if (!s.is_null() && s["tasks"].size() == 4) {
      running = true;
      for (const auto& t : s["tasks"]) running = running && t["state"] == "running" && t["owner"] == "n1";
    }
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(s.dump());
  REQUIRE(running);
  // The plain node never joined (it keeps trying; the coordinator never saw a hello).
  REQUIRE(s["nodes"].size() == 1);
  CHECK(s["nodes"][0]["name"] == "n1");

  // Data flows, and an interactive query works over TLS.
  c.kcat_produce("orders", "u1|{\"ORDER_ID\": 1, \"AMOUNT\": 1}\nu1|{\"ORDER_ID\": 2, \"AMOUNT\": 1}\n");
  nlohmann::json j;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto [qrc, qout] = run_command(rivulet::testing::rivulet_binary() + " query --coordinator " +
                                       c.address + " COUNTS u1 --json --config " + tls_config,
                                   "", 30);
    j = nlohmann::json::parse(qout, nullptr, false);
    if (qrc == 0 && !j.is_discarded() && j["row"]["N"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(j.dump());
  CHECK(j["row"]["N"] == 2);
  CHECK(j["node"] == "n1");

  // A client without TLS is refused too.
  auto [prc, pout] = run_command(rivulet::testing::rivulet_binary() + " status --coordinator " +
                                     c.address + " 2>&1", "", 30);
  INFO(pout);
  CHECK(prc == 1);
  CHECK(pout.find("cannot reach the coordinator") != std::string::npos);
  // The plain node is still running, still outside.
  CHECK(::kill(c.nodes["plain"]->pid(), 0) == 0);
  CHECK(tls_status()["nodes"].size() == 1);
}
