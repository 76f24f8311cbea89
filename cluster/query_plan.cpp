#include "cluster/query_plan.hpp"

#include <algorithm>

#include "connectors/topic_admin.hpp"
#include "sql/app_file.hpp"

namespace rivulet::cluster {

Expected<sql::PlannedApp> plan_query(const std::string& sql) {
  auto app = sql::plan_script(sql);
  if (app && !app->external_sources.empty())
    return Error::fatal("source " + app->external_sources[0].name +
                        ": file and memory sources (WITH (SOURCE='file://...')) run under "
                        "`rivulet run` only, not in a cluster yet");
  // Every node plans the query: a row written by each would be written N times.
  if (app && !app->inserts.empty())
    return Error::fatal("INSERT INTO " + app->inserts[0].target +
                        " ... VALUES runs under `rivulet run` and `rivulet sql` only, not in a "
                        "submitted query: write the rows with `rivulet sql` or any producer");
  return app;
}

Expected<int32_t> query_partitions(const Topology& topology, const Config& config) {
  auto admin = connectors::TopicAdmin::create({{"bootstrap.servers", config.get("bootstrap.servers")}});
  if (!admin) return admin.error();
  auto repartition = topology.repartition_topics();
  int32_t common = 0;
  std::string first;
  for (const auto& topic : topology.source_topics()) {
    if (std::find(repartition.begin(), repartition.end(), topic) != repartition.end()) continue;
    auto n = (*admin)->partition_count(topic);
    if (!n) return n.error();
    if (!*n) return Error::fatal("input topic '" + topic + "' does not exist");
    if (common == 0) {
      common = **n;
      first = topic;
    } else if (**n != common) {
      return Error::fatal("input topics are not co-partitioned: '" + first + "' has " +
                          std::to_string(common) + " partitions, '" + topic + "' has " +
                          std::to_string(**n));
    }
  }
  if (common == 0) return Error::fatal("the query reads no topic");
  return common;
}

}  // namespace rivulet::cluster
