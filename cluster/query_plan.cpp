#include "cluster/query_plan.hpp"

#include <algorithm>

#include "actors/application.hpp"
#include "connectors/topic_admin.hpp"
#include "sql/app_file.hpp"

namespace rivulet::cluster {

std::vector<sql::SourceInfo> file_sources(const sql::PlannedApp& app) {
  std::vector<sql::SourceInfo> files;
  for (const sql::SourceInfo& s : app.external_sources)
    if (s.source_kind == sql::SourceKind::File) files.push_back(s);
  return files;
}

Expected<bool> create_declared_topics(const std::vector<sql::SourceInfo>& sources,
                                      const Config& config) {
  if (sources.empty()) return true;
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", config.get("bootstrap.servers")}});
  if (!admin) return admin.error();
  for (const sql::SourceInfo& s : sources) {
    auto ok = (*admin)->ensure_topic(s.topic, s.partitions);
    if (!ok)
      return Error::fatal(std::string(s.is_table() ? "table " : "stream ") + s.name +
                          " (PARTITIONS=" + std::to_string(s.partitions) +
                          "): " + ok.error().message);
  }
  return true;
}

Expected<bool> create_source_topics(const sql::PlannedApp& app, const Config& config) {
  if (auto declared = create_declared_topics(app.declared_topics, config); !declared)
    return declared.error();
  if (app.external_sources.empty()) return true;
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", config.get("bootstrap.servers")}});
  if (!admin) return admin.error();
  for (const sql::SourceInfo& s : app.external_sources) {
    auto ok = (*admin)->ensure_topic(s.topic, s.partitions > 0 ? s.partitions : 1);
    if (!ok) return ok.error();
  }
  return true;
}

Expected<PartitionPlan> query_partition_plan(const Topology& topology, const Config& config) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", config.get("bootstrap.servers")}});
  if (!admin) return admin.error();
  if (topology.source_topics().empty()) return Error::fatal("the query reads no topic");
  return plan_topology_partitions(topology, **admin);
}

}  // namespace rivulet::cluster
