// A cluster node's /health: "starting" (503) while tasks assigned to the
// node are still being restored, "ready" (200) once all run.
#include <catch2/catch.hpp>
#include <atomic>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "cluster/node_http.hpp"

using namespace rivulet;

TEST_CASE("a node's /health says starting until every assigned task runs", "[cluster][http]") {
  std::atomic<size_t> starting{2};
  auto http = cluster::NodeHttp::start(
      "127.0.0.1:0", "n1", [] { return std::vector<std::shared_ptr<Application>>{}; },
      [&] { return starting.load(); });
  REQUIRE(http.ok());
  const std::string address = (*http)->address();
  httplib::Client client("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto res = client.Get("/health");
  REQUIRE(res);
  CHECK(res->status == 503);
  auto j = nlohmann::json::parse(res->body);
  CHECK(j["status"] == "starting");
  CHECK(j["starting_tasks"] == 2);
  CHECK(j["node"] == "n1");

  starting = 0;
  res = client.Get("/health");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(nlohmann::json::parse(res->body)["status"] == "ready");
}

TEST_CASE("a node's /health says failed, with the reason, when an assigned task cannot run",
          "[cluster][http]") {
  std::atomic<size_t> starting{1};
  std::atomic<bool> broken{true};
  auto http = cluster::NodeHttp::start(
      "127.0.0.1:0", "n1", [] { return std::vector<std::shared_ptr<Application>>{}; },
      [&] { return starting.load(); },
      [&] {
        std::vector<cluster::NodeHttp::Failure> out;
        if (broken) out.push_back({"shop", 3, 7, "query shop: cannot open state.dir"});
        return out;
      });
  REQUIRE(http.ok());
  const std::string address = (*http)->address();
  httplib::Client client("127.0.0.1", std::stoi(address.substr(address.rfind(':') + 1)));
  auto res = client.Get("/health");
  REQUIRE(res);
  CHECK(res->status == 503);
  auto j = nlohmann::json::parse(res->body);
  CHECK(j["status"] == "failed");  // not "starting", though a task is still starting
  REQUIRE(j["failed_tasks"].size() == 1);
  CHECK(j["failed_tasks"][0]["task"] == "shop-3");
  CHECK(j["failed_tasks"][0]["error"] == "query shop: cannot open state.dir");

  broken = false;
  starting = 0;
  res = client.Get("/health");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(nlohmann::json::parse(res->body)["status"] == "ready");
}
