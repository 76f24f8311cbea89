#include "cluster/client.hpp"

#include <algorithm>
#include <caf/io/all.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cluster/transport.hpp"

namespace rivulet::cluster {

namespace {

// With the TLS settings of `given`, or else of the environment
// (RIVULET_CLUSTER_TLS_*).
template <typename Result, typename Ask>
Expected<Result> with_coordinator(const std::string& address, const Config* given, Ask ask) {
  if (given != nullptr) return ask_coordinator<Result>(address, *given, ask);
  auto config = Config::load("", {});
  if (!config) return config.error();
  return ask_coordinator<Result>(address, *config, ask);
}

}  // namespace

Expected<std::string> fetch_status(const std::string& coordinator, const Config* config) {
  // A status request is read-only, so one that times out is asked again,
  // on a new connection. Under ThreadSanitizer, requests sent while nodes
  // were connecting went unanswered for their whole timeout while the
  // coordinator answered later ones (tests/README.md); a client must not
  // hang on one such request.
  constexpr int kAttempts = 3;
  Expected<std::string> status = Error::fatal("no status request made");
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    bool timed_out = false;
    status = with_coordinator<std::string>(
        coordinator, config, [&](caf::scoped_actor& self, const coordinator_actor& c,
                                 Expected<std::string>& result, caf::actor_system& system) {
          self->request(c, std::chrono::seconds(3 * kClientSlowdown), status_atom::value)
              .receive([&](const std::string& json) { result = json; },
                       [&](caf::error& err) {
                         timed_out = err == caf::sec::request_timeout;
                         result = Error::fatal("status request failed: " + system.render(err));
                       });
        });
    if (status || !timed_out) break;
  }
  return status;
}

namespace {

// A request the coordinator answers with "" (done) or its refusal, which
// becomes an error after `refused`; `what` names a failed request.
template <typename... Message>
Expected<bool> ask_or_refused(const std::string& coordinator, const Config* config,
                              const std::string& what, const std::string& refused,
                              const Message&... message) {
  return with_coordinator<bool>(
      coordinator, config,
      [&](caf::scoped_actor& self, const coordinator_actor& c, Expected<bool>& result,
          caf::actor_system& system) {
        self->request(c, std::chrono::seconds(10 * kClientSlowdown), message...)
            .receive(
                [&](const std::string& refusal) {
                  if (refusal.empty()) {
                    result = true;
                  } else {
                    result = Error::fatal(refused + refusal);
                  }
                },
                [&](caf::error& err) {
                  result = Error::fatal(what + " failed: " + system.render(err));
                });
      });
}

}  // namespace

Expected<bool> submit_query(const std::string& coordinator, const QueryDef& query,
                            const std::string& secret, const Config* config) {
  return ask_or_refused(coordinator, config, "submit",
                        "the coordinator refused the query: ", submit_atom::value, query, secret);
}

Expected<bool> terminate_query(const std::string& coordinator, const std::string& name,
                               const std::string& secret, const Config* config) {
  return ask_or_refused(coordinator, config, "terminate",
                        "the coordinator refused: ", terminate_atom::value, name, secret);
}

Expected<bool> pause_query(const std::string& coordinator, const std::string& name, bool paused,
                           const std::string& secret, const Config* config) {
  return ask_or_refused(coordinator, config, paused ? "pause" : "resume",
                        "the coordinator refused: ", pause_atom::value, name, paused, secret);
}

Expected<std::vector<std::string>> pause_all(const std::string& coordinator, bool paused,
                                             const std::string& secret, const Config* config) {
  auto listed = [&]() -> Expected<std::vector<std::string>> {
    auto status = fetch_status(coordinator, config);
    if (!status) return status.error();
    auto j = nlohmann::json::parse(*status, nullptr, false);
    if (!j.is_object()) return Error::fatal("the coordinator's status is not JSON: " + *status);
    std::vector<std::string> names;
    for (const auto& q : j["queries"])
      if (!q.value("terminating", false)) names.push_back(q.value("name", ""));
    return names;
  };
  auto names = listed();
  if (!names) return names.error();
  std::vector<std::string> done;
  for (const auto& name : *names) {
    auto asked = pause_query(coordinator, name, paused, secret, config);
    if (asked) {
      done.push_back(name);
      continue;
    }
    // Refused: gone since the listing, or a real refusal (the secret).
    auto now = listed();
    if (!now) return now.error();
    if (std::find(now->begin(), now->end(), name) != now->end()) return asked.error();
  }
  return done;
}

Expected<bool> wait_terminated(const std::string& coordinator, const std::string& name,
                               const Config* config, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto status = fetch_status(coordinator, config);
    auto j = status ? nlohmann::json::parse(*status, nullptr, false) : nlohmann::json();
    bool listed = !j.is_object();  // not known yet
    std::string held;
    if (j.is_object()) {
      for (const auto& q : j["queries"]) listed = listed || q.value("name", "") == name;
      for (const auto& t : j["tasks"])
        if (t.value("query", "") == name && !t.value("owner", "").empty())
          held += (held.empty() ? "" : ", ") + t.value("task", "") + " on " + t.value("owner", "");
    }
    if (!listed) return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return Error::fatal("query " + name + " is still terminating after " +
                          std::to_string(timeout.count() / 1000) + " s" +
                          (held.empty() ? std::string() : ": " + held + " not released yet") +
                          " (rivulet status shows it)");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string render_status_table(const std::string& status_json) {
  auto j = nlohmann::json::parse(status_json, nullptr, false);
  if (j.is_discarded()) return status_json + "\n";
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-8s %-16s %-8s %s\n", "NODE", "PID", "HOST", "STATE",
                "TASKS");
  out << line;
  for (const auto& n : j["nodes"]) {
    std::snprintf(line, sizeof line, "%-16s %-8lld %-16s %-8s %d\n",
                  n["name"].get<std::string>().c_str(), n["pid"].get<long long>(),
                  n["host"].get<std::string>().c_str(), n["state"].get<std::string>().c_str(),
                  n["tasks"].get<int>());
    out << line;
  }
  out << "\n";
  std::snprintf(line, sizeof line, "%-24s %-16s %-10s %-8s %-10s %-10s %-10s %s\n", "TASK",
                "OWNER", "STATE", "EPOCH", "LAG", "IN/S", "OUT/S", "CHECKPOINT AGE");
  out << line;
  // A rate is -1 until two reports a second apart measured it.
  auto rate = [](const nlohmann::json& t, const char* field) {
    double r = t.value(field, -1.0);
    if (r < 0) return std::string("-");
    char text[32];
    std::snprintf(text, sizeof text, r < 10 ? "%.1f" : "%.0f", r);
    return std::string(text);
  };
  for (const auto& t : j["tasks"]) {
    long long age = t["checkpoint_age_ms"].get<long long>();
    std::string age_text = age < 0 ? "-" : std::to_string(age) + " ms";
    std::snprintf(line, sizeof line, "%-24s %-16s %-10s %-8lld %-10lld %-10s %-10s %s\n",
                  t["task"].get<std::string>().c_str(), t["owner"].get<std::string>().c_str(),
                  t["state"].get<std::string>().c_str(), t["epoch"].get<long long>(),
                  t["lag"].get<long long>(), rate(t, "records_in_per_s").c_str(),
                  rate(t, "records_out_per_s").c_str(), age_text.c_str());
    out << line;
    if (t.contains("error")) out << "    error: " << t["error"].get<std::string>() << "\n";
  }
  for (const auto& q : j["queries"]) {
    if (q.value("terminating", false))
      out << "\nquery " << q.value("name", "") << ": terminating (its tasks are being released)\n";
    if (q.value("paused", false))
      out << "\nquery " << q.value("name", "") << ": paused (rivulet resume " << q.value("name", "")
          << " goes on)\n";
  }
  return out.str();
}

}  // namespace rivulet::cluster
