#include "sql/app_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "sql/planner.hpp"
#include "sql/text.hpp"

namespace rivulet::sql {
namespace {

bool is_config_key(const std::string& key) {
  return find_config_key(key) != nullptr || key.rfind("kafka.consumer.", 0) == 0 ||
         key.rfind("kafka.producer.", 0) == 0;
}

}  // namespace

Expected<PlannedApp> plan_script(std::string_view sql, const Variables& variables) {
  auto planned = std::make_shared<SqlEngine>();
  SqlEngine& engine = *planned;
  for (const auto& [name, value] : variables) engine.define(name, value);
  auto ran = engine.execute_script(sql);
  if (!ran) return ran.error();
  if (engine.query_count() == 0)
    return Error::fatal(
        "no persistent query to run: the file needs a CREATE STREAM|TABLE ... AS SELECT, an "
        "INSERT INTO ... SELECT or a CREATE SOURCE TABLE");
  auto valid = engine.topology().validate();
  if (!valid) return valid.error();
  PlannedApp app;
  app.topology = engine.topology();
  app.queries = engine.query_count();
  app.properties = engine.properties();
  for (const auto& [k, v] : app.properties)
    if (!is_config_key(k) && !is_offset_reset_key(k) && !is_planner_property(k))
      app.ignored.push_back(k);
  app.sinks = app.topology.sink_topics();
  app.external_sources = external_sources(engine.catalog(), app.topology);
  app.declared_topics = declared_topics(engine.catalog(), app.topology);
  app.inserts = engine.inserts();
  app.explain = [planned](const std::string& application_id) {
    return planned->explain(application_id);
  };
  return app;
}

std::vector<SourceInfo> external_sources(const Catalog& catalog, const Topology& topology) {
  std::vector<SourceInfo> out;
  auto read = topology.source_topics();
  for (SourceType type : {SourceType::Table, SourceType::Stream})
    for (const SourceInfo* s : catalog.list(type))
      if (s->source_kind != SourceKind::Kafka &&
          std::find(read.begin(), read.end(), s->topic) != read.end())
        out.push_back(*s);
  return out;
}

std::vector<SourceInfo> declared_topics(const Catalog& catalog, const Topology& topology) {
  std::vector<SourceInfo> out;
  auto read = topology.source_topics();
  auto written = topology.sink_topics();
  for (SourceType type : {SourceType::Table, SourceType::Stream})
    for (const SourceInfo* s : catalog.list(type))
      if (s->source_kind == SourceKind::Kafka && s->partitions > 0 && s->query_id.empty() &&
          std::find(read.begin(), read.end(), s->topic) != read.end() &&
          std::find(written.begin(), written.end(), s->topic) == written.end())
        out.push_back(*s);
  return out;
}

Expected<PlannedApp> plan_file(const std::string& path, const Variables& variables) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Error::fatal(path + ": is a directory, not a SQL file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::fatal(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  auto app = plan_script(text.str(), variables);
  if (!app) return Error::fatal(path + ": " + app.error().message);
  app->source = path;
  return app;
}

std::string unread_at_latest(const PlannedApp& app) {
  std::string what;
  if (!app.inserts.empty())
    what = "its " + std::to_string(app.inserts.size()) + " INSERT INTO ... VALUES row" +
           (app.inserts.size() == 1 ? "" : "s");
  bool files = false;
  for (const auto& s : app.external_sources) files = files || s.source_kind == SourceKind::File;
  if (files)
    what += std::string(what.empty() ? "the" : " and the") + " first load of its file sources";
  if (what.empty()) return what;
  const bool one = app.inserts.size() == 1 && !files;
  return "'auto.offset.reset' is 'latest': " + what + (one ? " is" : " are") +
         " written before its queries start, so its streams begin after " + (one ? "it" : "them") +
         " (tables read everything); set it to 'earliest' for its streams to read " +
         (one ? "it" : "them");
}

Expected<bool> apply_set(Config& config, const std::string& key, const std::string& value) {
  if (is_offset_reset_key(key))  // ksqlDB's spellings of Rivulet's key
    return config.set("auto.offset.reset", to_lower(java_trim(value)));
  if (!is_config_key(key)) return false;
  return config.set(key, value);
}

Expected<Config> app_config(const PlannedApp& app, const std::string& properties_file,
                            const std::vector<std::string>& set_overrides) {
  auto config = Config::load(properties_file, {}, true);
  if (!config) return config.error();
  for (const auto& [k, v] : app.properties) {
    auto ok = apply_set(*config, k, v);
    if (!ok)
      return Error::fatal((app.source.empty() ? std::string() : app.source + ": ") + "SET '" + k +
                          "': " + ok.error().message);
  }
  for (const auto& s : set_overrides) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error::fatal("--set expects key=value, got '" + s + "'");
    auto ok = config->set(s.substr(0, eq), s.substr(eq + 1));
    if (!ok) return ok.error();
  }
  return config;
}

}  // namespace rivulet::sql
